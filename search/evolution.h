// Regularized (aging) evolution, asynchronous (Real et al., 2019): there are
// no generations. While the population holds fewer than `population`
// members, ask() proposes the --init architectures, then architectures
// sampled by the priors.
// After that, each ask() draws `sample_size` members of the population
// uniformly (with replacement), takes the best as parent and proposes a
// mutation of it (with probability `crossover_prob`, first a crossover with
// the best of a second tournament). tell() appends the child to the
// population and retires the oldest member beyond `population`, whatever its
// fitness. Failed trials do not join.
//
// Nothing is proposed twice: a child already seen is mutated again, and after
// a bounded number of tries an unseen architecture is sampled instead.
// ask(n) draws from a generator seeded by (seed, n) and reads only state that
// tell() and pending() build, so replaying finished trials in number order
// reconstructs the strategy exactly (single-worker runs resume to the same
// sequence). Not thread-safe.
#pragma once

#include <deque>
#include <unordered_set>

#include "base/random.h"
#include "search/strategy.h"

namespace sylva::search {

struct EvolutionOptions {
  // Members kept; the oldest leaves when a child joins. >= 2. Small enough
  // to leave the random phase early at the budgets of NAS benchmarks (100s).
  int64_t population = 16;
  // Tournament size: members drawn to pick a parent. >= 1. A quarter of the
  // population, the ratio of Real et al. (S=25 of P=100).
  int64_t sample_size = 4;
  // Probability of a crossover before the mutation. [0, 1].
  double crossover_prob = 0.0;
};

class Evolution : public Strategy {
 public:
  Evolution(const Space& space, uint64_t seed, EvolutionOptions options,
            std::vector<Architecture> init);
  std::optional<Architecture> ask(int64_t number) override;
  void tell(const Observation& obs) override;
  void pending(const Architecture& arch) override { seen_.insert(arch.hash); }

 private:
  struct Member {
    Architecture arch;
    double value;
  };
  const Member& tournament(Rng& rng) const;

  const Space& space_;
  const uint64_t seed_;
  const EvolutionOptions options_;
  const std::vector<Architecture> init_;
  std::deque<Member> population_;  // oldest first
  std::unordered_set<uint64_t> seen_;
};

void register_evolution();

}  // namespace sylva::search
