// The once-for-all configuration space: decisions, labels and canonical
// forms that round-trip, configurations and back, stage slots for crossover,
// and errors that name what is wrong.
#include "spaces/supernets/ofa/ofa_space.h"

#include <gtest/gtest.h>

#include <random>

namespace sylva::ofa {
namespace {

std::vector<int> draw(const Space& space, std::mt19937_64& rng) {
  std::vector<int> d;
  for (auto ch = space.choices(d); !ch.empty(); ch = space.choices(d)) {
    d.push_back(static_cast<int>(rng() % ch.size()));
  }
  return d;
}

TEST(OfaSpace, DecisionsFollowTheDepths) {
  OfaSpace space("ofa", OfaSpec{});
  EXPECT_EQ(space.choices({})[2].label, "r28");
  EXPECT_EQ(space.choices({2}).size(), 3u);  // depth of stage 1
  EXPECT_EQ(space.choices({2, 0})[1].label, "k5");
  EXPECT_EQ(space.choices({2, 0, 1})[2].label, "e6");
  // Depth 2: two blocks, then stage 2's depth.
  EXPECT_EQ(space.choices({2, 0, 1, 2, 0, 0})[0].label, "d2");
  OfaConfig c = smallest(OfaSpec{});
  auto d = space.decisions(c).value();
  EXPECT_EQ(d.size(), 1u + 4 * (1 + 2 * 2));
  auto arch = space.make(d).value();
  EXPECT_EQ(arch.canonical,
            "[ofa r20 [stage d2 [block k3 e3] [block k3 e3]] [stage d2 [block k3 e3] [block k3 "
            "e3]] [stage d2 [block k3 e3] [block k3 e3]] [stage d2 [block k3 e3] [block k3 e3]]]");
  EXPECT_EQ(arch.key.substr(0, 15), "r20/d2/k3/e3/k3");
  EXPECT_EQ(space.config(d).value(), c);
}

TEST(OfaSpace, FormsRoundTripAndStagesAreSlots) {
  OfaSpace space("ofa", OfaSpec{});
  std::mt19937_64 rng(9);
  for (int i = 0; i < 50; ++i) {
    const std::vector<int> d = draw(space, rng);
    const Architecture a = space.make(d).value();
    EXPECT_EQ(space.parse(a.canonical).value().decisions, d);
    EXPECT_EQ(space.parse(a.key).value().decisions, d);
    EXPECT_EQ(space.decisions(space.config(d).value()).value(), d);
    const auto slots = space.slots(d);
    EXPECT_EQ(slots[0].kind, "resolution");
    EXPECT_EQ(slots[1].kind, "stage1");
    // Stage 1's subtree ends where stage 2's depth is decided.
    EXPECT_EQ(slots[slots[1].end].kind, "stage2");
    EXPECT_EQ(slots.back().end, static_cast<int>(d.size()));
    EXPECT_FALSE(space.subtree_closed(std::vector<int>(d.begin(), d.begin() + 2), 1));
    EXPECT_TRUE(space.subtree_closed(std::vector<int>(d.begin(), d.begin() + slots[1].end), 1));
  }
}

TEST(OfaSpace, ErrorsNameTheColumnAndTheAllowedValues) {
  OfaSpace space("ofa", OfaSpec{});
  EXPECT_EQ(space.parse("[ofa r32 [stage d2]]").status().message(),
            "canonical form, column 6: 'r32' is not one of r20, r24, r28");
  EXPECT_EQ(space.parse("[ofa r28 [stage d2 [block k3 e3]]]").status().message(),
            "canonical form, column 1: '[ofa ...]' has 4 stages, got 1");
  EXPECT_EQ(space.make({0, 0}).status().message(),
            "not a configuration of 'ofa': 2 decisions given, more are needed");
  EXPECT_EQ(space.make({7}).status().message(),
            "not a configuration of 'ofa': decision 0 is 7, but it has 3 choices");
}

TEST(OfaSpace, BudgetsBoundEveryConfiguration) {
  OfaSpec spec;
  spec.max_macs = 20000000;
  OfaSpace space("ofa", spec);
  ASSERT_TRUE(space.check_budgets().is_ok());
  std::mt19937_64 rng(5);
  int64_t most = 0;
  for (int i = 0; i < 200; ++i) {
    // Draw by the priors: choices over budget have prior 0.
    std::vector<int> d;
    for (auto ch = space.choices(d); !ch.empty(); ch = space.choices(d)) {
      std::vector<double> w;
      for (const auto& c : ch) w.push_back(c.prior);
      std::discrete_distribution<int> pick(w.begin(), w.end());
      d.push_back(pick(rng));
    }
    const OfaCost c = cost(spec, space.config(d).value());
    EXPECT_LE(c.macs, spec.max_macs);
    most = std::max(most, c.macs);
  }
  EXPECT_GT(most, spec.max_macs * 9 / 10);  // the budget shapes samples, it does not empty them
  // The largest configuration is over budget: make() says so.
  EXPECT_EQ(space.make(space.decisions(largest(spec)).value()).status().message(),
            "configuration of 'ofa' over budget: 1049754 parameters, 106934640 MACs (max-params "
            "0, max-macs 20000000)");
  // Retargeting sets the budgets; a budget below the smallest is an error.
  OfaSpace plain("ofa", OfaSpec{});
  SpaceTarget t;
  t.max_params = 300000;
  auto bounded = retarget_space(plain, t).value();
  ASSERT_NE(bounded, nullptr);
  EXPECT_EQ(dynamic_cast<const OfaSpace&>(*bounded).spec().max_params, 300000);
  t.max_params = 1000;
  EXPECT_EQ(retarget_space(plain, t).status().message(),
            "the smallest configuration of 'ofa' has 187626 parameters and 9071160 MACs, above the "
            "budget (max-params 1000, max-macs 0)");
}

TEST(OfaSpace, SpecTextRoundTrips) {
  OfaSpec spec;
  spec.widths = {16, 32};
  spec.strides = {1, 2};
  spec.resolutions = {28};
  const std::string text = spec_text(spec);
  EXPECT_EQ(text,
            "ofa in=1 classes=10 stem=16 widths=16,32 strides=1,2 kernels=3,5,7 expands=3,4,6 "
            "depths=2,3,4 resolutions=28");
  auto back = parse_spec(text).value();
  EXPECT_EQ(spec_text(back), text);
  EXPECT_EQ(parse_spec("ofa widths=16,x").status().message(),
            "ofa spec: widths takes positive integers, got 'x'");
  EXPECT_EQ(parse_spec("ofa depth=2").status().message(), "ofa spec: unknown entry 'depth=2'");
  EXPECT_EQ(parse_spec("ofa widths=16,32").status().message(), "ofa spec: 2 widths but 4 strides");
}

}  // namespace
}  // namespace sylva::ofa
