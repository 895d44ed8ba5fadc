// The Space of a typed grammar (typed_grammar_space.h): the per-rule tables
// the derivation machine reads, and choices, make, parse, slots and size,
// each a replay of decisions on a cursor (typed_cursor.h).
#include "spaces/grammar/typed_grammar_space.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <stdexcept>

#include "base/strings.h"
#include "spaces/bracket.h"
#include "spaces/grammar/typed_cursor.h"
#include "spaces/grammar/typed_machine.h"

namespace sylva {

using einspace::Op;
using einspace::OpRole;
using einspace::Shape;
using typed_grammar::shape_text;
using typed_grammar::TreeNode;

TypedGrammarSpace::TypedGrammarSpace(std::string name, std::string source, Grammar grammar)
    : name_(std::move(name)),
      source_(std::move(source)),
      grammar_(std::move(grammar)),
      stats_(std::make_unique<Stats>()) {
  const int64_t input = einspace::elements(Shape(grammar_.input.begin(), grammar_.input.end()));
  max_activations_ = grammar_.max_memory > 0 ? grammar_.max_memory : kDefaultMemory * input;
  max_activation_ =
      grammar_.max_activation > 0
          ? grammar_.max_activation
          : 1024 * einspace::elements(Shape(grammar_.input.begin(), grammar_.input.end()));
  for (const auto& rule : grammar_.rules) {
    std::vector<std::optional<Op>> per_alt;
    for (const auto& alt : rule.alternatives) {
      const GrammarSymbol& sym = alt.symbols[0];
      per_alt.push_back(alt.constructor == Constructor::kNone && sym.is_primitive
                            ? einspace::op_from_label(sym.name)
                            : std::nullopt);
    }
    ops_.push_back(std::move(per_alt));
  }
  // Fewest nodes each rule and alternative derive (ops are not nodes).
  constexpr int64_t kMany = int64_t{1} << 40;
  min_nodes_.assign(grammar_.rules.size(), kMany);
  auto alt_nodes = [&](const GrammarAlternative& alt) {
    int64_t n = 1;
    for (const auto& sym : alt.symbols) {
      if (!sym.is_primitive) n = std::min(kMany, n + min_nodes_[sym.rule]);
    }
    return n;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < grammar_.rules.size(); ++r) {
      for (const auto& alt : grammar_.rules[r].alternatives) {
        if (alt_nodes(alt) < min_nodes_[r]) {
          min_nodes_[r] = alt_nodes(alt);
          changed = true;
        }
      }
    }
  }
  for (const auto& rule : grammar_.rules) {
    std::vector<int64_t> per_alt;
    // The rule's own node is counted by apply(); its children's here.
    for (const auto& alt : rule.alternatives) per_alt.push_back(alt_nodes(alt) - 1);
    alt_min_nodes_.push_back(per_alt);
  }
  rank_change_nodes_.assign(grammar_.rules.size(), kMany);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < grammar_.rules.size(); ++r) {
      const auto& alts = grammar_.rules[r].alternatives;
      for (size_t a = 0; a < alts.size(); ++a) {
        const int64_t extra = alt_nodes(alts[a]) - min_nodes_[r];
        int64_t below = kMany;
        if (ops_[r][a]) {
          const auto kind = ops_[r][a]->kind;
          if (kind == einspace::Op::kIm2col || kind == einspace::Op::kCol2im) below = 0;
        } else {
          for (const auto& sym : alts[a].symbols) {
            if (!sym.is_primitive) below = std::min(below, rank_change_nodes_[sym.rule]);
          }
        }
        const int64_t n = std::min(kMany, extra + below);
        if (n < rank_change_nodes_[r]) {
          rank_change_nodes_[r] = n;
          changed = true;
        }
      }
    }
  }
  for (const auto& rule : grammar_.rules) {
    std::vector<int> order(rule.alternatives.size());
    std::vector<int> height(order.size(), 1);
    for (size_t a = 0; a < order.size(); ++a) {
      order[a] = static_cast<int>(a);
      for (const auto& sym : rule.alternatives[a].symbols) {
        if (!sym.is_primitive) {
          height[a] = std::max(height[a], 1 + grammar_.rules[sym.rule].min_height);
        }
      }
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](int x, int y) { return height[x] < height[y]; });
    witness_order_.push_back(order);
  }
}

