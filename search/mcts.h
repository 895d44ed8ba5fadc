// Monte Carlo tree search over a space's decision tree (DeepArchitect's MCTS,
// with the parallel machinery of game strategies).
//
// A playout selects, from the root, the child with the best UCT score while
// every (widened) child of the node is already in the tree; at the first node
// with a child not yet in the tree it rolls out: that decision and every
// later one are drawn by the priors. The architecture is evaluated, and
// tell() backs its value up along the tree part of its path and adds one
// node, the first decision of the path not yet in the tree. So the tree
// grows one node per finished trial and never expands an unbounded grammar
// for ever: depth beyond the tree is the rollout's.
//
// Values are normalised as they arrive to their rank among all values seen so
// far (0 worst, 1 best), so the exploration constant `uct_c` means the same
// on every metric; failed trials count as 0. A node's score is the mean of
// its normalised values. Nodes are keyed by their decision prefix in a hash
// table (the transposition table): every path to the same partial
// architecture shares its statistics.
//
// Parallel playouts: ask() puts a virtual loss (one visit of value 0) on the
// tree nodes of the path it proposes; an RAII guard held until the trial's
// tell() (or for pending trials on resume) removes it, so selection reads
// visits + in-flight and balances by construction.
//
// Wide decisions: a node whose decision has more than `widen_above` choices
// considers only the first max(1, widen_k * (visits + 1)^widen_alpha) of
// them, in an order drawn once per node by the priors (progressive widening).
//
// Nothing is proposed twice: a rollout that reaches a seen architecture is
// drawn again, then the subtree is searched for an unseen one, and a subtree
// with none left is marked exhausted and never selected again.
//
// Determinism: ask(n) draws from a generator seeded by (seed, n) and reads
// only state that tell() and pending() build, so replaying finished trials in
// number order rebuilds the tree exactly. Not thread-safe.
#pragma once

#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "base/random.h"
#include "search/decision_context.h"
#include "search/strategy.h"

namespace sylva::search {

struct MctsOptions {
  // Exploration constant of UCT on rank-normalised values. >= 0.
  double uct_c = 0.5;
  // Shared statistics (RAVE): a child's value is blended with the mean of
  // every trial that took the same choice in the same decision context, with
  // weight sqrt(rave_k / (3 n + rave_k)) after n visits of the child.
  double rave_k = 20;
  // Rollouts draw each choice with probability proportional to its prior
  // times exp(shared mean / rollout_temperature); 0 or less: by the priors.
  double rollout_temperature = 0.1;
  // Progressive widening: decisions with more choices than this are widened.
  int64_t widen_above = 8;
  double widen_k = 2.0;
  double widen_alpha = 0.5;
};

class Mcts : public Strategy {
 public:
  Mcts(const Space& space, uint64_t seed, MctsOptions options, std::vector<Architecture> init);
  ~Mcts() override;
  std::optional<Architecture> ask(int64_t number) override;
  void tell(const Observation& obs) override;
  void pending(const Architecture& arch) override;

  // Nodes in the tree (for tests and reports).
  size_t tree_size() const { return tree_.size(); }
  // Trials proposed and not yet told (virtual losses at the root).
  int64_t in_flight_at_root() const;

 private:
  struct Node;
  class InFlight;
  struct PrefixHash {
    size_t operator()(const std::vector<int>& p) const;
  };

  Node& node(const std::vector<int>& prefix);
  Node* find(const std::vector<int>& prefix);
  // Choice indices the node may consider now (progressive widening), in order.
  std::vector<int> considered(const std::vector<int>& prefix, Node& n);
  // One selection + rollout; nullopt and marks a node exhausted when the
  // selected subtree has no unseen architecture left.
  std::optional<Architecture> playout(Rng& rng, bool* root_exhausted);
  double normalise(double value);
  // Shared mean of `choice` at a decision with `key` (shrunk to 0.5 by one
  // pseudo-visit) and its visit count.
  std::pair<double, double> shared(DecisionContexts::Key key, int choice) const;
  // A rollout from `prefix` by the shared statistics; `walk` is at prefix.
  Architecture rollout(std::vector<int> prefix, DecisionContexts::Walk walk, Rng& rng);
  void start_in_flight(const Architecture& arch);

  const Space& space_;
  const uint64_t seed_;
  const MctsOptions options_;
  const std::vector<Architecture> init_;
  std::unordered_map<std::vector<int>, Node, PrefixHash> tree_;        // stable node addresses
  std::unordered_map<uint64_t, std::unique_ptr<InFlight>> in_flight_;  // by architecture hash
  std::vector<double> sorted_values_;  // every value told, ascending
  DecisionContexts contexts_;
  struct Shared {
    std::vector<double> visits, sum;  // per choice, of finished trials
    std::vector<int64_t> in_flight;   // per choice, proposed and not yet told
  };
  // The Shared of a context, sized on first use.
  Shared& shared_at(std::vector<Shared>& table, int index, int kind);
  std::vector<Shared> by_context_, by_kind_;
  std::unordered_set<uint64_t> seen_;
};

void register_mcts();

}  // namespace sylva::search
