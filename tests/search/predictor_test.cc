// Accuracy predictors and predictor-assisted search on the once-for-all
// configuration space, against synthetic objectives with known structure:
// ridge recovers an objective linear in the encoding, the MLP fits an
// interaction ridge cannot, and with the same number of real evaluations the
// predictor-assisted strategy finds better configurations than the strategy alone.
#include "search/predictor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "search/pareto.h"
#include "search/predictor_assisted.h"
#include "spaces/supernets/ofa/ofa_space.h"

namespace sylva::search {
namespace {

const ofa::OfaSpace& space() {
  static const ofa::OfaSpace s("ofa", ofa::OfaSpec{});
  return s;
}

// Linear in the encoding, and not monotone in size: kernel 5 and expand 4
// are best, resolution 24 beats 28, every extra block of a bad kind costs.
double linear_score(const ofa::OfaConfig& c) {
  double v = c.resolution == 24 ? 2 : c.resolution == 28 ? 1 : 0;
  for (size_t s = 0; s < c.depth.size(); ++s) {
    for (int64_t b = 0; b < c.depth[s]; ++b) {
      v += (c.kernel[s][b] == 5 ? 0.8 : c.kernel[s][b] == 7 ? -0.6 : 0.1) * (1 + 0.3 * s);
      v += c.expand[s][b] == 4 ? 0.5 : c.expand[s][b] == 6 ? -0.4 : 0.0;
    }
  }
  return v;
}

// An interaction: high only when the first and last stages agree in depth.
double interaction_score(const ofa::OfaConfig& c) {
  return c.depth.front() == c.depth.back() ? 1 : 0;
}

std::vector<Architecture> samples(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Architecture> out;
  for (int i = 0; i < n; ++i) out.push_back(sample_by_priors(space(), rng));
  return out;
}

ofa::OfaConfig config_of(const Architecture& a) { return space().config(a.decisions).value(); }

TEST(Predictor, RidgeRecoversAnObjectiveLinearInTheEncoding) {
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (const auto& a : samples(300, 1)) {
    x.push_back(space().encode(a.decisions));
    y.push_back(linear_score(config_of(a)));
  }
  EXPECT_EQ(x.front().size(), 3u + 4 * (3 + 4 * (3 + 3)));
  auto ridge = make_predictor("ridge", 0).value();
  ridge->fit(x, y);
  double worst = 0, spread = 0;
  for (const auto& a : samples(200, 2)) {
    const double truth = linear_score(config_of(a));
    worst = std::max(worst, std::abs(ridge->predict(space().encode(a.decisions)) - truth));
    spread = std::max(spread, std::abs(truth));
  }
  EXPECT_LT(worst, 0.04 * spread) << worst << " of " << spread;
}

TEST(Predictor, TheMlpFitsAnInteractionRidgeCannot) {
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (const auto& a : samples(120, 3)) {
    x.push_back(space().encode(a.decisions));
    y.push_back(interaction_score(config_of(a)));
  }
  auto mse = [&](Predictor& p) {
    double e = 0;
    for (size_t i = 0; i < x.size(); ++i) e += std::pow(p.predict(x[i]) - y[i], 2);
    return e / static_cast<double>(x.size());
  };
  auto ridge = make_predictor("ridge", 0).value();
  auto mlp = make_predictor("mlp", 5).value();
  ridge->fit(x, y);
  mlp->fit(x, y);
  const double r = mse(*ridge), m = mse(*mlp);
  EXPECT_LT(m, 0.5 * r) << "mlp " << m << " ridge " << r;
  // Seeded: the same seed fits the same function.
  auto again = make_predictor("mlp", 5).value();
  again->fit(x, y);
  EXPECT_EQ(again->predict(x[7]), mlp->predict(x[7]));
  EXPECT_EQ(make_predictor("forest", 0).status().message(),
            "--predictor must be ridge or mlp, got 'forest'");
}

StrategyContext context(uint64_t seed, std::vector<Objective> objectives) {
  StrategyContext ctx;
  ctx.space = &space();
  ctx.seed = seed;
  ctx.objectives = std::move(objectives);
  return ctx;
}

// `trials` real evaluations of the linear score (and the analytic flops),
// one at a time; the architectures asked, in order.
std::vector<Architecture> search(Strategy& s, int trials) {
  std::vector<Architecture> asked;
  for (int n = 0; n < trials; ++n) {
    auto a = s.ask(n);
    if (!a) break;
    Observation o;
    o.number = n;
    o.arch = *a;
    o.ok = true;
    o.metrics = space().known_metrics(a->decisions);
    o.metrics["val_acc"] = linear_score(config_of(*a));
    o.value = o.metrics["val_acc"];
    s.tell(o);
    asked.push_back(*a);
  }
  return asked;
}

double best(const std::vector<Architecture>& asked) {
  double b = -1e9;
  for (const auto& a : asked) b = std::max(b, linear_score(config_of(a)));
  return b;
}

TEST(PredictorAssisted, FindsBetterConfigurationsForTheSameRealEvaluations) {
  PredictorOptions p;
  p.warmup = 10;
  p.steps = 300;
  p.batch = 5;
  double with = 0, without = 0;
  for (uint64_t seed : {1, 2, 3}) {
    auto ctx = context(seed, {{"val_acc", true}});
    auto assisted = make_predictor_assisted("evolution", ctx, p).value();
    const auto asked = search(*assisted, 30);
    ASSERT_EQ(asked.size(), 30u);
    std::set<std::string> distinct;
    for (const auto& a : asked) distinct.insert(a.canonical);
    EXPECT_EQ(distinct.size(), 30u);  // nothing evaluated twice
    with += best(asked);
    without += best(search(*make_strategy("evolution", ctx).value(), 30));
    // Seeded: the same trace again.
    auto again = make_predictor_assisted("evolution", ctx, p).value();
    const auto repeat = search(*again, 30);
    for (size_t i = 0; i < asked.size(); ++i) EXPECT_EQ(repeat[i].canonical, asked[i].canonical);
  }
  EXPECT_GT(with, without + 9) << "with " << with / 3 << " without " << without / 3;
}

TEST(PredictorAssisted, PredictsOnlyWhatTheSpaceDoesNotKnow) {
  // val_acc is predicted, flops known exactly: NSGA-II against the predictor
  // proposes configurations across the trade-off.
  PredictorOptions p;
  p.warmup = 8;
  p.steps = 200;
  p.batch = 4;
  auto ctx = context(4, {{"val_acc", true}, {"flops", false}});
  auto assisted = make_predictor_assisted("nsga2", ctx, p).value();
  const auto asked = search(*assisted, 24);
  ASSERT_EQ(asked.size(), 24u);
  std::vector<std::vector<double>> points;
  for (const auto& a : asked) {
    points.push_back({linear_score(config_of(a)), -space().known_metrics(a.decisions).at("flops")});
  }
  const std::vector<int> ranks = pareto_ranks(points);
  int front = 0;
  for (int r : ranks) front += r == 0;
  EXPECT_GE(front, 4);
  // Bad options are named.
  p.kind = "svm";
  EXPECT_EQ(make_predictor_assisted("nsga2", ctx, p).status().message(),
            "--predictor must be ridge or mlp, got 'svm'");
  p.kind = "ridge";
  p.warmup = 1;
  EXPECT_EQ(make_predictor_assisted("nsga2", ctx, p).status().message(),
            "--predictor-warmup must be >= 2, got 1");
  p.warmup = 8;
  ctx.params["uct-c"] = "1";
  EXPECT_EQ(make_predictor_assisted("nsga2", ctx, p).status().message(),
            "--uct-c does not apply to --strategy nsga2");
}

}  // namespace
}  // namespace sylva::search