TypedGrammarSpace::~TypedGrammarSpace() = default;

Status TypedGrammarSpace::check_derivable() const {
  const auto& in = grammar_.input;
  auto none = [&](const std::string& why) {
    return Status::invalid_argument(fmt::format(
        "{}: the grammar derives no valid network for a {}x{}x{} input within its budgets{}", name_,
        in[0], in[1], in[2], why.empty() ? "" : ": " + why));
  };
  try {
    Cursor c(*this);
    if (!c.proven()) return none("");
  } catch (const std::invalid_argument& e) {
    return none(e.what());
  }
  return Status::ok();
}

std::unique_ptr<SpaceCursor> TypedGrammarSpace::cursor() const {
  return std::make_unique<Cursor>(*this);
}

namespace {

// Replays decisions; throws std::invalid_argument on an illegal path.
template <typename CursorT>
void replay(CursorT& c, const std::vector<int>& decisions) {
  for (size_t k = 0; k < decisions.size(); ++k) {
    if (c.done()) {
      throw std::invalid_argument(fmt::format(
          "{} decisions given, but the architecture is complete after {}", decisions.size(), k));
    }
    c.choose(decisions[k]);
  }
}

const Shape& node_out(const std::vector<TreeNode>& tree, int n) {
  while (!tree[n].children.empty()) n = tree[n].children.back();
  return tree[n].out;
}

}  // namespace

std::vector<Choice> TypedGrammarSpace::choices(const std::vector<int>& prefix) const {
  Cursor c(*this);
  replay(c, prefix);
  return c.choices();
}

bool TypedGrammarSpace::subtree_closed(const std::vector<int>& prefix, int index) const {
  Cursor c(*this);
  replay(c, prefix);
  return c.subtree_closed(index);
}

namespace {

std::string canonical_of(const Grammar& g, const std::vector<TreeNode>& tree, int n) {
  const TreeNode& t = tree[n];
  const GrammarAlternative& alt = g.rules[t.rule].alternatives[t.alt];
  std::string out = "[" + g.rules[t.rule].name;
  if (alt.constructor == Constructor::kNone && alt.symbols[0].is_primitive) {
    out += " " + alt.symbols[0].name;
  }
  for (int c : t.children) out += " " + canonical_of(g, tree, c);
  return out + "]";
}

}  // namespace

StatusOr<Architecture> TypedGrammarSpace::make(const std::vector<int>& decisions) const {
  Cursor c(*this);
  try {
    replay(c, decisions);
  } catch (const std::invalid_argument& e) {
    return Status::invalid_argument(
        fmt::format("not an architecture of space '{}': {}", name_, e.what()));
  }
  if (!c.done()) {
    return Status::invalid_argument(
        fmt::format("not an architecture of space '{}': {} decisions given, more needed", name_,
                    decisions.size()));
  }
  c.machine().explain(true);
  if (!c.machine().complete_ok()) {
    return Status::invalid_argument(
        fmt::format("not an architecture of space '{}': {}", name_, c.machine().failure()));
  }
  const auto& tree = c.machine().tree();
  Architecture arch;
  arch.decisions = decisions;
  for (int n : c.decision_nodes()) {
    arch.labels.push_back(grammar_.rules[tree[n].rule].alternatives[tree[n].alt].label);
  }
  for (const TreeNode& t : tree) {
    const GrammarAlternative& alt = grammar_.rules[t.rule].alternatives[t.alt];
    if (alt.constructor == Constructor::kNone && alt.symbols[0].is_primitive) {
      arch.primitives.push_back(alt.symbols[0].name);
    }
  }
  arch.key = join(arch.labels, "/");
  arch.canonical = canonical_of(grammar_, tree, 0);
  arch.hash = fnv1a64(arch.canonical);
  return arch;
}

StatusOr<TypedGrammarSpace::Size> TypedGrammarSpace::size(const std::vector<int>& decisions) const {
  Cursor c(*this);
  try {
    replay(c, decisions);
  } catch (const std::invalid_argument& e) {
    return Status::invalid_argument(e.what());
  }
  if (!c.done()) return Status::invalid_argument("the architecture is not complete");
  return Size{c.machine().params() + c.machine().head_params(), c.machine().nodes(),
              c.machine().activations()};
}

