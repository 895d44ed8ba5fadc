#include "spaces/grammar/typed_grammar_space.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "spaces/bracket.h"

namespace sylva {

using einspace::Fold;
using einspace::Op;
using einspace::OpRole;
using einspace::Shape;

namespace {

// Steps one witness search may take before the choice it tests is dropped,
// and the steps all the searches of one derivation may take; past that, each
// search gets only kSpentSteps, so that no derivation runs long. (Measured on
// einspace: half of the completions are found in 8 steps, 90% in 120.)
constexpr int kWitnessSteps = 256;
constexpr int64_t kDerivationSteps = 200000;
constexpr int kSpentSteps = 16;
// Each alternative's search where none was found (only after a choice of a
// hand-written tree that no search had proved).
constexpr int kRescueSteps = 20000;

std::string shape_text(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

// Work still to do, innermost last. A rule frame expands a rule with the
// current tensor; a branch-end frame collects a branch's output.
struct Frame {
  enum Kind : uint8_t { kRule, kBranchEnd } kind = kRule;
  int rule = -1;
  int depth = 1;
  int parent = -1;   // tree node that owns it (cursor only)
  int link = -1;     // P -> its R frame; B and branch ends -> the A frame
  int which = 0;     // branch end: 1 or 2 of two branches, 0 for a shared M
  int64_t mult = 1;  // copies of this subtree in the network (shared branches)
  // The A frame of a branch: what B decided and what the branches gave.
  int m_rule = -1;
  int phase = 0;  // 1: first (or shared) branch running, 2: second, 3: done
  int64_t factor = 0;
  Shape piece, out1, out2;
  int b1_start = 0, b2_start = 0;  // decision index where each branch began
  // Branch 1: counters at its start, then its cost; branch 2: at its start.
  int64_t nodes1 = 0, params1 = 0, acts1 = 0;
  int64_t nodes2 = 0, params2 = 0, acts2 = 0;
  // The R frame of a route: the plane its P unfolded (im2col only).
  Fold fold;
  bool has_fold = false;
};

struct TreeNode {
  int rule = -1;
  int alt = -1;
  int parent = -1;
  int depth = 1;
  int decision = -1;
  Shape in, out;  // out: for op nodes; others take their last child's
  std::vector<int> children;
};

}  // namespace

// The derivation as a stack machine. apply() and undo() let the witness
// search walk completions on the live state without copying it.
class TypedGrammarSpace::Machine {
 public:
  enum Failure { kShape, kDepth, kBudget };

  struct Undo {
    Frame popped;
    size_t size_before = 0;
    int touched = -1;
    Frame touched_old;
    Shape cur;
    int64_t nodes = 0, params = 0, acts = 0, pending = 0;
    bool pushed_alt = false;
    std::vector<Frame> truncated;  // frames a copy jump removed
  };

  Machine(const TypedGrammarSpace& space, bool record)
      : s_(space), g_(space.grammar_), record_(record) {
    cur_ = Shape(g_.input.begin(), g_.input.end());
    Frame f;
    push(f, 0);
  }

  const Grammar& grammar() const { return g_; }
  bool done() const { return stack_.empty(); }
  const Frame& top() const { return stack_.back(); }
  bool is_decision(int rule) const { return g_.rules[rule].alternatives.size() > 1; }
  const std::vector<int>& alts() const { return alts_; }
  const std::vector<TreeNode>& tree() const { return tree_; }
  TreeNode& tree_at(int n) { return tree_[n]; }
  int64_t nodes() const { return nodes_; }
  int64_t params() const { return params_; }
  int64_t activations() const { return acts_; }
  const Shape& cur() const { return cur_; }
  const std::string& failure() const { return failure_; }
  void explain(bool on) { explain_ = on; }

  // The head pools to C (im) or S (col), then a linear layer to the classes.
  int64_t head_params() const { return (cur_[0] + 1) * g_.classes; }

  // Whether a finished derivation fits the parameter budget with its head.
  bool complete_ok() {
    if (g_.max_params > 0 && params_ + head_params() > g_.max_params) {
      return fail(kBudget, [&] {
        return fmt::format("with the classifier head, {} parameters exceed %max-params {}",
                           params_ + head_params(), g_.max_params);
      });
    }
    return true;
  }

