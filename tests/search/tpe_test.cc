// Decision contexts and the densities TPE and MCTS share, checked against
// hand-computed values; TPE's groups, constant liar and concentration on the
// good choices of a separable objective.
#include "search/tpe.h"

#include <gtest/gtest.h>

#include <set>

#include "search/decision_context.h"

namespace sylva::search {
namespace {

std::unique_ptr<Space> flat() {
  return space_from_source("flat", "net -> op op\nop -> \"conv3x3\" | \"skip\" | \"none\"\n")
      .value();
}

TEST(DecisionContexts, SameRuleAtEachPositionIsOneKindWithOneContextPerOccurrence) {
  auto space = flat();
  DecisionContexts contexts;
  auto keys = contexts.learn(*space, {0, 1});
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].kind, 0);
  EXPECT_EQ(keys[1].kind, 0);
  EXPECT_EQ(keys[0].context, 0);
  EXPECT_EQ(keys[1].context, 1);
  EXPECT_EQ(contexts.kind_count(), 1);
  EXPECT_EQ(contexts.kind_size(0), 3);
  // Another architecture reuses the ids.
  auto again = contexts.learn(*space, {2, 2});
  EXPECT_EQ(again[1].context, 1);
  EXPECT_EQ(contexts.context_count(), 2);

  // A recursive grammar: the k-th expansion of `op` wherever it happens.
  auto rec = space_from_source("rec", R"(%max-depth 4
net -> block
block -> op | block block
op -> "conv3x3" | "skip"
)")
                 .value();
  DecisionContexts r;
  auto arch = rec->parse("block block/op/conv3x3/op/skip").value();
  auto k = r.learn(*rec, arch.decisions);
  ASSERT_EQ(k.size(), 5u);  // block, block, op, block, op
  // At the depth limit `block` offers only `op`: another label set, so
  // another kind (statistics of a rule are not mixed with its cut version).
  EXPECT_NE(k[0].kind, k[1].kind);
  EXPECT_EQ(k[1].kind, k[3].kind);
  EXPECT_NE(k[1].context, k[3].context);
  EXPECT_EQ(k[2].kind, k[4].kind);
  EXPECT_NE(k[2].context, k[4].context);
  EXPECT_EQ(r.kind_count(), 3);
  EXPECT_EQ(r.context_count(), 5);
}

TEST(ChoiceCounts, DensityShrinksTheContextToTheKindAndTheKindToThePriors) {
  auto space = flat();
  DecisionContexts contexts;
  ChoiceCounts counts(contexts);
  const std::vector<int> first = {0, 1}, second = {0, 0};  // a/b, a/a
  counts.add(contexts.learn(*space, first), first);
  counts.add(contexts.learn(*space, second), second);
  const std::vector<Choice> choices = space->choices({});
  std::vector<double> p;
  // Kind `op`: a 3, b 1, c 0 of 4; with one pseudo-count at the priors 1/3:
  // a (3 + 1/3) / 5 = 2/3, b (1 + 1/3) / 5 = 4/15, c (1/3) / 5 = 1/15.
  // Position 0: a 2 of 2: a (2 + 2/3) / 3 = 8/9, b (4/15) / 3 = 4/45, c 1/45.
  counts.density({0, 0}, choices, 1.0, &p);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_NEAR(p[0], 8.0 / 9, 1e-12);
  EXPECT_NEAR(p[1], 4.0 / 45, 1e-12);
  EXPECT_NEAR(p[2], 1.0 / 45, 1e-12);
  // Position 1: a 1, b 1 of 2: a (1 + 2/3) / 3 = 5/9, b (1 + 4/15) / 3 = 19/45.
  counts.density({0, 1}, choices, 1.0, &p);
  EXPECT_NEAR(p[0], 5.0 / 9, 1e-12);
  EXPECT_NEAR(p[1], 19.0 / 45, 1e-12);
  EXPECT_NEAR(p[2], 1.0 / 45, 1e-12);
  // An unknown context falls back to the kind, an unknown kind to the priors.
  counts.density({0, -1}, choices, 1.0, &p);
  EXPECT_NEAR(p[1], 4.0 / 15, 1e-12);
  counts.density({-1, -1}, choices, 1.0, &p);
  EXPECT_NEAR(p[2], 1.0 / 3, 1e-12);
  // Taking an architecture out again restores the counts exactly.
  counts.add(contexts.learn(*space, second), second, -1.0);
  counts.density({0, 0}, choices, 1.0, &p);
  // Left: a/b. Kind: a 1, b 1 of 2: a (1 + 1/3) / 3 = 4/9; position 0: a 1
  // of 1: (1 + 4/9) / 2 = 13/18.
  EXPECT_NEAR(p[0], 13.0 / 18, 1e-12);
}