StatusOr<TypedGrammarSpace::Cost> TypedGrammarSpace::cost(const std::vector<int>& decisions) const {
  Cursor c(*this);
  try {
    replay(c, decisions);
  } catch (const std::invalid_argument& e) {
    return Status::invalid_argument(e.what());
  }
  if (!c.done()) return Status::invalid_argument("the architecture is not complete");
  const auto& tree = c.machine().tree();
  Cost cost;
  cost.params = c.machine().params() + c.machine().head_params();
  for (const TreeNode& t : tree) {
    const auto& op = ops_[t.rule][t.alt];
    if (!op) continue;
    switch (op->kind) {
      case Op::kLinear:
      case Op::kLinearTimes:
      case Op::kLinearDiv:
        // Also a fused route(im2col, linear, col2im): a Conv2d with the same
        // weights does the same multiplications.
        cost.flops += einspace::elements(t.out) * t.in.back() * t.mult;
        break;
      case Op::kDotProduct:
      case Op::kScaledDotProduct:
        // a [.., m, k] @ b [.., k, n]: k for each of the m n outputs; `in`
        // is a, the output's last axis n.
        cost.flops += einspace::elements(t.in) * t.out.back() * t.mult;
        break;
      default:
        break;
    }
  }
  // The head: a linear layer from C (im) or S (col) to the classes.
  cost.flops += c.machine().cur()[0] * grammar_.classes;
  return cost;
}

std::map<std::string, double> TypedGrammarSpace::known_metrics(
    const std::vector<int>& decisions) const {
  auto c = cost(decisions);
  if (!c.is_ok()) return {};
  return {{"params", static_cast<double>(c.value().params)},
          {"flops", static_cast<double>(c.value().flops)}};
}

std::vector<DecisionSlot> TypedGrammarSpace::slots(const std::vector<int>& decisions) const {
  Cursor c(*this);
  replay(c, decisions);
  const auto& tree = c.machine().tree();
  std::vector<DecisionSlot> out(decisions.size());
  // Pre-order numbering makes a subtree's decisions contiguous.
  std::function<int(int, int)> walk = [&](int node, int next) -> int {
    const TreeNode& n = tree[node];
    int end = n.decision >= 0 ? n.decision + 1 : next;
    for (int child : n.children) end = walk(child, end);
    if (n.decision >= 0) {
      out[n.decision] = {fmt::format("{} {}>{}", grammar_.rules[n.rule].name, shape_text(n.in),
                                     shape_text(node_out(tree, node))),
                         end};
    }
    return end;
  };
  walk(0, 0);
  return out;
}