  // Pops the top branch-end frame.
  void branch_end(Undo* u) {
    begin(u);
    const Frame f = u->popped;
    touch(f.link, u);
    Frame& a = stack_[f.link];
    if (f.which == 1) {
      a.out1 = cur_;
      a.phase = 2;
      a.nodes1 = nodes_ - a.nodes1;
      a.params1 = params_ - a.params1;
      a.acts1 = acts_ - a.acts1;
      a.b2_start = static_cast<int>(alts_.size());
      a.nodes2 = nodes_;
      a.params2 = params_;
      a.acts2 = acts_;
      cur_ = a.piece;
    } else {
      (f.which == 2 ? a.out2 : a.out1) = cur_;
      if (f.which == 0) a.out2 = cur_;
      a.phase = 3;
    }
  }

  // Expands the top rule frame with alternative `alt`. false: not valid here
  // (the state is then half-changed; undo() restores it either way).
  bool apply(int alt, Undo* u) {
    begin(u);
    const Frame f = u->popped;
    const GrammarRule& rule = g_.rules[f.rule];
    const GrammarAlternative& a = rule.alternatives[alt];
    nodes_ += f.mult;  // a shared branch's module is built once per branch
    if (is_decision(f.rule)) {
      alts_.push_back(alt);
      u->pushed_alt = true;
    }
    for (const auto& sym : a.symbols) {
      if (!sym.is_primitive && f.depth + g_.rules[sym.rule].min_height > g_.max_depth) {
        return fail(kDepth, [&] {
          return fmt::format("'{}' does not fit in %max-depth {} at depth {}", a.label,
                             g_.max_depth, f.depth);
        });
      }
    }
    if (!nodes_fit(s_.alt_min_nodes_[f.rule][alt] * f.mult)) return false;
    int node = -1;
    if (record_) {
      node = static_cast<int>(tree_.size());
      TreeNode t;
      t.rule = f.rule;
      t.alt = alt;
      t.parent = f.parent;
      t.depth = f.depth;
      t.in = rule.role == RuleRole::kAggregation ? f.out1 : cur_;
      if (f.parent >= 0) tree_[f.parent].children.push_back(node);
      tree_.push_back(std::move(t));
    }
    Frame child;
    child.depth = f.depth + 1;
    child.parent = node;
    child.mult = f.mult;
    switch (a.constructor) {
      case Constructor::kSequential:
        push(child, a.symbols[1].rule);
        push(child, a.symbols[0].rule);
        return true;
      case Constructor::kRoute: {
        push(child, a.symbols[2].rule);
        const int post = static_cast<int>(stack_.size()) - 1;
        push(child, a.symbols[1].rule);
        child.link = post;
        push(child, a.symbols[0].rule);
        return true;
      }
      case Constructor::kBranch: {
        Frame agg = child;
        agg.m_rule = a.symbols[1].rule;
        push(agg, a.symbols[2].rule);
        child.link = static_cast<int>(stack_.size()) - 1;
        push(child, a.symbols[0].rule);
        return true;
      }
      case Constructor::kNone:
        break;
    }
    const GrammarSymbol& sym = a.symbols[0];
    if (!sym.is_primitive) {
      // A rule standing for another keeps the frame's context (link, fold,
      // branch outputs).
      Frame pass = f;
      pass.depth = f.depth + 1;
      pass.parent = node;
      push(pass, sym.rule);
      return true;
    }
    const Op& op = *s_.ops_[f.rule][alt];
    bool ok = false;
    switch (op.role()) {
      case OpRole::kUnary:
        ok = unary(op, f, u);
        break;
      case OpRole::kBranching:
        ok = branching(op, f, u);
        break;
      case OpRole::kAggregation:
        ok = aggregation(op, f);
        break;
    }
    if (ok && record_) tree_[node].out = cur_;
    return ok;
  }

  void undo(const Undo& u) {
    stack_.resize(u.size_before - 1);
    for (const Frame& f : u.truncated) stack_.push_back(f);
    if (u.touched >= 0) stack_[u.touched] = u.touched_old;
    stack_.push_back(u.popped);
    cur_ = u.cur;
    nodes_ = u.nodes;
    params_ = u.params;
    acts_ = u.acts;
    pending_ = u.pending;
    if (u.pushed_alt) alts_.pop_back();
  }

  struct Jump {
    size_t keep = 0;
    size_t alts_before = 0;
    std::vector<Frame> removed;
    Shape cur;
    int64_t nodes = 0, params = 0, acts = 0, pending = 0;
  };

