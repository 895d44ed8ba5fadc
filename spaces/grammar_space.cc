#include "spaces/grammar_space.h"

#include <fmt/format.h>

#include <cctype>
#include <functional>
#include <stdexcept>

namespace sylva {

GrammarSpace::GrammarSpace(std::string name, std::string source, Grammar grammar)
    : name_(std::move(name)), source_(std::move(source)), grammar_(std::move(grammar)) {}

std::vector<int> GrammarSpace::allowed(int rule, int depth) const {
  std::vector<int> out;
  const auto& alts = grammar_.rules[rule].alternatives;
  for (int a = 0; a < static_cast<int>(alts.size()); ++a) {
    bool fits = true;
    for (const auto& sym : alts[a].symbols) {
      if (!sym.is_primitive && depth + grammar_.rules[sym.rule].min_height > grammar_.max_depth) {
        fits = false;
      }
    }
    if (fits) out.push_back(a);
  }
  return out;
}

GrammarSpace::Derivation GrammarSpace::derive(const std::vector<int>& prefix) const {
  Derivation d;
  d.nodes.push_back(Node{0, -1, 1, -1, {}});
  std::vector<int> stack = {0};
  size_t k = 0;
  while (!stack.empty()) {
    int n = stack.back();
    stack.pop_back();
    const GrammarRule& rule = grammar_.rules[d.nodes[n].rule];
    std::vector<int> legal = allowed(d.nodes[n].rule, d.nodes[n].depth);
    int a = 0;
    if (rule.alternatives.size() > 1) {
      if (k == prefix.size()) {
        double total = 0;
        for (int i : legal) total += rule.alternatives[i].prior;
        for (int i : legal)
          d.open.push_back({rule.alternatives[i].label, rule.alternatives[i].prior / total});
        return d;
      }
      d.nodes[n].decision = static_cast<int>(k);
      int idx = prefix[k++];
      if (idx < 0 || idx >= static_cast<int>(legal.size())) {
        throw std::invalid_argument(
            fmt::format("decision {} of rule '{}' is {}, but it has {} choices", k - 1, rule.name,
                        idx, legal.size()));
      }
      a = legal[idx];
      d.labels.push_back(rule.alternatives[a].label);
    }
    d.nodes[n].alt = a;
    std::vector<int> children;
    for (const auto& sym : rule.alternatives[a].symbols) {
      if (sym.is_primitive) {
        children.push_back(-1);
      } else {
        children.push_back(static_cast<int>(d.nodes.size()));
        d.nodes.push_back(Node{sym.rule, -1, d.nodes[n].depth + 1, -1, {}});
      }
    }
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      if (*it >= 0) stack.push_back(*it);
    }
    d.nodes[n].children = std::move(children);
  }
  if (k != prefix.size()) {
    throw std::invalid_argument(fmt::format(
        "{} decisions given, but the architecture is complete after {}", prefix.size(), k));
  }
  d.complete = true;
  return d;
}

std::vector<Choice> GrammarSpace::choices(const std::vector<int>& prefix) const {
  return derive(prefix).open;
}

std::string GrammarSpace::canonical(const Derivation& d, int node) const {
  const Node& n = d.nodes[node];
  const GrammarRule& rule = grammar_.rules[n.rule];
  std::string out = "[" + rule.name;
  const auto& syms = rule.alternatives[n.alt].symbols;
  for (size_t i = 0; i < syms.size(); ++i) {
    out += ' ';
    out += syms[i].is_primitive ? syms[i].name : canonical(d, n.children[i]);
  }
  return out + "]";
}

void GrammarSpace::collect_primitives(const Derivation& d, int node,
                                      std::vector<std::string>* out) const {
  const Node& n = d.nodes[node];
  const auto& syms = grammar_.rules[n.rule].alternatives[n.alt].symbols;
  for (size_t i = 0; i < syms.size(); ++i) {
    if (syms[i].is_primitive) {
      out->push_back(syms[i].name);
    } else {
      collect_primitives(d, n.children[i], out);
    }
  }
}

StatusOr<Architecture> GrammarSpace::make(const std::vector<int>& decisions) const {
  Derivation d;
  try {
    d = derive(decisions);
  } catch (const std::invalid_argument& e) {
    return Status::error(fmt::format("not an architecture of space '{}': {}", name_, e.what()));
  }
  if (!d.complete) {
    return Status::error(
        fmt::format("not an architecture of space '{}': {} decisions given, more needed", name_,
                    decisions.size()));
  }
  Architecture arch;
  arch.decisions = decisions;
  arch.labels = d.labels;
  arch.key = join(d.labels, "/");
  arch.canonical = canonical(d, 0);
  collect_primitives(d, 0, &arch.primitives);
  arch.hash = fnv1a64(arch.canonical);
  return arch;
}