namespace {

// Blanks '#' comments (to the end of the line) so that positions stay put.
std::string without_comments(std::string text) {
  bool comment = false;
  for (char& ch : text) {
    if (ch == '\n') {
      comment = false;
    } else if (ch == '#') {
      comment = true;
    }
    if (comment) ch = ' ';
  }
  return text;
}

Status error_at(const BracketNode& n, const std::string& what) {
  return Status::at({"canonical form", 0, n.col}, what);
}

// The rule each child of bracket node `n` must derive if `n` is alternative
// `alt` (-1: an op), into `kids`; left empty when no child count of `alt`
// is that of `n`. An error when `n` splits into branches whose count its M
// children contradict.
Status expected_children(const GrammarAlternative& alt, const BracketNode& n,
                         std::vector<int>* kids) {
  if (alt.constructor == Constructor::kBranch) {
    // Two branches have two M children, four or eight one shared M.
    const BracketNode& b = n.children.empty() ? n : n.children[0];
    std::optional<Op> split;
    if (b.children.size() == 1 && b.children[0].is_op)
      split = einspace::op_from_label(b.children[0].name);
    if (split && split->role() == OpRole::kBranching &&
        (einspace::branch_factor(*split) == 2) != (n.children.size() == 4)) {
      return error_at(n,
                      fmt::format("{} makes {} branches, so '[{} ...]' takes {} M children, got {}",
                                  split->label(), einspace::branch_factor(*split), n.name,
                                  einspace::branch_factor(*split) == 2 ? 2 : 1,
                                  static_cast<int>(n.children.size()) - 2));
    }
    if (n.children.size() == 3 || n.children.size() == 4) {
      *kids = {alt.symbols[0].rule, alt.symbols[1].rule};
      if (n.children.size() == 4) kids->push_back(alt.symbols[1].rule);
      kids->push_back(alt.symbols[2].rule);
    }
  } else if (alt.constructor != Constructor::kNone) {
    for (const auto& sym : alt.symbols) kids->push_back(sym.rule);
  } else {
    *kids = {alt.symbols[0].is_primitive ? -1 : alt.symbols[0].rule};
  }
  return Status::ok();
}

// Whether the children of `n` are what `kids` expects.
bool children_match(const Grammar& g, const GrammarAlternative& alt, const std::vector<int>& kids,
                    const BracketNode& n) {
  if (kids.size() != n.children.size()) return false;
  bool match = true;
  for (size_t i = 0; i < kids.size() && match; ++i) {
    const BracketNode& ch = n.children[i];
    match = kids[i] < 0 ? ch.is_op && ch.name == alt.symbols[0].name
                        : !ch.is_op && ch.name == g.rules[kids[i]].name;
  }
  return match;
}

// Appends the grammar alternative of every decision node of `n`, a
// derivation of `rule`, in pre-order to `codes`, and its column to `cols`.
Status decode(const Grammar& g, const BracketNode& n, int rule, std::vector<int>* codes,
              std::vector<int>* cols) {
  const GrammarRule& r = g.rules[rule];
  if (n.is_op || n.name != r.name) {
    return error_at(n, fmt::format("expected '[{} ...]', got '{}'", r.name,
                                   quote_cut(n.is_op ? n.name : "[" + n.name + " ...]")));
  }
  for (size_t a = 0; a < r.alternatives.size(); ++a) {
    const GrammarAlternative& alt = r.alternatives[a];
    std::vector<int> kids;
    Status s = expected_children(alt, n, &kids);
    if (!s.is_ok()) return s;
    if (!children_match(g, alt, kids, n)) continue;
    if (r.alternatives.size() > 1) {
      codes->push_back(static_cast<int>(a));
      cols->push_back(n.col);
    }
    for (size_t i = 0; i < kids.size(); ++i) {
      if (kids[i] < 0) continue;
      s = decode(g, n.children[i], kids[i], codes, cols);
      if (!s.is_ok()) return s;
    }
    return Status::ok();
  }
  std::vector<std::string> got;
  for (const auto& ch : n.children) got.push_back(ch.is_op ? ch.name : "[" + ch.name + " ...]");
  std::vector<std::string> want;
  for (const auto& alt : r.alternatives) want.push_back(alt.label);
  return error_at(n, fmt::format("rule '{}' has no alternative '{}' (alternatives: {})", r.name,
                                 quote_cut(join(got, " ")), quote_cut(join(want, " | "), 300)));
}

}  // namespace

StatusOr<Architecture> TypedGrammarSpace::parse(const std::string& raw) const {
  const std::string text = without_comments(raw);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '[') {
    return parse_key_with_cursor(*this, raw);
  }
  auto tree = parse_bracket(text);
  if (!tree.is_ok()) return tree.status();
  // The grammar alternative of every decision node, in pre-order.
  std::vector<int> codes;
  std::vector<int> cols;  // of each code's node
  Status s = decode(grammar_, tree.value(), 0, &codes, &cols);
  if (!s.is_ok()) return s;
  // Decisions are the grammar alternatives; each is checked as it applies.
  Cursor c(*this);
  for (size_t k = 0; k < codes.size(); ++k) {
    try {
      c.choose(codes[k]);
    } catch (const std::invalid_argument& e) {
      return Status::at({"canonical form", 0, cols[k]},
                        fmt::format("not valid here: {}", e.what()));
    }
  }
  auto arch = make(codes);
  if (!arch.is_ok()) return arch.status().prefixed("canonical form: ");
  return arch;
}

}  // namespace sylva