  // Inside the second of two branches that has so far repeated the first
  // decision for decision, the rest of the first branch finishes it with an
  // output the aggregation accepts (add of equal shapes). Jumps to the end
  // of the outermost such branch when the budgets allow.
  bool copy_jump(Jump* j) {
    for (size_t i = 0; i < stack_.size(); ++i) {
      const Frame& a = stack_[i];
      if (a.kind != Frame::kRule || a.phase != 2 || a.factor != 2) continue;
      const size_t done = alts_.size() - a.b2_start;
      if (done > static_cast<size_t>(a.b2_start - a.b1_start) ||
          !std::equal(alts_.begin() + a.b2_start, alts_.end(), alts_.begin() + a.b1_start)) {
        continue;
      }
      const int64_t nodes = a.nodes2 + a.nodes1, params = a.params2 + a.params1,
                    acts = a.acts2 + a.acts1;
      if ((g_.max_nodes > 0 && nodes > g_.max_nodes) ||
          (g_.max_params > 0 && params > g_.max_params) || acts > s_.max_activations_) {
        return false;
      }
      j->alts_before = alts_.size();
      const std::vector<int> rest(alts_.begin() + a.b1_start + static_cast<long>(done),
                                  alts_.begin() + a.b2_start);
      alts_.insert(alts_.end(), rest.begin(), rest.end());
      j->keep = i + 2;  // the A frame and its second branch end
      j->removed.assign(stack_.begin() + static_cast<long>(j->keep), stack_.end());
      j->cur = cur_;
      j->nodes = nodes_;
      j->params = params_;
      j->acts = acts_;
      j->pending = pending_;
      stack_.resize(j->keep);
      recount_pending();
      cur_ = a.out1;
      nodes_ = nodes;
      params_ = params;
      acts_ = acts;
      return true;
    }
    return false;
  }

  void undo_jump(const Jump& j) {
    alts_.resize(j.alts_before);
    stack_.resize(j.keep);
    stack_.insert(stack_.end(), j.removed.begin(), j.removed.end());
    cur_ = j.cur;
    nodes_ = j.nodes;
    params_ = j.params;
    acts_ = j.acts;
    pending_ = j.pending;
  }

  // Whether the current state can be completed, within `*steps` expansions.
  // Iterative deepening on the nodes a completion may add beyond the fewest
  // the open rules need: the recursive rules would otherwise send a
  // depth-first search down ever longer chains before it tries a short
  // completion of another shape. A search that fails without meeting the
  // limit has proved that no completion exists.
  bool prove(int* steps) {
    const int64_t base = nodes_ + pending_;
    bool ok = false;
    for (int64_t extra = 0;; extra = 2 * extra + 4) {
      node_cap_ = base + extra;
      const bool last = g_.max_nodes > 0 && node_cap_ >= g_.max_nodes;
      cap_hit_ = false;
      failed_.clear();
      ok = witness(steps);
      if (ok || *steps < 0 || last || !cap_hit_) break;
    }
    node_cap_ = kNoCap;
    failed_.clear();
    return ok;
  }

  // The decisions of the completion the last successful prove() found.
  const std::vector<int>& found() const { return found_; }
  void set_record(bool on) { record_ = on; }
  int last_node() const { return static_cast<int>(tree_.size()) - 1; }
  Failure failure_kind() const { return failure_kind_; }

 private:
  // Depth-first search for a completion, cheapest alternatives first. States
  // that failed are remembered (by a hash of the stack and the tensor, with
  // the nodes and parameters they had spent): reaching one again with no
  // less spent fails at once.
  bool witness(int* steps) {
    if (--*steps < 0) return false;
    if (stack_.empty()) {
      if (!complete_ok()) return false;
      found_ = alts_;
      return true;
    }
    const uint64_t key = state_hash();
    auto seen = failed_.find(key);
    if (seen != failed_.end() && nodes_ >= seen->second.nodes && params_ >= seen->second.params &&
        acts_ >= seen->second.acts) {
      return false;
    }
    const bool ok = expand_witness(steps);
    if (!ok && *steps >= 0) failed_[key] = {nodes_, params_, acts_};
    return ok;
  }

  bool expand_witness(int* steps) {
    if (stack_.back().kind == Frame::kBranchEnd) {
      Undo u;
      branch_end(&u);
      const bool ok = witness(steps);
      undo(u);
      return ok;
    }
    Jump j;
    if (copy_jump(&j)) {
      const bool ok = witness(steps);
      undo_jump(j);
      if (ok) return true;
    }
    for (int alt : s_.witness_order_[stack_.back().rule]) {
      Undo v;
      const bool ok = apply(alt, &v) && witness(steps);
      undo(v);
      if (ok) return true;
      if (*steps < 0) return false;
    }
    return false;
  }