std::vector<DecisionSlot> GrammarSpace::slots(const std::vector<int>& decisions) const {
  const Derivation d = derive(decisions);
  std::vector<DecisionSlot> out(decisions.size());
  // Pre-order numbering makes a subtree's decisions contiguous: a node's
  // range ends where the last decision below it ends.
  std::function<int(int, int)> walk = [&](int node, int next) -> int {
    const Node& n = d.nodes[node];
    int end = n.decision >= 0 ? n.decision + 1 : next;
    for (int child : n.children) {
      if (child >= 0) end = walk(child, end);
    }
    if (n.decision >= 0) out[n.decision] = {grammar_.rules[n.rule].name, end};
    return end;
  };
  walk(0, 0);
  return out;
}

StatusOr<Architecture> GrammarSpace::parse(const std::string& text) const {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') return parse_canonical(text);
  return parse_key(text);
}

StatusOr<Architecture> GrammarSpace::parse_key(const std::string& text) const {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = text.find('/', start);
    parts.push_back(
        text.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::vector<int> prefix;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto ch = choices(prefix);
    if (ch.empty()) {
      return Status::error(
          fmt::format("key '{}' has {} parts, but architectures of '{}' have {} decisions", text,
                      parts.size(), name_, i));
    }
    int found = -1;
    std::vector<std::string> labels;
    for (size_t c = 0; c < ch.size(); ++c) {
      labels.push_back(ch[c].label);
      if (ch[c].label == parts[i]) found = static_cast<int>(c);
    }
    if (found < 0) {
      return Status::error(fmt::format("key '{}': part {} '{}' is not a choice there (choices: {})",
                                       text, i + 1, parts[i], join(labels, ", ")));
    }
    prefix.push_back(found);
  }
  auto ch = choices(prefix);
  if (!ch.empty()) {
    return Status::error(
        fmt::format("key '{}' ends after {} parts, but more decisions follow in '{}'", text,
                    parts.size(), name_));
  }
  return make(prefix);
}

namespace {

// A parsed bracket tree: [name child child ...]; an op child has no children.
struct BracketNode {
  std::string name;
  bool is_op = false;
  std::vector<BracketNode> children;
};

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
    return Status::error(fmt::format("canonical form, column {}: {}", pos_ + 1, what));
  }
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
    ++pos_;
    skip();
    out->name = word();
    if (out->name.empty()) return fail("expected a rule name after '['");
    while (true) {
      skip();
      if (pos_ >= text_.size()) return fail("expected ']' before the end");
      if (text_[pos_] == ']') {
        ++pos_;
        return Status::ok();
      }
      BracketNode child;
      if (text_[pos_] == '[') {
        Status s = node(&child);
        if (!s.is_ok()) return s;
      } else {
        child.name = word();
        child.is_op = true;
      }
      out->children.push_back(std::move(child));
    }
  }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

StatusOr<Architecture> GrammarSpace::parse_canonical(const std::string& text) const {
  auto tree = BracketParser(text).parse();
  if (!tree.is_ok()) return tree.status();
  std::vector<int> decisions;
  // Walk the tree in the derivation's order (pre-order, left to right).
  std::function<Status(const BracketNode&, int, int)> walk = [&](const BracketNode& n, int rule,
                                                                 int depth) -> Status {
    const GrammarRule& r = grammar_.rules[rule];
    if (n.name != r.name) {
      return Status::error(
          fmt::format("canonical form: expected rule '{}', got '{}'", r.name, n.name));
    }
    std::vector<int> legal = allowed(rule, depth);
    int chosen = -1;
    for (size_t li = 0; li < legal.size() && chosen < 0; ++li) {
      const auto& syms = r.alternatives[legal[li]].symbols;
      if (syms.size() != n.children.size()) continue;
      bool match = true;
      for (size_t i = 0; i < syms.size() && match; ++i) {
        match = syms[i].is_primitive == n.children[i].is_op && syms[i].name == n.children[i].name;
      }
      if (match) chosen = static_cast<int>(li);
    }
    if (chosen < 0) {
      std::vector<std::string> got;
      for (const auto& c : n.children) got.push_back(c.name);
      return Status::error(fmt::format("canonical form: '{}' has no alternative '{}' at depth {}",
                                       r.name, join(got, " "), depth));
    }
    if (r.alternatives.size() > 1) decisions.push_back(chosen);
    const auto& syms = r.alternatives[legal[chosen]].symbols;
    for (size_t i = 0; i < syms.size(); ++i) {
      if (!syms[i].is_primitive) {
        Status s = walk(n.children[i], syms[i].rule, depth + 1);
        if (!s.is_ok()) return s;
      }
    }
    return Status::ok();
  };
  Status s = walk(tree.value(), 0, 1);
  if (!s.is_ok()) return s;
  return make(decisions);
}

}  // namespace sylva
