// The `sorted` family: nested depth and FFN width. Its configurations are a
// decision tree with canonical forms, the nested ladder is ordered by cost
// and search-free selection takes the largest nested model within a budget,
// the analytic cost is the scripted network's parameter count, and a
// configuration's standalone TorchScript computes what the supernet computes,
// also in python3-torch.
#include "spaces/supernets/sorted/sorted.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "tests/spaces/python_torch.h"

namespace sylva::sorted {
namespace {

// A complete configuration drawn by the priors (prior-0 choices never).
std::vector<int> draw(const Space& space, std::mt19937_64& rng) {
  std::vector<int> d;
  for (auto ch = space.choices(d); !ch.empty(); ch = space.choices(d)) {
    std::vector<double> w;
    for (const auto& c : ch) w.push_back(c.prior);
    d.push_back(std::discrete_distribution<int>(w.begin(), w.end())(rng));
  }
  return d;
}

SortedSpec small_spec() {
  SortedSpec s;
  s.dim = 16;
  s.depths = {1, 2, 3};
  s.widths = {8, 16, 32};
  return s;
}

TEST(SortedSpace, DecisionsFormsAndErrors) {
  const SortedSpace space("sorted", small_spec());
  EXPECT_EQ(space.choices({}).size(), 3u);
  EXPECT_EQ(space.choices({1}).front().label, "w8");
  EXPECT_TRUE(space.choices({1, 0, 2}).empty());  // depth 2: two widths
  const Architecture a = space.make({2, 0, 2, 1}).value();
  EXPECT_EQ(a.key, "d3/w8/w32/w16");
  EXPECT_EQ(a.canonical, "[sorted d3 w8 w32 w16]");
  EXPECT_EQ(space.parse(a.canonical).value().decisions, a.decisions);
  EXPECT_EQ(space.parse("d3/w8/w32/w16").value().canonical, a.canonical);
  EXPECT_EQ(space.config(a.decisions).value(), (SortedConfig{3, {8, 32, 16}}));
  EXPECT_EQ(space.decisions(SortedConfig{2, {8, 12}}).status().message(),
            "width of block 2 is 12, not one of 8, 16, 32");
  EXPECT_EQ(space.decisions(SortedConfig{4, {8, 8, 8, 8}}).status().message(),
            "depth is 4, not one of 1, 2, 3");
  EXPECT_FALSE(space.make({1, 0}).is_ok());
  EXPECT_EQ(space.make({0, 0, 1}).status().message(),
            "not a configuration of 'sorted': 3 decisions given, but the configuration is "
            "complete after 2");
  // The depth opens every width after it; each width is its own slot.
  const auto slots = space.slots(a.decisions);
  EXPECT_EQ(slots[0].kind, "depth");
  EXPECT_EQ(slots[0].end, 4);
  EXPECT_EQ(slots[2].kind, "width");
  EXPECT_EQ(slots[2].end, 3);
  EXPECT_EQ(parse_spec(spec_text(small_spec())).value().widths, small_spec().widths);
  EXPECT_EQ(spec_text(small_spec()),
            "sorted in=1 classes=10 size=28 dim=16 depths=1,2,3 widths=8,16,32");
  EXPECT_EQ(parse_spec("sorted dims=3").status().message(), "sorted spec: unknown entry 'dims=3'");
}

TEST(SortedSpace, TheLadderIsSortedAndSelectionTakesTheLargestThatFits) {
  const SortedSpec spec = small_spec();
  const auto steps = ladder(spec);
  ASSERT_EQ(steps.size(), 9u);
  for (size_t i = 1; i < steps.size(); ++i) {
    EXPECT_LE(cost(spec, steps[i - 1]).macs, cost(spec, steps[i]).macs);
  }
  EXPECT_EQ(steps.back(), nested(3, 32));
  EXPECT_EQ(steps.front(), nested(1, 8));
  // Budgets between the ladder's costs pick the step below.
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t macs = cost(spec, steps[i]).macs;
    EXPECT_EQ(largest_nested_within(spec, 0, macs).value(), steps[i]) << i;
    if (i > 0 && cost(spec, steps[i - 1]).macs < macs) {
      EXPECT_EQ(largest_nested_within(spec, 0, macs - 1).value(), steps[i - 1]) << i;
    }
  }
  EXPECT_FALSE(largest_nested_within(spec, 0, cost(spec, steps[0]).macs - 1));
  // A budget in the space: every sample fits it.
  SortedSpec budget = spec;
  budget.max_macs = cost(spec, nested(2, 16)).macs;
  const SortedSpace space("sorted", budget);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100; ++i) {
    EXPECT_LE(cost(budget, space.config(draw(space, rng)).value()).macs, budget.max_macs);
  }
}

TEST(Sorted, ScriptsComputeWhatTheSupernetComputesAndCostsCountTheirParameters) {
  const SortedSpec spec = small_spec();
  torch::manual_seed(4);
  auto net = make_supernet(spec_text(spec)).value();
  EXPECT_EQ(net->family(), "sorted");
  {
    torch::NoGradGuard no_grad;
    net->forward(torch::randn({8, 1, 28, 28}) * 2 + 1);  // statistics to copy
  }
  net->module().eval();
  std::mt19937_64 rng(5);
  std::vector<std::vector<int>> configs = {net->largest(), net->smallest(), net->sample("", rng),
                                           net->sample("nested", rng)};
  std::vector<PythonCase> cases;
  for (const auto& d : configs) cases.push_back(supernet_case(*net, d, "sorted", cases.size()));
  // A nested sample has one width throughout.
  const SortedConfig n = dynamic_cast<const SortedSpace&>(net->space()).config(configs[3]).value();
  for (int64_t w : n.width) EXPECT_EQ(w, n.width.front());
  expect_python_outputs(cases, 1e-4);
  for (const auto& c : cases) std::remove(c.path.c_str());
}

}  // namespace
}  // namespace sylva::sorted