 public:
  // What decides the completions of the state, besides the nodes and
  // parameters spent: the tensor and every frame (not the tree links or the
  // copy-jump bookkeeping).
  uint64_t state_hash() const {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
    auto mix_shape = [&](const Shape& sh) {
      mix(sh.size());
      for (int64_t d : sh) mix(static_cast<uint64_t>(d));
    };
    mix_shape(cur_);
    for (const Frame& f : stack_) {
      mix(static_cast<uint64_t>(f.kind) | static_cast<uint64_t>(f.rule + 1) << 8 |
          static_cast<uint64_t>(f.depth) << 24 | static_cast<uint64_t>(f.which) << 40 |
          static_cast<uint64_t>(f.phase) << 48);
      mix(static_cast<uint64_t>(f.link + 1) | static_cast<uint64_t>(f.m_rule + 1) << 32);
      mix(static_cast<uint64_t>(f.mult));
      if (f.phase > 0) {
        mix(static_cast<uint64_t>(f.factor));
        mix_shape(f.piece);
        mix_shape(f.out1);
        mix_shape(f.out2);
      }
      if (f.has_fold) mix(static_cast<uint64_t>(f.fold.h) << 32 | static_cast<uint64_t>(f.fold.w));
      if (f.phase == 2 && f.factor == 2) {
        // Whether the second branch can still finish by copying the first,
        // and with which of its decisions.
        const size_t done = alts_.size() - f.b2_start;
        const size_t len = f.b2_start - f.b1_start;
        if (done <= len &&
            std::equal(alts_.begin() + f.b2_start, alts_.end(), alts_.begin() + f.b1_start)) {
          mix(done + 1);
          for (size_t k = done; k < len; ++k) mix(static_cast<uint64_t>(alts_[f.b1_start + k]));
          mix(static_cast<uint64_t>(f.nodes1) << 32 ^ static_cast<uint64_t>(f.params1));
          mix(static_cast<uint64_t>(f.acts1));
        }
      }
    }
    return h;
  }

 private:
  // Records why a step is invalid; the message is only formatted when a
  // user asked why (explain mode), as the witness search fails often.
  template <typename Message>
  bool fail(Failure kind, Message&& message) {
    failure_kind_ = kind;
    if (explain_) failure_ = message();
    return false;
  }

  void begin(Undo* u) {
    u->popped = stack_.back();
    u->size_before = stack_.size();
    u->cur = cur_;
    u->nodes = nodes_;
    u->params = params_;
    u->acts = acts_;
    u->pending = pending_;
    if (stack_.back().kind == Frame::kRule) {
      pending_ -= s_.min_nodes_[stack_.back().rule] * stack_.back().mult;
    }
    stack_.pop_back();
  }

  // Whether the nodes so far and the fewest the open rules still need fit.
  bool nodes_fit(int64_t more) {
    if (nodes_ + pending_ + more > node_cap_) {
      cap_hit_ = true;
      return fail(kBudget, [&] { return "the witness search's node limit"; });
    }
    if (g_.max_nodes > 0 && nodes_ + pending_ + more > g_.max_nodes) {
      return fail(kBudget,
                  [&] { return fmt::format("more than %max-nodes {} nodes", g_.max_nodes); });
    }
    return true;
  }

  void recount_pending() {
    pending_ = 0;
    for (const Frame& f : stack_) {
      if (f.kind == Frame::kRule) pending_ += s_.min_nodes_[f.rule] * f.mult;
    }
  }

  void touch(int index, Undo* u) {
    u->touched = index;
    u->touched_old = stack_[index];
  }

  void push(Frame f, int rule) {
    f.kind = Frame::kRule;
    f.rule = rule;
    pending_ += s_.min_nodes_[rule] * f.mult;
    stack_.push_back(std::move(f));
  }

  // Every op but identity stores its output for the backward pass; `mult`
  // copies of it run (shared branches).
  bool activations_fit(const Shape& out, int64_t mult, const Op& op) {
    if (op.kind == Op::kIdentity) return true;
    acts_ += einspace::elements(out) * mult;
    if (acts_ > s_.max_activations_) {
      return fail(kBudget, [&] {
        return fmt::format(
            "{} brings the stored activations to {} elements per example, above "
            "%max-memory {}",
            op.label(), acts_, s_.max_activations_);
      });
    }
    return true;
  }

