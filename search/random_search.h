// Random search: each decision drawn by its prior, never the same hash twice.
// The draw for trial n depends only on (seed, n, attempt) and on which hashes
// are taken, so a resumed run proposes exactly what an uninterrupted one would.
#pragma once

#include <unordered_set>

#include "base/random.h"
#include "search/strategy.h"

namespace sylva::search {

class RandomSearch : public Strategy {
 public:
  RandomSearch(const Space& space, uint64_t seed) : space_(space), seed_(seed) {}
  std::optional<Architecture> ask(int64_t number) override;
  void tell(const Observation& obs) override { seen_.insert(obs.arch.hash); }
  void pending(const Architecture& arch) override { seen_.insert(arch.hash); }

 private:
  const Space& space_;
  const uint64_t seed_;
  std::unordered_set<uint64_t> seen_;
};

void register_random_search();

}  // namespace sylva::search
