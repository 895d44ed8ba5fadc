#include "spaces/bracket.h"

#include <fmt/format.h>

#include <cctype>

namespace sylva {
namespace {

class BracketParser {
 public:
  explicit BracketParser(const std::string& text) : text_(text) {}

  StatusOr<BracketNode> parse() {
    skip();
    BracketNode root;
    Status s = node(&root);
    if (!s.is_ok()) return s;
    skip();
    if (pos_ != text_.size()) return fail("unexpected text after the closing ']'");
    return root;
  }

 private:
  Status fail(const std::string& what) const {
    return Status::at({"canonical form", 0, static_cast<int>(pos_) + 1}, what);
  }
  int column() const { return static_cast<int>(pos_) + 1; }
  void skip() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::string word() {
    size_t start = pos_;
    while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) &&
           text_[pos_] != '[' && text_[pos_] != ']') {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  Status node(BracketNode* out) {
    if (pos_ >= text_.size() || text_[pos_] != '[') return fail("expected '['");
    if (++depth_ > kMaxBracketDepth) {
      return fail(fmt::format("brackets nested deeper than {} levels", kMaxBracketDepth));
    }
    out->col = column();
    ++pos_;
    skip();
    out->name = word();
    if (out->name.empty()) return fail("expected a rule name after '['");
    while (true) {
      skip();
      if (pos_ >= text_.size()) return fail("expected ']' before the end");
      if (text_[pos_] == ']') {
        ++pos_;
        --depth_;
        return Status::ok();
      }
      BracketNode child;
      if (text_[pos_] == '[') {
        Status s = node(&child);
        if (!s.is_ok()) return s;
      } else {
        child.col = column();
        child.name = word();
        child.is_op = true;
      }
      out->children.push_back(std::move(child));
    }
  }

  const std::string& text_;
  size_t pos_ = 0;
  int depth_ = 0;  // of the node being read
};

}  // namespace

StatusOr<BracketNode> parse_bracket(const std::string& text) { return BracketParser(text).parse(); }

std::string format_bracket(const BracketNode& node) {
  if (node.is_op) return node.name;
  std::string out = "[" + node.name;
  for (const BracketNode& child : node.children) out += " " + format_bracket(child);
  return out + "]";
}

}  // namespace sylva