  bool within_cap(const Shape& s, const Op& what) {
    if (einspace::elements(s) > s_.max_activation_) {
      return fail(kBudget, [&] {
        return fmt::format("{} gives {} ({} elements), above %max-activation {}", what.label(),
                           shape_text(s), einspace::elements(s), s_.max_activation_);
      });
    }
    return true;
  }

  bool unary(const Op& op, const Frame& f, Undo* u) {
    const RuleRole role = g_.rules[f.rule].role;
    Fold fold;
    Fold* fold_ptr = &fold;
    if (role == RuleRole::kPost) {
      if (!f.has_fold && op.kind == Op::kCol2im) {
        return fail(kShape,
                    [&] { return fmt::format("col2im needs the route's P to be an im2col"); });
      }
      fold = f.fold;
    }
    auto out = einspace::apply_unary(op, cur_, fold_ptr);
    if (!out)
      return fail(kShape, [&] {
        return fmt::format("{} cannot take a {} tensor", op.label(), shape_text(cur_));
      });
    if (!within_cap(*out, op)) return false;
    params_ += einspace::unary_params(op, cur_) * f.mult;
    if (!activations_fit(*out, f.mult, op)) return false;
    if (g_.max_params > 0 && params_ > g_.max_params) {
      return fail(kBudget, [&] {
        return fmt::format("{} brings the parameters to {}, above %max-params {}", op.label(),
                           params_, g_.max_params);
      });
    }
    if (role == RuleRole::kPre && f.link >= 0) {
      touch(f.link, u);
      stack_[f.link].has_fold = op.kind == Op::kIm2col;
      stack_[f.link].fold = fold;
    }
    cur_ = std::move(*out);
    return true;
  }

  bool branching(const Op& op, const Frame& f, Undo* u) {
    auto piece = einspace::branch_piece(op, cur_);
    if (!piece)
      return fail(kShape, [&] {
        return fmt::format("{} cannot split a {} tensor", op.label(), shape_text(cur_));
      });
    touch(f.link, u);
    Frame& a = stack_[f.link];
    a.factor = einspace::branch_factor(op);
    a.piece = *piece;
    a.phase = 1;
    a.b1_start = static_cast<int>(alts_.size());
    a.nodes1 = nodes_;
    a.params1 = params_;
    a.acts1 = acts_;
    Frame m;
    m.depth = f.depth;
    m.parent = f.parent;
    m.mult = f.mult;
    Frame end;
    end.kind = Frame::kBranchEnd;
    end.link = f.link;
    if (a.factor == 2) {
      end.which = 2;
      stack_.push_back(end);
      push(m, a.m_rule);
      end.which = 1;
      stack_.push_back(end);
      push(m, a.m_rule);
    } else {
      end.which = 0;
      stack_.push_back(end);
      m.mult = f.mult * a.factor;
      push(m, a.m_rule);
    }
    cur_ = std::move(*piece);
    return nodes_fit(0);
  }

  bool aggregation(const Op& op, const Frame& f) {
    auto out = einspace::aggregate(op, f.out1, f.out2, f.factor);
    if (!out) {
      return fail(kShape, [&] {
        return fmt::format("{} cannot combine {} branch outputs {} and {}", op.label(), f.factor,
                           shape_text(f.out1), shape_text(f.out2));
      });
    }
    if (!within_cap(*out, op) || !activations_fit(*out, f.mult, op)) return false;
    cur_ = std::move(*out);
    return true;
  }

 private:
  const TypedGrammarSpace& s_;
  const Grammar& g_;
  bool record_;
  bool explain_ = false;
  std::string failure_;
  Failure failure_kind_ = kShape;
  std::vector<Frame> stack_;
  Shape cur_;
  int64_t nodes_ = 0, params_ = 0;
  int64_t acts_ = 0;     // elements of every op's output per example (what training stores)
  int64_t pending_ = 0;  // fewest nodes the rule frames on the stack still need
  static constexpr int64_t kNoCap = int64_t{1} << 62;
  int64_t node_cap_ = kNoCap;  // the witness search's current node limit
  bool cap_hit_ = false;
  struct Spent {
    int64_t nodes, params, acts;
  };
  std::unordered_map<uint64_t, Spent> failed_;
  std::vector<int> alts_;
  std::vector<int> found_;
  std::vector<TreeNode> tree_;
};

}  // namespace sylva

namespace sylva {

// Steps the machine from decision to decision. A decision lists every
// alternative of its rule, so that a decision index is the grammar
// alternative whatever the context (stable under variation); alternatives
// without a witness have prior 0 and the engines never take them. Witnesses
// are searched only when choices() is read: replaying stored decisions costs
// no search, and each choice is checked as it is applied.
class TypedGrammarSpace::Cursor : public SpaceCursor {
 public:
  explicit Cursor(const TypedGrammarSpace& space) : s_(space), m_(space, true) { advance(); }

