// The derivation machine of a typed grammar (typed_machine.h): expanding an
// alternative and undoing it, the shape, depth and budget checks of each
// step, and the witness search (copy jumps, iterative deepening, the hash of
// failed states).
#include "spaces/grammar/typed_machine.h"

#include <fmt/format.h>

#include <algorithm>

namespace sylva {

using einspace::Fold;
using einspace::Op;
using einspace::OpRole;
using einspace::Shape;
using typed_grammar::Frame;
using typed_grammar::TreeNode;

namespace typed_grammar {

std::string shape_text(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

}  // namespace typed_grammar

using typed_grammar::shape_text;

TypedGrammarSpace::Machine::Machine(const TypedGrammarSpace& space, bool record)
    : s_(space), g_(space.grammar_), record_(record) {
  cur_ = Shape(g_.input.begin(), g_.input.end());
  Frame f;
  push(f, 0);
}

bool TypedGrammarSpace::Machine::complete_ok() {
  if (g_.max_params > 0 && params_ + head_params() > g_.max_params) {
    return fail(kBudget, [&] {
      return fmt::format("with the classifier head, {} parameters exceed %max-params {}",
                         params_ + head_params(), g_.max_params);
    });
  }
  return true;
}

// ---------------------------------------------------------------------------
// Steps and their undo
// ---------------------------------------------------------------------------

void TypedGrammarSpace::Machine::branch_end(Undo* u) {
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
  seal(&a);
}

bool TypedGrammarSpace::Machine::apply(int alt, Undo* u) {
  begin(u);
  const Frame f = u->popped;
  const GrammarAlternative& a = g_.rules[f.rule].alternatives[alt];
  nodes_ += f.mult;  // a shared branch's module is built once per branch
  if (is_decision(f.rule)) {
    alts_.push_back(alt);
    u->pushed_alt = true;
  }
  if (!depth_fits(f, a)) return false;
  if (!nodes_fit(s_.alt_min_nodes_[f.rule][alt] * f.mult)) return false;
  const int node = record_node(f, alt);
  if (push_children(f, a, node)) return true;
  return apply_symbol(f, alt, node, u);
}

bool TypedGrammarSpace::Machine::depth_fits(const Frame& f, const GrammarAlternative& a) {
  for (const auto& sym : a.symbols) {
    if (!sym.is_primitive && f.depth + g_.rules[sym.rule].min_height > g_.max_depth) {
      return fail(kDepth, [&] {
        return fmt::format("'{}' does not fit in %max-depth {} at depth {}", a.label, g_.max_depth,
                           f.depth);
      });
    }
  }
  return true;
}

int TypedGrammarSpace::Machine::record_node(const Frame& f, int alt) {
  if (!record_) return -1;
  const int node = static_cast<int>(tree_.size());
  TreeNode t;
  t.rule = f.rule;
  t.alt = alt;
  t.parent = f.parent;
  t.depth = f.depth;
  t.mult = f.mult;
  t.in = g_.rules[f.rule].role == RuleRole::kAggregation ? f.out1 : cur_;
  if (f.parent >= 0) tree_[f.parent].children.push_back(node);
  tree_.push_back(std::move(t));
  return node;
}

bool TypedGrammarSpace::Machine::push_children(const Frame& f, const GrammarAlternative& a,
                                               int node) {
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
  return false;
}

bool TypedGrammarSpace::Machine::apply_symbol(const Frame& f, int alt, int node, Undo* u) {
  const GrammarSymbol& sym = g_.rules[f.rule].alternatives[alt].symbols[0];
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

void TypedGrammarSpace::Machine::undo(const Undo& u) {
  stack_.resize(u.size_before - 1);
  if (u.touched >= 0) stack_[u.touched] = u.touched_old;
  stack_.push_back(u.popped);
  cur_ = u.cur;
  nodes_ = u.nodes;
  params_ = u.params;
  acts_ = u.acts;
  pending_ = u.pending;
  if (u.pushed_alt) alts_.pop_back();
}

void TypedGrammarSpace::Machine::begin(Undo* u) {
  u->touched = -1;
  u->pushed_alt = false;
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

bool TypedGrammarSpace::Machine::nodes_fit(int64_t more) {
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

void TypedGrammarSpace::Machine::recount_pending() {
  pending_ = 0;
  for (const Frame& f : stack_) {
    if (f.kind == Frame::kRule) pending_ += s_.min_nodes_[f.rule] * f.mult;
  }
}

void TypedGrammarSpace::Machine::touch(int index, Undo* u) {
  u->touched = index;
  u->touched_old = stack_[index];
}

void TypedGrammarSpace::Machine::push(Frame f, int rule) {
  f.kind = Frame::kRule;
  f.rule = rule;
  pending_ += s_.min_nodes_[rule] * f.mult;
  seal(&f);
  stack_.push_back(std::move(f));
}

void TypedGrammarSpace::Machine::push_end(Frame f) {
  seal(&f);
  stack_.push_back(std::move(f));
}

void TypedGrammarSpace::Machine::seal(Frame* f) {
  typed_grammar::KeyMixer h;
  auto mix_shape = [&](const Shape& sh) {
    h.mix(sh.size());
    for (int64_t d : sh) h.mix(static_cast<uint64_t>(d));
  };
  h.mix(static_cast<uint64_t>(f->kind) | static_cast<uint64_t>(f->rule + 1) << 8 |
        static_cast<uint64_t>(f->depth) << 24 | static_cast<uint64_t>(f->which) << 40 |
        static_cast<uint64_t>(f->phase) << 48);
  h.mix(static_cast<uint64_t>(f->link + 1) | static_cast<uint64_t>(f->m_rule + 1) << 32);
  h.mix(static_cast<uint64_t>(f->mult));
  if (f->phase > 0) {
    h.mix(static_cast<uint64_t>(f->factor));
    mix_shape(f->piece);
    mix_shape(f->out1);
    mix_shape(f->out2);
  }
  if (f->has_fold) h.mix(static_cast<uint64_t>(f->fold.h) << 32 | static_cast<uint64_t>(f->fold.w));
  f->key = h.key();
}

// ---------------------------------------------------------------------------
// Ops: shapes, parameters and activations
// ---------------------------------------------------------------------------

bool TypedGrammarSpace::Machine::activations_fit(const Shape& out, int64_t mult, const Op& op) {
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

bool TypedGrammarSpace::Machine::within_cap(const Shape& s, const Op& what) {
  if (einspace::elements(s) > s_.max_activation_) {
    return fail(kBudget, [&] {
      return fmt::format("{} gives {} ({} elements), above %max-activation {}", what.label(),
                         shape_text(s), einspace::elements(s), s_.max_activation_);
    });
  }
  return true;
}

bool TypedGrammarSpace::Machine::unary(const Op& op, const Frame& f, Undo* u) {
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
    seal(&stack_[f.link]);
  }
  cur_ = std::move(*out);
  return true;
}

bool TypedGrammarSpace::Machine::branching(const Op& op, const Frame& f, Undo* u) {
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
  seal(&a);
  const int64_t factor = a.factor;
  const int m_rule = a.m_rule;  // `a` moves when the stack grows
  Frame m;
  m.depth = f.depth;
  m.parent = f.parent;
  m.mult = f.mult;
  Frame end;
  end.kind = Frame::kBranchEnd;
  end.link = f.link;
  if (factor == 2) {
    end.which = 2;
    push_end(end);
    push(m, m_rule);
    end.which = 1;
    push_end(end);
    push(m, m_rule);
  } else {
    end.which = 0;
    push_end(end);
    m.mult = f.mult * factor;
    push(m, m_rule);
  }
  cur_ = std::move(*piece);
  return nodes_fit(0);
}

bool TypedGrammarSpace::Machine::aggregation(const Op& op, const Frame& f) {
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

// ---------------------------------------------------------------------------
// The witness search
// ---------------------------------------------------------------------------

bool TypedGrammarSpace::Machine::copy_jump(Jump* j) {
  for (size_t i = 0; i < stack_.size(); ++i) {
    const Frame& a = stack_[i];
    if (!copying(a)) continue;
    // A copy would finish a branch that encloses a redrawn subtree.
    if (rejoin_ && i < rejoin_->height) continue;
    const size_t done = alts_.size() - a.b2_start;
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
    // A copy always aggregates: the nodes it adds beyond the fewest the
    // branch needed do not count against the search's node limit.
    j->cap = node_cap_;
    if (node_cap_ != kNoCap)
      node_cap_ += std::max<int64_t>(0, nodes_ + pending_ - (j->nodes + j->pending));
    return true;
  }
  return false;
}

void TypedGrammarSpace::Machine::undo_jump(const Jump& j) {
  alts_.resize(j.alts_before);
  stack_.resize(j.keep);
  stack_.insert(stack_.end(), j.removed.begin(), j.removed.end());
  cur_ = j.cur;
  nodes_ = j.nodes;
  params_ = j.params;
  acts_ = j.acts;
  pending_ = j.pending;
  node_cap_ = j.cap;
}

bool TypedGrammarSpace::Machine::prove(int* steps) {
  const int64_t base = nodes_ + pending_;
  bool ok = false;
  for (int64_t extra = 0;; extra = 2 * extra + 4) {
    node_cap_ = base + extra;
    const bool last = g_.max_nodes > 0 && node_cap_ >= g_.max_nodes;
    cap_hit_ = false;
    ok = witness(steps);
    if (ok || *steps < 0 || last || !cap_hit_) break;
  }
  node_cap_ = kNoCap;
  return ok;
}

void TypedGrammarSpace::Machine::set_rejoin(std::vector<int> rest) {
  rejoin_ = std::make_unique<Rejoin>();
  rejoin_->height = stack_.size() - 1;
  rejoin_->point = alts_.size();
  rejoin_->leaf = true;
  for (const auto& a : g_.rules[stack_.back().rule].alternatives) {
    rejoin_->leaf &= a.constructor == Constructor::kNone && a.symbols[0].is_primitive;
  }
  rejoin_->rest = std::move(rest);
  failed_.clear();
}

void TypedGrammarSpace::Machine::clear_rejoin() {
  rejoin_.reset();
  failed_.clear();  // what failed in rejoin mode was another question
}

bool TypedGrammarSpace::Machine::rejoin_closed() const {
  return stack_.size() <= rejoin_->height || (rejoin_->leaf && alts_.size() > rejoin_->point);
}

bool TypedGrammarSpace::Machine::replay_rest() {
  const typed_grammar::StateKey key = state_hash();
  auto seen = rejoin_->failed.find(key);
  if (seen != rejoin_->failed.end() && nodes_ >= seen->second.nodes &&
      params_ >= seen->second.params && acts_ >= seen->second.acts) {
    return false;
  }
  // The rest is fixed: no node limit of the search applies to it.
  const int64_t cap = node_cap_;
  node_cap_ = kNoCap;
  const std::vector<int>& rest = rejoin_->rest;
  std::vector<Undo> steps;
  steps.reserve(2 * rest.size() + 8);
  size_t next = 0;
  bool ok = true;
  while (ok && !stack_.empty()) {
    steps.emplace_back();
    if (stack_.back().kind == Frame::kBranchEnd) {
      branch_end(&steps.back());
      continue;
    }
    int alt = 0;
    if (is_decision(stack_.back().rule)) {
      ok = next < rest.size() &&
           rest[next] < static_cast<int>(g_.rules[stack_.back().rule].alternatives.size());
      if (!ok) {
        steps.pop_back();
        break;
      }
      alt = rest[next++];
    }
    ok = apply(alt, &steps.back());
  }
  ok = ok && next == rest.size() && complete_ok();
  if (ok) {
    found_ = std::make_shared<const std::vector<int>>(alts_);
    final_nodes_ = nodes_;
    final_params_ = params_ + head_params();
    final_acts_ = acts_;
  }
  for (auto u = steps.rbegin(); u != steps.rend(); ++u) undo(*u);
  node_cap_ = cap;
  if (!ok) rejoin_->failed[key] = {nodes_, params_, acts_};
  return ok;
}

int64_t TypedGrammarSpace::Machine::room() const {
  const int64_t limit = g_.max_nodes > 0 ? std::min<int64_t>(node_cap_, g_.max_nodes) : node_cap_;
  return limit - nodes_;
}

bool TypedGrammarSpace::Machine::fits(const Known& k) const {
  return (g_.max_nodes <= 0 || nodes_ + k.nodes <= g_.max_nodes) &&
         (g_.max_params <= 0 || params_ + k.params <= g_.max_params) &&
         acts_ + k.acts <= s_.max_activations_;
}

bool TypedGrammarSpace::Machine::witness(int* steps) {
  if (--*steps < 0) return false;
  const bool closed = rejoin_ && rejoin_closed();
  if (stack_.empty() && !closed) {
    if (!complete_ok()) return false;
    found_ = std::make_shared<const std::vector<int>>(alts_);
    final_nodes_ = nodes_;
    final_params_ = params_ + head_params();
    final_acts_ = acts_;
    return true;
  }
  const typed_grammar::StateKey key = state_hash();
  auto known = known_.find(key);
  if (known != known_.end() && fits(known->second)) {
    const Known& k = known->second;
    auto path = std::make_shared<std::vector<int>>(alts_);
    path->insert(path->end(), k.path->begin() + k.from, k.path->end());
    found_ = std::move(path);
    final_nodes_ = nodes_ + k.nodes;
    final_params_ = params_ + k.params;
    final_acts_ = acts_ + k.acts;
    return true;
  }
  auto seen = failed_.find(key);
  if (seen != failed_.end() && params_ >= seen->second.params && acts_ >= seen->second.acts &&
      room() <= seen->second.room) {
    return false;
  }
  if (!closed && rank_locked()) {
    cap_hit_ = true;  // the limit decided it
    return false;
  }
  const bool hit_before = cap_hit_;
  cap_hit_ = false;
  const bool ok = closed ? replay_rest() : expand_witness(steps);
  const bool hit = cap_hit_;
  cap_hit_ = cap_hit_ || hit_before;
  if (ok) {
    known_[key] = {found_, static_cast<int>(alts_.size()), final_nodes_ - nodes_,
                   final_params_ - params_, final_acts_ - acts_};
  } else if (*steps >= 0) {
    // Where the search below never met its node limit, only %max-nodes
    // bounded it.
    const int64_t unbounded = g_.max_nodes > 0 ? g_.max_nodes - nodes_ : kNoCap;
    failed_[key] = {params_, acts_, hit ? room() : unbounded};
  }
  return ok;
}

bool TypedGrammarSpace::Machine::expand_witness(int* steps) {
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
  Undo v;  // reused: begin() sets every field undo() reads
  for (int alt : s_.witness_order_[stack_.back().rule]) {
    const bool ok = apply(alt, &v) && witness(steps);
    undo(v);
    if (ok) return true;
    if (*steps < 0) return false;
  }
  return false;
}

bool TypedGrammarSpace::Machine::copying(const Frame& a) const {
  if (a.phase != 2 || a.factor != 2) return false;
  const size_t done = alts_.size() - a.b2_start;
  return done <= static_cast<size_t>(a.b2_start - a.b1_start) &&
         std::equal(alts_.begin() + a.b2_start, alts_.end(), alts_.begin() + a.b1_start);
}

bool TypedGrammarSpace::Machine::rank_locked() const {
  if (node_cap_ == kNoCap || rejoin_) return false;
  const int64_t spare = room() - pending_;  // beyond the fewest the open rules need
  for (const Frame& a : stack_) {
    if (copying(a)) return false;
  }
  int64_t first_pending = 0;  // fewest nodes the first branch still needs
  bool in_first = true;
  for (size_t i = stack_.size(); i-- > 0;) {
    const Frame& f = stack_[i];
    if (f.kind == Frame::kBranchEnd) {
      if (f.which == 1) in_first = false;
      if (f.which != 2) continue;
      const Frame& a = stack_[f.link];
      if (a.phase == 2) return a.out1.size() != cur_.size();
      // The first branch runs: its output keeps the tensor's rank, the
      // second's the piece's, unless the second copies the first.
      const int64_t copy = nodes_ + 2 * first_pending + (nodes_ - a.nodes1);
      return a.piece.size() != cur_.size() && g_.max_nodes > 0 && copy > g_.max_nodes;
    }
    if (s_.rank_change_nodes_[f.rule] <= spare / f.mult) return false;
    if (in_first) first_pending += s_.min_nodes_[f.rule] * f.mult;
  }
  return false;
}

typed_grammar::StateKey TypedGrammarSpace::Machine::state_hash() const {
  typed_grammar::KeyMixer h;
  h.mix(cur_.size());
  for (int64_t d : cur_) h.mix(static_cast<uint64_t>(d));
  for (const Frame& f : stack_) {
    h.mix(f.key.a, f.key.b);
    // Whether the second branch can still finish by copying the first, and
    // with which of its decisions.
    if (copying(f)) {
      const size_t done = alts_.size() - f.b2_start;
      const size_t len = f.b2_start - f.b1_start;
      h.mix(done + 1);
      for (size_t k = done; k < len; ++k) h.mix(static_cast<uint64_t>(alts_[f.b1_start + k]));
      h.mix(static_cast<uint64_t>(f.nodes1));
      h.mix(static_cast<uint64_t>(f.params1));
      h.mix(static_cast<uint64_t>(f.acts1));
    }
  }
  return h.key();
}

}  // namespace sylva
