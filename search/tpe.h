// Tree-structured Parzen estimator (Bergstra et al. 2011; Optuna's default
// sampler) over a space's decision tree.
//
// Finished trials are split by value into a good group (the best
// min(ceil(gamma * n), max_good) of the n that returned a value) and a bad
// group (the rest, failures, and every trial still pending: the constant
// liar, so parallel workers are not all sent to the same place). Each group
// gives a density over the choices of every decision, conditioned on the
// decision's context (search/decision_context.h: the rule being decided and
// how many times it was decided before on the path, shrunk towards the rule
// alone and then towards the priors with `prior_weight` pseudo-observations).
// A proposal draws `candidates` complete architectures from the good density,
// decision by decision along the cursor, and keeps the unseen one with the
// largest sum of log l(c) - log g(c) over its decisions (ties: the earlier
// drawn). Candidates are drawn jointly rather than one decision at a time, so
// that a proposal is a coherent architecture of a tree-structured space and
// never a repeat.
//
// The first `startup` trials (after the --init architectures) are drawn by
// the priors. Determinism: ask(n) draws from a generator seeded by
// (seed, n) and reads only what tell() and pending() built; the groups are
// ordered by value and then trial number, so replaying finished trials in
// number order gives the same proposals. Not thread-safe.
#pragma once

#include <map>
#include <set>
#include <unordered_set>

#include "base/random.h"
#include "search/decision_context.h"
#include "search/strategy.h"

namespace sylva::search {

struct TpeOptions {
  int64_t startup = 10;     // trials drawn by the priors before the densities are used
  int64_t candidates = 24;  // draws from the good density per proposal
  double gamma = 0.1;       // fraction of the finished trials in the good group...
  int64_t max_good = 25;    // ...at most this many
  double prior_weight = 1.0;
};

class Tpe : public Strategy {
 public:
  Tpe(const Space& space, uint64_t seed, TpeOptions options, std::vector<Architecture> init);
  std::optional<Architecture> ask(int64_t number) override;
  void tell(const Observation& obs) override;
  void pending(const Architecture& arch) override;

 private:
  struct Learnt {
    std::vector<DecisionContexts::Key> keys;
    std::vector<int> decisions;
  };
  struct Finished {
    int64_t number;
    std::optional<double> value;  // nullopt: failed
    Learnt learnt;
  };
  // A candidate's decisions drawn from `good`, and their score against `bad`.
  std::pair<std::vector<int>, double> draw(const ChoiceCounts& good, const ChoiceCounts& bad,
                                           Rng& rng);
  // Finished trials with a value, best first, earlier first among equals
  // (indices into finished_).
  struct Better {
    const std::vector<Finished>* finished;
    bool operator()(size_t a, size_t b) const;
  };

  const Space& space_;
  const uint64_t seed_;
  const TpeOptions options_;
  const std::vector<Architecture> init_;
  DecisionContexts contexts_;
  std::vector<Finished> finished_;
  std::set<size_t, Better> ranked_{Better{&finished_}};
  ChoiceCounts all_{contexts_};         // every finished trial
  std::map<uint64_t, Learnt> pending_;  // by architecture hash
  std::unordered_set<uint64_t> seen_;
};

void register_tpe();

}  // namespace sylva::search
