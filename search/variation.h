// Variation operators on the decision tree, shared by the strategies: sampling
// by priors, mutation by re-deciding one decision point, and crossover of
// subtrees of the same kind. They see only the Space interface, so they work
// on every space; each returns a legal architecture or nothing.
#pragma once

#include <optional>
#include <unordered_set>
#include <vector>

#include "base/random.h"
#include "spaces/space.h"

namespace sylva::search {

// Appends decisions drawn by each decision's priors until the architecture
// is complete.
Architecture complete_by_priors(const Space& space, std::vector<int> prefix, Rng& rng);

// An architecture below `prefix` whose hash is not in `seen`: drawn by the
// priors (a bounded number of times), then, for a nearly exhausted subtree,
// searched depth-first in random order (bounded). nullopt when none is found.
std::optional<Architecture> sample_unseen(const Space& space,
                                          const std::unordered_set<uint64_t>& seen, Rng& rng,
                                          const std::vector<int>& prefix = {});

// The first of `init` (the --init architectures) not in `seen`.
std::optional<Architecture> first_unseen(const std::vector<Architecture>& init,
                                         const std::unordered_set<uint64_t>& seen);

// Re-decides one decision point of `parent` (as in regularized evolution and
// einspace): a decision with at least two legal choices is picked uniformly,
// given a different choice drawn by the priors of the others, the subtree it
// opens is resampled by the priors, and every decision outside that subtree
// is kept. Where the kept decisions no longer fit, the rest is completed by
// the priors. nullopt when no decision has an alternative.
std::optional<Architecture> mutate(const Space& space, const Architecture& parent, Rng& rng);

// A random decision point of `a` with its subtree replaced by the subtree of
// a decision of the same kind (grammar rule) in `b`. nullopt when the two
// share no kind or the result is not an architecture of the space.
std::optional<Architecture> crossover(const Space& space, const Architecture& a,
                                      const Architecture& b, Rng& rng);

}  // namespace sylva::search
