// NSGA-II (Deb et al., 2002) in an asynchronous steady-state form for the
// worker pool: there are no generations. While the population holds fewer
// than `population` members, ask() proposes the --init architectures, then
// samples by the priors. After that each ask() picks two parents by binary
// tournament on (Pareto rank, crowding distance), crosses them over with
// probability `crossover_prob` and mutates the result. tell() adds the
// child; beyond `population` members, the worst goes: the last front's most
// crowded member, the oldest on ties.
//
// Objectives come from StrategyContext::objectives and are read from each
// observation's metrics; a trial missing one does not join. As every strategy:
// ask(n) is seeded by (seed, n) and state is built by tell()/pending() only,
// so replays are exact; nothing is proposed twice. Not thread-safe.
#pragma once

#include <unordered_set>

#include "base/random.h"
#include "search/strategy.h"

namespace sylva::search {

struct Nsga2Options {
  // Members kept. >= 2.
  int64_t population = 20;
  // Probability of crossing the two parents before mutating. [0, 1].
  double crossover_prob = 0.5;
};

class Nsga2 : public Strategy {
 public:
  Nsga2(const Space& space, uint64_t seed, Nsga2Options options, std::vector<Objective> objectives,
        std::vector<Architecture> init);
  std::optional<Architecture> ask(int64_t number) override;
  void tell(const Observation& obs) override;
  void pending(const Architecture& arch) override { seen_.insert(arch.hash); }

 private:
  struct Member {
    Architecture arch;
    std::vector<double> values;  // signed: larger is better
    int64_t number;
    int rank = 0;
    double crowding = 0;
  };
  // Recomputes every member's rank and crowding distance.
  void sort_population();
  const Member& tournament(Rng& rng) const;

  const Space& space_;
  const uint64_t seed_;
  const Nsga2Options options_;
  const std::vector<Objective> objectives_;
  const std::vector<Architecture> init_;
  std::vector<Member> population_;
  std::unordered_set<uint64_t> seen_;
};

void register_nsga2();

}  // namespace sylva::search