  const std::vector<Choice>& choices() const override {
    if (!offered_) const_cast<Cursor*>(this)->offer();
    return open_;
  }

  void choose(int index) override {
    if (m_.done()) {
      throw std::invalid_argument(
          fmt::format("the architecture is complete after {} decisions; no decision is open",
                      decisions_.size()));
    }
    const GrammarRule& rule = s_.grammar_.rules[m_.top().rule];
    const int n = static_cast<int>(rule.alternatives.size());
    if (index < 0 || index >= n) {
      throw std::invalid_argument(
          fmt::format("decision {} of rule '{}' is {}, but it has {} choices", decisions_.size(),
                      rule.name, index, n));
    }
    Machine::Undo u;
    if (!m_.apply(index, &u)) {
      m_.undo(u);
      const std::string why = why_not(index);
      throw std::invalid_argument(fmt::format("decision {}: '{}' of rule '{}' on a {} tensor: {}",
                                              decisions_.size(), rule.alternatives[index].label,
                                              rule.name, shape_text(m_.cur()), why));
    }
    m_.tree_at(m_.last_node()).decision = static_cast<int>(decisions_.size());
    decision_nodes_.push_back(m_.last_node());
    decisions_.push_back(index);
    // The witness of an offered choice is the promise of the decisions after.
    const bool offered = offered_ && open_[index].prior > 0;
    promise_ = offered ? std::move(witnesses_[index]) : std::vector<int>();
    advance();
  }

  // Whether the open decision's positive choices have witnesses (false only
  // after a choice of a hand-written tree that no search proved).
  bool proven() const {
    choices();
    return proven_;
  }

  const std::vector<int>& decisions() const override { return decisions_; }

  // Every alternative is listed; no witness search needed to count them.
  size_t choice_count() const override {
    return m_.done() ? 0 : s_.grammar_.rules[m_.top().rule].alternatives.size();
  }

  // Pre-order: a decision's subtree is open exactly when the next rule to
  // expand hangs below its node.
  bool subtree_closed(int index) const override {
    if (m_.done()) return true;
    const int x = decision_nodes_.at(index);
    for (int n = m_.top().parent; n >= 0; n = m_.tree()[n].parent) {
      if (n == x) return false;
    }
    return true;
  }

  bool done() const { return m_.done(); }
  Machine& machine() { return m_; }
  const std::vector<int>& decision_nodes() const { return decision_nodes_; }

  // Why alternative `alt` is not offered at the open decision.
  std::string why_not(int alt) {
    m_.explain(true);
    m_.set_record(false);
    Machine::Undo u;
    std::string why;
    if (!m_.apply(alt, &u)) {
      why = m_.failure();
    } else {
      why =
          "no valid network can be completed from there (for example the two branches "
          "could not be aggregated)";
    }
    m_.undo(u);
    m_.set_record(true);
    m_.explain(false);
    return why;
  }

 private:
  void advance() {
    open_.clear();
    offered_ = false;
    while (!m_.done()) {
      Machine::Undo u;
      if (m_.top().kind == Frame::kBranchEnd) {
        m_.branch_end(&u);
        continue;
      }
      const int rule = m_.top().rule;
      if (!m_.is_decision(rule)) {
        if (!m_.apply(0, &u)) {
          // Only after a choice no witness was found for.
          m_.undo(u);
          const auto& alt = s_.grammar_.rules[rule].alternatives[0];
          throw std::invalid_argument(fmt::format("'{}' of rule '{}' on a {} tensor: {}", alt.label,
                                                  s_.grammar_.rules[rule].name,
                                                  shape_text(m_.cur()), why_not(0)));
        }
        continue;
      }
      return;
    }
    offered_ = true;  // complete: no choices
  }

