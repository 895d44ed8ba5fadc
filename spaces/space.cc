// The Space interface's default implementations, for spaces that have
// nothing better: flat slots, subtree_closed by probing, and a cursor that
// replays the prefix at each step.
#include "spaces/space.h"

#include <fmt/format.h>

#include <stdexcept>

#include "base/strings.h"

namespace sylva {
namespace {

class ReplayCursor : public SpaceCursor {
 public:
  explicit ReplayCursor(const Space& space) : space_(space), choices_(space.choices({})) {}
  const std::vector<Choice>& choices() const override { return choices_; }
  void choose(int index) override {
    if (index < 0 || index >= static_cast<int>(choices_.size())) {
      throw std::invalid_argument(
          fmt::format("choice {} of {} at decision {}", index, choices_.size(), decisions_.size()));
    }
    decisions_.push_back(index);
    choices_ = space_.choices(decisions_);
  }
  const std::vector<int>& decisions() const override { return decisions_; }
  bool subtree_closed(int index) const override { return space_.subtree_closed(decisions_, index); }

 private:
  const Space& space_;
  std::vector<Choice> choices_;
  std::vector<int> decisions_;
};

}  // namespace

std::vector<DecisionSlot> Space::slots(const std::vector<int>& decisions) const {
  std::vector<DecisionSlot> out(decisions.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = {"d" + std::to_string(i), static_cast<int>(i) + 1};
  }
  return out;
}

bool Space::subtree_closed(const std::vector<int>& prefix, int index) const {
  std::vector<int> full = prefix;
  while (!choices(full).empty()) full.push_back(0);
  return slots(full)[index].end == static_cast<int>(prefix.size());
}

std::vector<Choice> uniform_choices(const std::vector<std::string>& labels,
                                    const std::function<bool(size_t)>& open) {
  std::vector<char> ok;
  int allowed = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    ok.push_back(open(i));
    allowed += ok.back();
  }
  std::vector<Choice> out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.push_back({labels[i], ok[i] ? 1.0 / allowed : 0.0});
  }
  return out;
}

std::vector<double> Space::encode(const std::vector<int>& decisions) const {
  std::vector<double> out;
  auto c = cursor();
  for (int d : decisions) {
    const size_t n = c->choice_count();
    const size_t at = out.size();
    out.resize(at + n, 0.0);
    out[at + static_cast<size_t>(d)] = 1;
    c->choose(d);
  }
  return out;
}

std::unique_ptr<SpaceCursor> Space::cursor() const { return std::make_unique<ReplayCursor>(*this); }

}  // namespace sylva

namespace sylva {

StatusOr<Architecture> parse_key_with_cursor(const Space& space, const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = text.find('/', start);
    parts.push_back(
        text.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  auto cursor = space.cursor();
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& ch = cursor->choices();
    if (ch.empty()) {
      return Status::invalid_argument(
          fmt::format("key '{}' has {} parts, but architectures of '{}' have {} decisions",
                      quote_cut(text), parts.size(), space.name(), i));
    }
    int found = -1;
    std::vector<std::string> labels;
    for (size_t c = 0; c < ch.size(); ++c) {
      labels.push_back(ch[c].label);
      if (ch[c].label == parts[i]) found = static_cast<int>(c);
    }
    if (found < 0) {
      return Status::invalid_argument(
          fmt::format("key '{}': part {} '{}' is not a choice there (choices: {})", quote_cut(text),
                      i + 1, quote_cut(parts[i]), join(labels, ", ")));
    }
    cursor->choose(found);
  }
  if (!cursor->choices().empty()) {
    return Status::invalid_argument(
        fmt::format("key '{}' ends after {} parts, but more decisions follow in '{}'",
                    quote_cut(text), parts.size(), space.name()));
  }
  return space.make(cursor->decisions());
}

}  // namespace sylva
