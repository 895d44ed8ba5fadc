#include "search/pareto.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace sylva::search {

bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool better = false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] < b[k]) return false;
    if (a[k] > b[k]) better = true;
  }
  return better;
}

std::vector<int> pareto_ranks(const std::vector<std::vector<double>>& points) {
  const size_t n = points.size();
  std::vector<std::vector<int>> dominated(n);  // i -> the points i dominates
  std::vector<int> count(n, 0);                // how many dominate i
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (dominates(points[i], points[j])) {
        dominated[i].push_back(static_cast<int>(j));
        ++count[j];
      } else if (dominates(points[j], points[i])) {
        dominated[j].push_back(static_cast<int>(i));
        ++count[i];
      }
    }
  }
  std::vector<int> rank(n, -1);
  std::vector<int> front;
  for (size_t i = 0; i < n; ++i) {
    if (count[i] == 0) front.push_back(static_cast<int>(i));
  }
  for (int r = 0; !front.empty(); ++r) {
    std::vector<int> next;
    for (int i : front) {
      rank[i] = r;
      for (int j : dominated[i]) {
        if (--count[j] == 0) next.push_back(j);
      }
    }
    front = std::move(next);
  }
  return rank;
}

std::vector<double> crowding_distances(const std::vector<std::vector<double>>& points,
                                       const std::vector<int>& front) {
  const size_t m = front.size();
  std::vector<double> distance(m, 0.0);
  if (m == 0) return distance;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<size_t> order(m);
  for (size_t k = 0; k < points[front[0]].size(); ++k) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return points[front[a]][k] < points[front[b]][k]; });
    const double lo = points[front[order.front()]][k], hi = points[front[order.back()]][k];
    distance[order.front()] = inf;
    distance[order.back()] = inf;
    if (hi == lo) continue;
    for (size_t i = 1; i + 1 < m; ++i) {
      distance[order[i]] +=
          (points[front[order[i + 1]]][k] - points[front[order[i - 1]]][k]) / (hi - lo);
    }
  }
  return distance;
}

}  // namespace sylva::search
