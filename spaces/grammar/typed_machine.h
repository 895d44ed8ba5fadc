// Private to spaces/grammar/typed_*.cc: the derivation machine of a
// TypedGrammarSpace (typed_grammar_space.h), the stack machine that expands
// a typed grammar one alternative at a time while tracking the tensor shape,
// the node count, the parameters and the stored activations, and that
// searches for a completion (a witness) on its live state. The cursor
// (typed_cursor.h) steps it from decision to decision; the Space
// (typed_grammar_space.cc) reads the derivation tree it records.
//
// Implemented in typed_machine.cc. Not thread-safe: one machine per
// derivation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "spaces/einspace/ops.h"
#include "spaces/grammar/grammar.h"
#include "spaces/grammar/typed_grammar_space.h"

namespace sylva {
namespace typed_grammar {

// "32x8x8".
std::string shape_text(const einspace::Shape& s);

// A 128-bit hash of a derivation state: the search's memos trust a match
// (a false one would offer a choice without a completion), so two
// independent 64-bit lanes make one vanishingly rare.
struct StateKey {
  uint64_t a = 0, b = 0;
  bool operator==(const StateKey& o) const { return a == o.a && b == o.b; }
};
struct StateKeyHash {
  size_t operator()(const StateKey& k) const { return static_cast<size_t>(k.a); }
};
class KeyMixer {
 public:
  void mix(uint64_t v) { mix(v, v); }
  // A value per lane (a StateKey's halves).
  void mix(uint64_t va, uint64_t vb) {
    a_ = (a_ ^ va) * 0x9e3779b97f4a7c15ull;
    a_ ^= a_ >> 32;
    b_ = (b_ + vb) * 0xc2b2ae3d27d4eb4full;
    b_ ^= b_ >> 29;
  }
  StateKey key() const { return {fmix(a_), fmix(b_ ^ 0x5851f42d4c957f2dull)}; }
  static uint64_t fmix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
  }

 private:
  uint64_t a_ = 0x84222325cbf29ce4ull, b_ = 0x6a09e667f3bcc909ull;
};

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
  einspace::Shape piece, out1, out2;
  int b1_start = 0, b2_start = 0;  // decision index where each branch began
  // Branch 1: counters at its start, then its cost; branch 2: at its start.
  int64_t nodes1 = 0, params1 = 0, acts1 = 0;
  int64_t nodes2 = 0, params2 = 0, acts2 = 0;
  // The R frame of a route: the plane its P unfolded (im2col only).
  einspace::Fold fold;
  bool has_fold = false;
  StateKey key;  // of the fields above that decide completions (Machine::seal)
};

// A node of the derivation tree (recorded by the cursor's machine).
struct TreeNode {
  int rule = -1;
  int alt = -1;
  int parent = -1;
  int depth = 1;
  int decision = -1;
  int64_t mult = 1;         // copies of it in the network (shared branches)
  einspace::Shape in, out;  // out: for op nodes; others take their last child's
  std::vector<int> children;
};

}  // namespace typed_grammar

// The derivation as a stack machine. apply() and undo() let the witness
// search walk completions on the live state without copying it.
class TypedGrammarSpace::Machine {
 public:
  using Frame = typed_grammar::Frame;
  using TreeNode = typed_grammar::TreeNode;
  using Shape = einspace::Shape;

  enum Failure { kShape, kDepth, kBudget };

  struct Undo {
    Frame popped;
    size_t size_before = 0;
    int touched = -1;
    Frame touched_old;
    Shape cur;
    int64_t nodes = 0, params = 0, acts = 0, pending = 0;
    bool pushed_alt = false;
  };

  Machine(const TypedGrammarSpace& space, bool record);

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
  bool complete_ok();

  // Pops the top branch-end frame.
  void branch_end(Undo* u);

  // Expands the top rule frame with alternative `alt`. false: not valid here
  // (the state is then half-changed; undo() restores it either way).
  bool apply(int alt, Undo* u);

  void undo(const Undo& u);

  struct Jump {
    size_t keep = 0;
    size_t alts_before = 0;
    std::vector<Frame> removed;
    Shape cur;
    int64_t nodes = 0, params = 0, acts = 0, pending = 0;
    int64_t cap = 0;
  };

  // Inside the second of two branches that has so far repeated the first
  // decision for decision, the rest of the first branch finishes it with an
  // output the aggregation accepts (add of equal shapes). Jumps to the end
  // of the outermost such branch when the budgets allow.
  bool copy_jump(Jump* j);
  void undo_jump(const Jump& j);

  // Whether the current state can be completed, within `*steps` expansions.
  // Iterative deepening on the nodes a completion may add beyond the fewest
  // the open rules need: the recursive rules would otherwise send a
  // depth-first search down ever longer chains before it tries a short
  // completion of another shape. A search that fails without meeting the
  // limit has proved that no completion exists.
  bool prove(int* steps);

  // Rejoin mode, for a redrawn subtree that the rest of a parent's decisions
  // must follow (a mutation): the open decision is the subtree's root; from
  // now on, a completion is proved only if, once that subtree is closed,
  // `rest` replays from there to a valid network. The searches then stay
  // within the subtree (each closing costs one replay of `rest`, remembered
  // by state) and never look for completions that drop the rest.
  void set_rejoin(std::vector<int> rest);
  void clear_rejoin();

