// Random search: distinct hashes, exhaustion, and a resumed run proposing
// exactly the sequence of an uninterrupted one.
#include "search/random_search.h"

#include <gtest/gtest.h>

#include <set>

#include "search/strategy.h"

namespace sylva::search {
namespace {

std::unique_ptr<Space> toy_space() {
  return space_from_source("toy",
                           "net -> op op op\nop -> \"conv3x3\" | \"skip\" | \"none\" [0.6]\n")
      .value();
}

std::unique_ptr<Strategy> random_on(const Space& space, uint64_t seed) {
  StrategyContext ctx;
  ctx.space = &space;
  ctx.seed = seed;
  return make_strategy("random", ctx).value();
}

TEST(RandomSearch, NeverProposesTheSameArchitectureAndExhaustsTheSpace) {
  auto space = toy_space();
  auto s = random_on(*space, 1);
  std::set<uint64_t> hashes;
  for (int n = 0; n < 27; ++n) {
    auto a = s->ask(n);
    ASSERT_TRUE(a.has_value()) << "trial " << n;
    EXPECT_TRUE(hashes.insert(a->hash).second) << a->key;
  }
  EXPECT_EQ(hashes.size(), 27u);  // 3^3: every architecture once
  EXPECT_FALSE(s->ask(27).has_value());
}

TEST(RandomSearch, SameSeedSameSequenceAndResumeReplaysIt) {
  auto space = make_space("nas-bench-macro").value();
  auto a = random_on(*space, 42);
  std::vector<std::string> full;
  for (int n = 0; n < 40; ++n) full.push_back(a->ask(n)->key);
  auto b = random_on(*space, 42);
  for (int n = 0; n < 40; ++n) EXPECT_EQ(b->ask(n)->key, full[n]);
  // "Kill" after 15 trials: 10 finished, 5 pending; a new strategy replays.
  auto c = random_on(*space, 42);
  for (int n = 0; n < 15; ++n) {
    Architecture arch = space->parse(full[n]).value();
    if (n < 10) {
      Observation obs;
      obs.number = n;
      obs.arch = arch;
      obs.ok = true;
      obs.value = n;
      c->tell(obs);
    } else {
      c->pending(arch);
    }
  }
  for (int n = 15; n < 40; ++n) EXPECT_EQ(c->ask(n)->key, full[n]) << n;
  auto other = random_on(*space, 43);
  int same = 0;
  for (int n = 0; n < 40; ++n) same += other->ask(n)->key == full[n];
  EXPECT_LT(same, 3);
}

TEST(RandomSearch, FollowsPriors) {
  auto space = toy_space();
  std::mt19937_64 rng(5);
  int none = 0, total = 0;
  for (int i = 0; i < 2000; ++i) {
    for (const auto& p : sample_by_priors(*space, rng).primitives) {
      none += p == "none";
      ++total;
    }
  }
  EXPECT_NEAR(static_cast<double>(none) / total, 0.6, 0.03);
}

TEST(StrategyRegistry, UnknownNameListsStrategies) {
  auto space = toy_space();
  StrategyContext ctx;
  ctx.space = space.get();
  EXPECT_EQ(make_strategy("annealing", ctx).status().message(),
            "--strategy 'annealing' is unknown (strategies: evolution, mcts, nsga2, random, tpe)");
  ctx.params["population"] = "10";
  EXPECT_EQ(make_strategy("random", ctx).status().message(),
            "--population does not apply to --strategy random");
}

}  // namespace
}  // namespace sylva::search