  // Gives every alternative with a completion its prior (renormalised), the
  // others 0. The completion found for the alternative chosen last (its
  // witness) starts with an alternative of this decision, which is offered
  // without a new search: a derivation by the engines never meets a decision
  // without choices, however the bounded searches fare.
  void offer() {
    const int rule = m_.top().rule;
    const auto& alts = s_.grammar_.rules[rule].alternatives;
    const int n = static_cast<int>(alts.size());
    witnesses_.assign(n, {});
    std::vector<char> ok(n, 0);
    m_.set_record(false);
    int found = offer_proven(rule, 0, &ok);
    // Only after a choice no witness was found for (a hand-written tree):
    // search much longer, then offer what applies here; make() checks the
    // network as a whole.
    if (!found) found = offer_proven(rule, kRescueSteps, &ok);
    proven_ = found > 0;
    if (!found) {
      for (int a = 0; a < n; ++a) {
        Machine::Undo u;
        ok[a] = m_.apply(a, &u);
        found += ok[a];
        m_.undo(u);
      }
    }
    m_.set_record(true);
    if (!found) {
      throw std::invalid_argument(fmt::format(
          "no alternative of rule '{}' applies to a {} tensor after a choice no completion was "
          "found for",
          s_.grammar_.rules[rule].name, shape_text(m_.cur())));
    }
    double total = 0;
    for (int a = 0; a < n; ++a) total += ok[a] ? alts[a].prior : 0;
    for (int a = 0; a < n; ++a) open_.push_back({alts[a].label, ok[a] ? alts[a].prior / total : 0});
    offered_ = true;
  }

  // Marks the alternatives with a witness, found with the usual budgets or
  // with `rescue` steps each; returns how many.
  int offer_proven(int rule, int rescue, std::vector<char>* ok) {
    const auto& alts = s_.grammar_.rules[rule].alternatives;
    const size_t here = m_.alts().size();
    int found = 0;
    for (int a = 0; a < static_cast<int>(alts.size()); ++a) {
      if (!promise_.empty() && promise_[0] == a) {
        (*ok)[a] = 1;
        witnesses_[a].assign(promise_.begin() + 1, promise_.end());
      } else {
        Machine::Undo u;
        bool good = m_.apply(a, &u);
        if (!good && m_.failure_kind() == Machine::kBudget && !rescue) ++s_.stats_->budget_bound;
        if (good) good = prove(here, rescue, &witnesses_[a]);
        m_.undo(u);
        (*ok)[a] = good;
      }
      found += (*ok)[a];
    }
    return found;
  }

  // Whether the state after an alternative can be completed; its witness:
  // the decisions after the alternative. Alternatives that lead to the same
  // state (norm and leakyrelu keep the shape) share one search.
  bool prove(size_t here, int rescue, std::vector<int>* witness) {
    const uint64_t key =
        m_.state_hash() ^ (static_cast<uint64_t>(m_.params()) * 0x9e3779b97f4a7c15ull +
                           static_cast<uint64_t>(m_.activations()) * 0xc2b2ae3d27d4eb4full +
                           static_cast<uint64_t>(m_.nodes()));
    auto known = proved_.find(key);
    if (known != proved_.end() && (known->second || !rescue)) {
      if (!known->second) return false;
      *witness = *known->second;
      return true;
    }
    const int budget = rescue ? rescue : spent_ < kDerivationSteps ? kWitnessSteps : kSpentSteps;
    int steps = budget;
    const bool ok = m_.prove(&steps);
    const int used = budget - std::max(steps, 0);
    spent_ += used;
    ++s_.stats_->witness_searches;
    s_.stats_->witness_steps += used;
    if (!ok && steps < 0) ++s_.stats_->exhausted;
    if (ok) {
      witness->assign(m_.found().begin() + static_cast<long>(here) + 1, m_.found().end());
      proved_[key] = *witness;
    } else {
      proved_.emplace(key, std::nullopt);
    }
    return ok;
  }

