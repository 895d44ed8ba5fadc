// Pareto ranks and crowding distances on hand-checked points, and NSGA-II
// finding a better accuracy/cost front than random search on a toy problem.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "base/random.h"
#include "search/pareto.h"
#include "search/strategy.h"

namespace sylva::search {
namespace {

TEST(Pareto, RanksAndCrowding) {
  // Maximise both coordinates.
  const std::vector<std::vector<double>> p = {{1, 5}, {2, 4}, {3, 3}, {1, 1},
                                              {2, 2}, {5, 0}, {0, 0}};
  EXPECT_TRUE(dominates(p[1], p[4]));
  EXPECT_FALSE(dominates(p[0], p[1]));
  EXPECT_FALSE(dominates(p[0], p[0]));
  EXPECT_EQ(pareto_ranks(p), (std::vector<int>{0, 0, 0, 2, 1, 0, 3}));
  // Front {0, 1, 2, 5} sorted by x: 0(1), 1(2), 2(3), 5(5); extremes infinite.
  const auto d = crowding_distances(p, {0, 1, 2, 5});
  EXPECT_TRUE(std::isinf(d[0]));
  EXPECT_TRUE(std::isinf(d[3]));
  // Point 1: x neighbours 1 and 3 over range 4, y neighbours 5 and 3 over 5.
  EXPECT_DOUBLE_EQ(d[1], 2.0 / 4 + 2.0 / 5);
  EXPECT_DOUBLE_EQ(d[2], 3.0 / 4 + 4.0 / 5);
}

// Ten layers of {conv3x3, conv1x1, skip}: accuracy rises with conv3x3 and
// conv1x1 (diminishing), cost is 9 per conv3x3 and 1 per conv1x1.
std::pair<double, double> toy_objectives(const Architecture& a) {
  double acc = 0, cost = 0;
  for (size_t i = 0; i < a.primitives.size(); ++i) {
    const auto& p = a.primitives[i];
    const double w = 1.0 / (1 + 0.2 * i);
    acc += p == "conv3x3" ? 3 * w : p == "conv1x1" ? 2 * w : 0;
    cost += p == "conv3x3" ? 9 : p == "conv1x1" ? 1 : 0;
  }
  return {acc, cost};
}

// Area dominated by the front (acc up, cost down) above reference (0, 91).
double hypervolume(std::vector<std::pair<double, double>> pts) {
  std::sort(pts.begin(), pts.end(), [](auto& a, auto& b) { return a.second < b.second; });
  double area = 0, best_acc = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    best_acc = std::max(best_acc, pts[i].first);
    const double next_cost = i + 1 < pts.size() ? pts[i + 1].second : 91.0;
    area += best_acc * (next_cost - pts[i].second);
  }
  return area;
}

double search_hypervolume(const std::string& strategy, uint64_t seed, int trials) {
  auto space = space_from_source("ten", R"(net -> op op op op op op op op op op
op -> "conv3x3" | "conv1x1" | "skip"
)")
                   .value();
  StrategyContext ctx;
  ctx.space = space.get();
  ctx.seed = seed;
  ctx.objectives = {{"acc", true}, {"cost", false}};
  auto s = make_strategy(strategy, ctx).value();
  std::vector<std::pair<double, double>> seen;
  for (int n = 0; n < trials; ++n) {
    auto a = s->ask(n);
    auto [acc, cost] = toy_objectives(*a);
    Observation o;
    o.number = n;
    o.arch = *a;
    o.ok = true;
    o.value = acc;
    o.metrics = {{"acc", acc}, {"cost", cost}};
    s->tell(o);
    seen.push_back({acc, cost});
  }
  return hypervolume(seen);
}

TEST(Nsga2, FindsABetterFrontThanRandomSearch) {
  double nsga = 0, random = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    nsga += search_hypervolume("nsga2", seed, 150);
    random += search_hypervolume("random", seed, 150);
  }
  EXPECT_GT(nsga, 1.03 * random) << nsga / 10 << " vs " << random / 10;
}

TEST(Nsga2, NeedsAnObjective) {
  auto space = space_from_source("t", "net -> op\nop -> \"skip\" | \"none\"\n").value();
  StrategyContext ctx;
  ctx.space = space.get();
  EXPECT_EQ(make_strategy("nsga2", ctx).status().message(),
            "--strategy nsga2 needs an --objective");
}

}  // namespace
}  // namespace sylva::search