  // The decisions of the completion the last successful prove() found.
  const std::vector<int>& found() const { return *found_; }
  void set_record(bool on) { record_ = on; }
  int last_node() const { return static_cast<int>(tree_.size()) - 1; }
  Failure failure_kind() const { return failure_kind_; }

  // What decides the completions of the state, besides the nodes and
  // parameters spent: the tensor and every frame (not the tree links or the
  // copy-jump bookkeeping).
  typed_grammar::StateKey state_hash() const;

 private:
  // Depth-first search for a completion, cheapest alternatives first. States
  // that failed are remembered (failed_): reaching one again with no less
  // spent and no more room fails at once.
  bool witness(int* steps);
  bool expand_witness(int* steps);
  // Whether the innermost open pair of branches can no longer end in two
  // tensors of one rank (no aggregation takes two ranks): no open rule up to
  // its end can change the rank within the nodes the search's limit leaves,
  // the ranks differ (the first branch's output, or the tensor now, against
  // the second's piece, or the tensor now), and no branch can finish as a
  // copy of its first (by the copy's nodes).
  bool rank_locked() const;
  // Whether `a` is an A frame whose second of two branches runs and has so
  // far repeated the first decision for decision: a copy of the first's
  // rest can finish it.
  bool copying(const Frame& a) const;
  // Rejoin mode: whether the redrawn subtree is closed; replays the rest
  // from the live state (then undoes it) and, if it leads to a valid
  // network, makes the decisions so far and the rest the found completion.
  bool rejoin_closed() const;
  bool replay_rest();

  // Records why a step is invalid; the message is only formatted when a
  // user asked why (explain mode), as the witness search fails often.
  template <typename Message>
  bool fail(Failure kind, Message&& message) {
    failure_kind_ = kind;
    if (explain_) failure_ = message();
    return false;
  }

  // Pieces of apply(): whether every child rule of `a` fits in %max-depth
  // below `f`; the tree node of the expansion (-1 when not recording); the
  // frames of a constructor's children (false: `a` is no constructor); the
  // expansion of a single symbol (a rule standing for another, or an op).
  bool depth_fits(const Frame& f, const GrammarAlternative& a);
  int record_node(const Frame& f, int alt);
  bool push_children(const Frame& f, const GrammarAlternative& a, int node);
  bool apply_symbol(const Frame& f, int alt, int node, Undo* u);

  void begin(Undo* u);
  // Whether the nodes so far and the fewest the open rules still need fit.
  bool nodes_fit(int64_t more);
  void recount_pending();
  void touch(int index, Undo* u);
  void push(Frame f, int rule);
  void push_end(Frame f);
  // Sets f->key from the fields state_hash() reads; after every change.
  void seal(Frame* f);
  // Every op but identity stores its output for the backward pass; `mult`
  // copies of it run (shared branches).
  bool activations_fit(const Shape& out, int64_t mult, const einspace::Op& op);
  bool within_cap(const Shape& s, const einspace::Op& what);

  bool unary(const einspace::Op& op, const Frame& f, Undo* u);
  bool branching(const einspace::Op& op, const Frame& f, Undo* u);
  bool aggregation(const einspace::Op& op, const Frame& f);

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
  // States whose search failed without running out of steps, kept for the
  // machine's life (every search and every deepening round, until rejoin
  // mode changes): a state of that hash that had spent `params` and `acts`
  // has no completion that adds `room` nodes or fewer, `room` being what the
  // search's node limit (or %max-nodes) left it. Where the search below the
  // state never met its own limit, `room` is all that %max-nodes leaves. A
  // state with no less spent and no more room fails at once.
  struct Failed {
    int64_t params, acts, room;
  };
  std::unordered_map<typed_grammar::StateKey, Failed, typed_grammar::StateKeyHash> failed_;
  int64_t room() const;
  // Completions found from every state a successful search passed through,
  // kept for the machine's life: the decisions from the state on (a suffix
  // of a shared path) and what they add. A completion depends only on the
  // state (state_hash) and is valid from any state of that hash whose spent
  // nodes, parameters and activations leave room for what it adds, so later
  // searches that reach such a state finish at once.
  struct Known {
    std::shared_ptr<const std::vector<int>> path;
    int from = 0;
    int64_t nodes = 0, params = 0, acts = 0;  // added, the head's parameters included
  };
  std::unordered_map<typed_grammar::StateKey, Known, typed_grammar::StateKeyHash> known_;
  bool fits(const Known& k) const;
  struct Rejoin {
    size_t height = 0;  // the stack's size once the subtree is closed
    size_t point = 0;   // decisions before the subtree's root
    bool leaf = false;  // the root's alternatives are ops: closed once taken
    std::vector<int> rest;
    // Closed states whose replay failed, with what they had spent.
    std::unordered_map<typed_grammar::StateKey, Spent, typed_grammar::StateKeyHash> failed;
  };
  std::unique_ptr<Rejoin> rejoin_;
  std::vector<int> alts_;
  std::shared_ptr<const std::vector<int>> found_ = std::make_shared<const std::vector<int>>();
  int64_t final_nodes_ = 0, final_params_ = 0, final_acts_ = 0;  // of found_
  std::vector<TreeNode> tree_;
};

}  // namespace sylva
