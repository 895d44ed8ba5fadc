#include "spaces/grammar/grammar_space.h"

#include <fmt/format.h>

#include <cctype>
#include <functional>
#include <stdexcept>

#include "base/strings.h"
#include "spaces/bracket.h"

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

// The derivation, expanded leftmost-first up to the next decision. derive()
// replays a prefix through it; samplers keep one and step it.
class GrammarSpace::Cursor : public SpaceCursor {
 public:
  explicit Cursor(const GrammarSpace& space) : space_(space) {
    d_.nodes.push_back(Node());
    stack_.push_back(0);
    advance();
  }

  const std::vector<Choice>& choices() const override { return d_.open; }

  void choose(int index) override {
    if (d_.complete) {
      throw std::invalid_argument(
          fmt::format("the architecture is complete after {} decisions; no decision is open",
                      decisions_.size()));
    }
    const GrammarRule& rule = space_.grammar_.rules[d_.nodes[open_].rule];
    if (index < 0 || index >= static_cast<int>(legal_.size())) {
      throw std::invalid_argument(
          fmt::format("decision {} of rule '{}' is {}, but it has {} choices", decisions_.size(),
                      rule.name, index, legal_.size()));
    }
    const int a = legal_[index];
    d_.nodes[open_].decision = static_cast<int>(decisions_.size());
    decision_nodes_.push_back(open_);
    decisions_.push_back(index);
    d_.labels.push_back(rule.alternatives[a].label);
    d_.open.clear();
    expand(open_, a);
    advance();
  }

  const std::vector<int>& decisions() const override { return decisions_; }

  // Leftmost-first, a decision's subtree is finished exactly when the open
  // node is not below it.
  bool subtree_closed(int index) const override {
    const int x = decision_nodes_.at(index);
    for (int n = open_; n >= 0; n = d_.nodes[n].parent) {
      if (n == x) return false;
    }
    return true;
  }

  const Derivation& derivation() const { return d_; }

 private:
  // Expands single-alternative rules until a decision opens or nothing is left.
  void advance() {
    while (!stack_.empty()) {
      const int n = stack_.back();
      stack_.pop_back();
      const GrammarRule& rule = space_.grammar_.rules[d_.nodes[n].rule];
      if (rule.alternatives.size() > 1) {
        legal_ = space_.allowed(d_.nodes[n].rule, d_.nodes[n].depth);
        double total = 0;
        for (int i : legal_) total += rule.alternatives[i].prior;
        for (int i : legal_) {
          d_.open.push_back({rule.alternatives[i].label, rule.alternatives[i].prior / total});
        }
        open_ = n;
        return;
      }
      expand(n, 0);
    }
    open_ = -1;
    d_.complete = true;
  }

  void expand(int n, int a) {
    d_.nodes[n].alt = a;
    std::vector<int> children;
    for (const auto& sym : space_.grammar_.rules[d_.nodes[n].rule].alternatives[a].symbols) {
      if (sym.is_primitive) {
        children.push_back(-1);
      } else {
        children.push_back(static_cast<int>(d_.nodes.size()));
        Node child;
        child.rule = sym.rule;
        child.depth = d_.nodes[n].depth + 1;
        child.parent = n;
        d_.nodes.push_back(child);
      }
    }
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      if (*it >= 0) stack_.push_back(*it);
    }
    d_.nodes[n].children = std::move(children);
  }

  const GrammarSpace& space_;
  Derivation d_;
  std::vector<int> stack_;  // nodes still to expand, leftmost on top
  int open_ = -1;           // node of the open decision; -1 when complete
  std::vector<int> legal_;  // its alternatives that fit, by choice index
  std::vector<int> decisions_;
  std::vector<int> decision_nodes_;  // decision index -> node
};

GrammarSpace::Derivation GrammarSpace::derive(const std::vector<int>& prefix) const {
  Cursor c(*this);
  for (size_t k = 0; k < prefix.size(); ++k) {
    if (c.choices().empty()) {
      throw std::invalid_argument(fmt::format(
          "{} decisions given, but the architecture is complete after {}", prefix.size(), k));
    }
    c.choose(prefix[k]);
  }
  return c.derivation();
}

std::unique_ptr<SpaceCursor> GrammarSpace::cursor() const {
  return std::make_unique<Cursor>(*this);
}

bool GrammarSpace::subtree_closed(const std::vector<int>& prefix, int index) const {
  Cursor c(*this);
  for (int idx : prefix) c.choose(idx);
  return c.subtree_closed(index);
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
    return Status::invalid_argument(
        fmt::format("not an architecture of space '{}': {}", name_, e.what()));
  }
  if (!d.complete) {
    return Status::invalid_argument(
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
  return parse_key_with_cursor(*this, text);
}

StatusOr<Architecture> GrammarSpace::parse_canonical(const std::string& text) const {
  auto tree = parse_bracket(text);
  if (!tree.is_ok()) return tree.status();
  std::vector<int> decisions;
  // Walk the tree in the derivation's order (pre-order, left to right).
  std::function<Status(const BracketNode&, int, int)> walk = [&](const BracketNode& n, int rule,
                                                                 int depth) -> Status {
    const GrammarRule& r = grammar_.rules[rule];
    if (n.name != r.name) {
      return Status::invalid_argument(
          fmt::format("canonical form: expected rule '{}', got '{}'", r.name, quote_cut(n.name)));
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
      return Status::invalid_argument(
          fmt::format("canonical form: '{}' has no alternative '{}' at depth {}", r.name,
                      quote_cut(join(got, " ")), depth));
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
