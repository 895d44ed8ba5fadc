// Strategies over a space with hyperparameters: random search over nb201
// with two hyperparameters proposes valid, distinct architectures that visit
// every value, and evolution, which re-decides one slot at a time, climbs to
// the good learning rate of a synthetic objective.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "search/strategy.h"
#include "spaces/hparam_space.h"

namespace sylva::search {
namespace {

std::unique_ptr<Space> nb201_with_hparams() {
  auto space = add_hparams(make_space("nb201").value(),
                           {{"lr", {"0.001", "0.01", "0.1"}}, {"optimizer", {"sgd", "adamw"}}});
  EXPECT_TRUE(space.is_ok()) << space.status().message();
  return std::move(space).value();
}

std::unique_ptr<Strategy> strategy(const std::string& name, const Space& space, uint64_t seed) {
  StrategyContext ctx;
  ctx.space = &space;
  ctx.seed = seed;
  ctx.objectives = {{"score", true}};
  auto made = make_strategy(name, ctx);
  EXPECT_TRUE(made.is_ok()) << made.status().message();
  return std::move(made).value();
}

TEST(HparamSearch, RandomSearchProposesValidArchitecturesOverEveryValue) {
  auto space = nb201_with_hparams();
  auto s = strategy("random", *space, 5);
  std::set<uint64_t> hashes;
  std::map<std::string, int> lr_counts, optimizer_counts;
  for (int n = 0; n < 120; ++n) {
    auto a = s->ask(n);
    ASSERT_TRUE(a.has_value()) << n;
    EXPECT_TRUE(hashes.insert(a->hash).second) << a->key;
    ASSERT_EQ(a->decisions.size(), 8u);
    // Valid: it parses back, and splits into an nb201 cell and two values.
    auto parsed = space->parse(a->canonical);
    ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
    EXPECT_EQ(parsed.value().key, a->key);
    const HparamSplit split = split_hparams(*space, *a);
    EXPECT_EQ(split.arch.primitives.size(), 6u);
    EXPECT_EQ(a->key, "lr=" + split.hparams[0].value + "/optimizer=" + split.hparams[1].value +
                          "/" + split.arch.key);
    ++lr_counts[split.hparams[0].value];
    ++optimizer_counts[split.hparams[1].value];
  }
  ASSERT_EQ(lr_counts.size(), 3u);
  ASSERT_EQ(optimizer_counts.size(), 2u);
  for (const auto& [value, n] : lr_counts) EXPECT_GT(n, 20) << value;  // uniform: about 40 each
  for (const auto& [value, n] : optimizer_counts) EXPECT_GT(n, 40) << value;
  // The same seed proposes the same sequence.
  auto again = strategy("random", *space, 5);
  auto first = strategy("random", *space, 5);
  for (int n = 0; n < 20; ++n) EXPECT_EQ(again->ask(n)->key, first->ask(n)->key);
}

TEST(HparamSearch, EvolutionClimbsToTheGoodLearningRate) {
  auto space = nb201_with_hparams();
  auto s = strategy("evolution", *space, 3);
  // Only the learning rate matters (and a little the ops): lr=0.01 is best.
  auto score = [&](const Architecture& a) {
    const HparamSplit split = split_hparams(*space, a);
    double v = split.hparams[0].value == "0.01" ? 10 : 0;
    for (const auto& p : split.arch.primitives) v += p == "nor_conv_3x3" ? 0.1 : 0;
    return v;
  };
  int good_in_last = 0;
  for (int n = 0; n < 80; ++n) {
    auto a = s->ask(n);
    ASSERT_TRUE(a.has_value()) << n;
    ASSERT_TRUE(space->parse(a->key).is_ok()) << a->key;
    Observation o;
    o.number = n;
    o.arch = *a;
    o.ok = true;
    o.value = score(*a);
    o.metrics["score"] = score(*a);
    s->tell(o);
    if (n >= 60) good_in_last += split_hparams(*space, *a).hparams[0].value == "0.01";
  }
  // Random proposals would have it a third of the time.
  EXPECT_GE(good_in_last, 14);
}

}  // namespace
}  // namespace sylva::search