std::unique_ptr<Strategy> tpe(const Space& space, uint64_t seed, StrategyParams params = {}) {
  StrategyContext ctx;
  ctx.space = &space;
  ctx.seed = seed;
  ctx.params = std::move(params);
  return make_strategy("tpe", ctx).value();
}

// Six decisions of five choices; choice 3 is best at every position.
double separable(const Architecture& a) {
  double v = 0;
  for (int d : a.decisions) v += d == 3 ? 1.0 : d == 0 ? -1.0 : 0.1 * d;
  return v;
}

Observation observe(int64_t n, const Architecture& a) {
  Observation o;
  o.number = n;
  o.arch = a;
  o.ok = true;
  o.value = separable(a);
  return o;
}

TEST(Tpe, ConcentratesOnTheGoodChoicesAfterItsStartupTrials) {
  auto space = make_space("nb201").value();
  int good = 0, startup_good = 0;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    auto s = tpe(*space, seed);
    for (int n = 0; n < 60; ++n) {
      auto a = s->ask(n);
      ASSERT_TRUE(a.has_value());
      for (int d : a->decisions) {
        if (n < 10) startup_good += d == 3;
        if (n >= 40) good += d == 3;
      }
      s->tell(observe(n, *a));
    }
  }
  // Startup trials are drawn by the priors (1 in 5); the last 20 of 60 take
  // the best choice at most positions.
  EXPECT_LT(startup_good, 5 * 10 * 6 * 0.35);
  EXPECT_GT(good, 5 * 20 * 6 * 0.6);
}

TEST(Tpe, PendingTrialsCountAsBadSoParallelAsksSpread) {
  // The same state, asked twice for the same number: with the first proposal
  // still pending, the second differs and is scored against it.
  auto space = make_space("nb201").value();
  auto s = tpe(*space, 4);
  for (int n = 0; n < 20; ++n) s->tell(observe(n, *s->ask(n)));
  auto a = s->ask(20);
  auto b = s->ask(21);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->key, b->key);
  // Replayed as the loop does on resume (finished in order, then the
  // unfinished as pending), the next proposal is the same.
  auto full = tpe(*space, 4);
  std::vector<Architecture> trace;
  for (int n = 0; n < 20; ++n) {
    trace.push_back(*full->ask(n));
    full->tell(observe(n, trace.back()));
  }
  full->ask(20);
  auto resumed = tpe(*space, 4);
  for (int n = 0; n < 20; ++n) resumed->tell(observe(n, trace[n]));
  resumed->pending(*a);
  EXPECT_EQ(resumed->ask(21)->key, b->key);
  EXPECT_EQ(full->ask(21)->key, b->key);
}

TEST(Tpe, WithdrawnProposalsAreNeverProposedAndTeachNothing) {
  // What the proxy filter rejects is told back withdrawn. A tpe that asked
  // 12 proposals and had each withdrawn has finished nothing: it is still in
  // its 10 startup trials, drawing by the priors exactly as a fresh tpe
  // does (as failures they would have ended the startup and, later, filled
  // the bad group with what the good density proposes). It never proposes
  // a withdrawn architecture again.
  auto space = make_space("nb201").value();
  auto screened = tpe(*space, 9), fresh = tpe(*space, 9);
  std::set<std::string> withdrawn;
  for (int n = 0; n < 12; ++n) {
    Observation o;
    o.number = n;
    o.arch = *screened->ask(n);
    o.withdrawn = true;
    o.metrics["params"] = 1;
    screened->tell(o);
    withdrawn.insert(o.arch.key);
  }
  for (int n = 100; n < 110; ++n) {
    const std::string key = screened->ask(n)->key;
    EXPECT_EQ(key, fresh->ask(n)->key) << n;
    EXPECT_EQ(withdrawn.count(key), 0u) << n;
  }
  // After the startup, with densities in use, none comes back either.
  for (int n = 0; n < 20; ++n) screened->tell(observe(200 + n, *screened->ask(200 + n)));
  for (int n = 300; n < 400; ++n) EXPECT_EQ(withdrawn.count(screened->ask(n)->key), 0u) << n;
}

TEST(Tpe, OptionsAreChecked) {
  auto space = flat();
  StrategyContext ctx;
  ctx.space = space.get();
  ctx.params = {{"tpe-gamma", "2"}};
  auto bad = make_strategy("tpe", ctx);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("--tpe-gamma"), std::string::npos)
      << bad.status().message();
  ctx.params = {{"population", "4"}};
  EXPECT_EQ(make_strategy("tpe", ctx).status().message(),
            "--population does not apply to --strategy tpe");
}

}  // namespace
}  // namespace sylva::search
