// Pareto dominance for multi-objective search (NSGA-II, `sylva best
// --pareto`). Points are vectors of objective values, every coordinate to be
// maximised (negate those to minimise). Torch-free.
#pragma once

#include <vector>

namespace sylva::search {

// a dominates b: at least as good everywhere, better somewhere.
bool dominates(const std::vector<double>& a, const std::vector<double>& b);

// Non-dominated sorting (Deb et al., 2002): rank 0 is the Pareto front, rank
// 1 the front once rank 0 is removed, and so on. O(objectives * n^2).
std::vector<int> pareto_ranks(const std::vector<std::vector<double>>& points);

// Crowding distance of each member of `front` (indices into `points`),
// aligned with `front`: the sum over objectives of the normalised gap
// between its neighbours; the extremes of each objective get infinity.
std::vector<double> crowding_distances(const std::vector<std::vector<double>>& points,
                                       const std::vector<int>& front);

}  // namespace sylva::search