  const TypedGrammarSpace& s_;
  Machine m_;
  int64_t spent_ = 0;  // witness steps of this derivation
  std::unordered_map<uint64_t, std::optional<std::vector<int>>> proved_;
  bool offered_ = false;                     // open_ and witnesses_ are computed
  std::vector<Choice> open_;                 // every alternative, prior 0 if not offered
  std::vector<std::vector<int>> witnesses_;  // of each offered one: the decisions after it
  std::vector<int> promise_;                 // the witness of the alternative chosen last
  bool proven_ = true;
  std::vector<int> decisions_;
  std::vector<int> decision_nodes_;
};

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
    return Status::error(fmt::format(
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
    return Status::error(fmt::format("not an architecture of space '{}': {}", name_, e.what()));
  }
  if (!c.done()) {
    return Status::error(
        fmt::format("not an architecture of space '{}': {} decisions given, more needed", name_,
                    decisions.size()));
  }
  c.machine().explain(true);
  if (!c.machine().complete_ok()) {
    return Status::error(
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
    return Status::error(e.what());
  }
  if (!c.done()) return Status::error("the architecture is not complete");
  return Size{c.machine().params() + c.machine().head_params(), c.machine().nodes(),
              c.machine().activations()};
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
  std::function<Status(const BracketNode&, int)> walk = [&](const BracketNode& n,
                                                            int rule) -> Status {
    const GrammarRule& r = grammar_.rules[rule];
    auto where = [&](const std::string& what) {
      return Status::error(fmt::format("column {}: {}", n.col, what));
    };
    if (n.is_op || n.name != r.name) {
      return where(fmt::format("expected '[{} ...]', got '{}'", r.name,
                               n.is_op ? n.name : "[" + n.name + " ...]"));
    }
    for (size_t a = 0; a < r.alternatives.size(); ++a) {
      const GrammarAlternative& alt = r.alternatives[a];
      std::vector<int> kids;  // expected rule of each child, -1: an op
      if (alt.constructor == Constructor::kBranch) {
        // Two branches have two M children, four or eight one shared M.
        const BracketNode& b = n.children.empty() ? n : n.children[0];
        std::optional<Op> split;
        if (b.children.size() == 1 && b.children[0].is_op)
          split = einspace::op_from_label(b.children[0].name);
        if (split && split->role() == OpRole::kBranching &&
            (einspace::branch_factor(*split) == 2) != (n.children.size() == 4)) {
          return where(fmt::format(
              "{} makes {} branches, so '[{} ...]' takes {} M children, got {}", split->label(),
              einspace::branch_factor(*split), n.name, einspace::branch_factor(*split) == 2 ? 2 : 1,
              static_cast<int>(n.children.size()) - 2));
        }
        if (n.children.size() == 3 || n.children.size() == 4) {
          kids = {alt.symbols[0].rule, alt.symbols[1].rule};
          if (n.children.size() == 4) kids.push_back(alt.symbols[1].rule);
          kids.push_back(alt.symbols[2].rule);
        }
      } else if (alt.constructor != Constructor::kNone) {
        for (const auto& sym : alt.symbols) kids.push_back(sym.rule);
      } else {
        kids = {alt.symbols[0].is_primitive ? -1 : alt.symbols[0].rule};
      }
      if (kids.size() != n.children.size()) continue;
      bool match = true;
      for (size_t i = 0; i < kids.size() && match; ++i) {
        const BracketNode& ch = n.children[i];
        match = kids[i] < 0 ? ch.is_op && ch.name == alt.symbols[0].name
                            : !ch.is_op && ch.name == grammar_.rules[kids[i]].name;
      }
      if (!match) continue;
      if (r.alternatives.size() > 1) {
        codes.push_back(static_cast<int>(a));
        cols.push_back(n.col);
      }
      for (size_t i = 0; i < kids.size(); ++i) {
        if (kids[i] < 0) continue;
        Status s = walk(n.children[i], kids[i]);
        if (!s.is_ok()) return s;
      }
      return Status::ok();
    }
    std::vector<std::string> got;
    for (const auto& ch : n.children) got.push_back(ch.is_op ? ch.name : "[" + ch.name + " ...]");
    std::vector<std::string> want;
    for (const auto& alt : r.alternatives) want.push_back(alt.label);
    return where(fmt::format("rule '{}' has no alternative '{}' (alternatives: {})", r.name,
                             join(got, " "), join(want, " | ")));
  };
  Status s = walk(tree.value(), 0);
  if (!s.is_ok()) return Status::error("canonical form, " + s.message());
  // Decisions are the grammar alternatives; each is checked as it applies.
  Cursor c(*this);
  for (size_t k = 0; k < codes.size(); ++k) {
    try {
      c.choose(codes[k]);
    } catch (const std::invalid_argument& e) {
      return Status::error(
          fmt::format("canonical form, column {}: not valid here: {}", cols[k], e.what()));
    }
  }
  auto arch = make(codes);
  if (!arch.is_ok()) return Status::error("canonical form: " + arch.status().message());
  return arch;
}

}  // namespace sylva
