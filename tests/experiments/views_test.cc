// The views of `sylva report` and `sylva dashboard`: fronts, hypervolumes,
// variance shares and thinning against brute force on seeded random data;
// what each view holds for a known experiment; text that cannot break out
// of a <script> element.
#include "experiments/views.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <set>

#include "experiments/report.h"
#include "spaces/space.h"

namespace sylva::experiments {
namespace {

using Point = std::pair<double, double>;

std::vector<Point> random_points(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> coord(0, 60);  // ties on purpose
  std::vector<Point> pts;
  for (size_t i = 0; i < n; ++i) pts.push_back({coord(rng), coord(rng)});
  return pts;
}

bool dominated(const Point& p, const std::vector<Point>& pts) {
  for (const Point& q : pts) {
    if (q.first <= p.first && q.second <= p.second && q != p) return true;
  }
  return false;
}

TEST(ViewsTest, TheTwoObjectiveFrontIsTheBruteForceOne) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    const std::vector<Point> pts = random_points(300, seed);
    std::multiset<Point> expected;
    for (const Point& p : pts) {
      if (!dominated(p, pts)) expected.insert(p);  // equal points: each of them
    }
    std::multiset<Point> got;
    double last_first = -1;
    for (size_t i : front_2d(pts)) {
      EXPECT_GE(pts[i].first, last_first) << "by the first";
      last_first = pts[i].first;
      got.insert(pts[i]);
    }
    EXPECT_EQ(got, expected) << "seed " << seed;
  }
}

TEST(ViewsTest, HypervolumeOfAKnownStaircase) {
  const std::vector<Point> pts = {{1, 3}, {2, 2}, {3, 1}, {2.5, 2.5}, {5, 0}};
  // (5, 0) lies outside the reference (4, 4): it adds nothing.
  const std::vector<double> hv = hypervolume_2d_over(pts, {4, 4}, {0, 1, 2, 3, 4});
  ASSERT_EQ(hv.size(), 5u);
  EXPECT_DOUBLE_EQ(hv[0], 3);  // (4-1) x (4-3)
  EXPECT_DOUBLE_EQ(hv[1], 5);  // + (4-2) x (3-2)
  EXPECT_DOUBLE_EQ(hv[2], 6);  // + (4-3) x (2-1)
  EXPECT_DOUBLE_EQ(hv[3], 6);  // dominated by (2, 2)
  EXPECT_DOUBLE_EQ(hv[4], 6);
}

TEST(ViewsTest, HypervolumeOverTrialsMatchesCountingUnitCells) {
  // Integer points: the dominated area is the number of unit cells
  // [x, x+1) x [y, y+1) below the reference that some point dominates.
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    const std::vector<Point> pts = random_points(200, seed);
    const Point ref = {61, 61};
    std::vector<size_t> checkpoints = {0, 9, 49, 199};
    const std::vector<double> hv = hypervolume_2d_over(pts, ref, checkpoints);
    for (size_t c = 0; c < checkpoints.size(); ++c) {
      std::vector<Point> seen(pts.begin(), pts.begin() + checkpoints[c] + 1);
      double cells = 0;
      for (int x = 0; x < 61; ++x) {
        for (int y = 0; y < 61; ++y) {
          for (const Point& p : seen) {
            if (p.first <= x && p.second <= y) {
              ++cells;
              break;
            }
          }
        }
      }
      EXPECT_DOUBLE_EQ(hv[c], cells) << "seed " << seed << " after " << checkpoints[c] + 1;
    }
  }
}

TEST(ViewsTest, VarianceShareIsEtaSquared) {
  // Groups that determine y explain all of it; a constant explains nothing.
  EXPECT_DOUBLE_EQ(variance_share({1, 1, 5, 5}, {0, 0, 1, 1}, 2), 1);
  EXPECT_DOUBLE_EQ(variance_share({3, 3, 3}, {0, 1, 0}, 2), 0);
  // y = 0, 2 | 1, 3: means 1 and 2 around 1.5; between 4 x 0.25 = 1, total 5.
  EXPECT_DOUBLE_EQ(variance_share({0, 2, 1, 3}, {0, 0, 1, 1}, 2), 0.2);
}

TEST(ViewsTest, UtcTimesReadAsTheStoreWritesThem) {
  EXPECT_DOUBLE_EQ(parse_utc("1970-01-01T00:00:00.000Z"), 0);
  std::tm tm = {};
  tm.tm_year = 2026 - 1900, tm.tm_mon = 11, tm.tm_mday = 1, tm.tm_hour = 18, tm.tm_min = 7;
  tm.tm_sec = 9;
  EXPECT_DOUBLE_EQ(parse_utc("2026-12-01T18:07:09.250Z"), static_cast<double>(timegm(&tm)) + 0.25);
  EXPECT_DOUBLE_EQ(parse_utc("2024-02-29T00:00:00Z"), 1709164800);
  EXPECT_TRUE(std::isnan(parse_utc("")));
  EXPECT_TRUE(std::isnan(parse_utc("yesterday at noon")));
}

TEST(ViewsTest, ScriptSafeTextCannotCloseTheScript) {
  const nlohmann::json v = {{"name", "</script><script>alert(1)</script>&amp;<!--"}};
  const std::string text = script_safe(v);
  EXPECT_EQ(text.find('<'), std::string::npos) << text;
  EXPECT_EQ(text.find('>'), std::string::npos);
  EXPECT_EQ(text.find('&'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(text), v);
}

// An experiment of the nas-bench-macro space in which the first layer alone
// decides val_acc (identity 50, mbconv_e3_k3 70, mbconv_e6_k5 90) and params
// falls as val_acc rises except for every third trial.
ExperimentData known_experiment(int n, const std::string& objective = "val_acc:max,params:min") {
  ExperimentData d;
  d.row.id = 1;
  d.row.name = "known";
  d.row.created_at = "2026-12-01T10:00:00.000Z";
  auto space = make_space("nas-bench-macro");
  d.config.options = {
      {"space", "nas-bench-macro"},  {"evaluator", "stub"}, {"strategy", "random"},
      {"trials", std::to_string(n)}, {"seed", "3"},         {"objective", objective}};
  d.config.space_source = space.value()->source();
  const std::vector<std::string> ops = {"identity", "mbconv_e3_k3", "mbconv_e6_k5"};
  for (int i = 0; i < n; ++i) {
    TrialRow t;
    t.number = i;
    t.id = i + 1;
    std::vector<int> decisions;
    std::string key, canonical = "[net";
    for (int k = 0; k < 8; ++k) {
      const int c = (i / (k == 0 ? 1 : 3 * k)) % 3;
      key += (k ? "/" : "") + ops[c];
      canonical += " [layer " + ops[c] + "]";
      if (k == 0) decisions.push_back(c);
    }
    t.arch_key = key;
    t.arch_canonical = canonical + "]";
    t.worker = i % 2 ? "host:2.2" : "host:1.1";
    t.created_at = "2026-12-01T10:00:00.000Z";
    t.started_at = fmt::format("2026-12-01T10:{:02d}:{:02d}.000Z", i / 60, i % 60);
    t.finished_at = fmt::format("2026-12-01T10:{:02d}:{:02d}.500Z", i / 60, i % 60);
    if (i % 10 == 9) {
      t.state = TrialState::kFail;
      t.message = "out of memory";
    } else {
      t.state = TrialState::kComplete;
      const double acc = 50 + 20 * decisions[0];
      t.metrics = {{"val_acc", acc}, {"params", i % 3 == 0 ? 1e6 : 1e6 - acc * 1000 + i}};
    }
    d.trials.push_back(t);
  }
  d.workers.push_back({1, "host:1.1", "host", 1, "m", 1, "EXITED", "", "", false, {}, {}});
  d.workers.push_back({2, "host:2.2", "host", 2, "m", 1, "EXITED", "", "", false, {}, {}});
  d.events.push_back({4, "2026-12-01T10:00:04.200Z", "requeued", "host:1.1"});
  return d;
}

TEST(ViewsTest, AKnownExperimentsViewsHoldEveryTrial) {
  const ExperimentData d = known_experiment(60);
  const nlohmann::json v = experiment_views(d);
  EXPECT_EQ(v["summary"]["states"]["COMPLETE"], 54);
  EXPECT_EQ(v["summary"]["states"]["FAIL"], 6);
  EXPECT_EQ(v["summary"]["workers"], 2);
  EXPECT_EQ(v["summary"]["best"]["value"], 90);
  EXPECT_EQ(v["summary"]["best"]["number"], 2);  // the first with mbconv_e6_k5 first
  // History: every completed trial, the failures, two improvements (50 -> 70 -> 90).
  EXPECT_EQ(v["history"]["complete"].size(), 54u);
  EXPECT_EQ(v["history"]["failed"].size(), 6u);
  ASSERT_EQ(v["history"]["best"].size(), 3u);
  EXPECT_EQ(v["history"]["best"][2][0], 2);
  EXPECT_EQ(v["history"]["note"], "");
  // Importance: the first layer explains all of val_acc, named by its rule.
  const auto& decisions = v["importance"]["decisions"];
  ASSERT_GE(decisions.size(), 1u);
  EXPECT_EQ(decisions[0]["name"], "layer 1");
  EXPECT_DOUBLE_EQ(decisions[0]["share"].get<double>(), 1.0);
  for (size_t i = 1; i < decisions.size(); ++i) EXPECT_LT(decisions[i]["share"].get<double>(), 1.0);
  // Pareto: val_acc max and params min; the front is not dominated.
  const auto& p = v["pareto"];
  EXPECT_EQ(p["counts"]["scored"], 54);
  EXPECT_EQ(p["front"].size() + p["dominated"].size(), 54u);
  for (const auto& f : p["front"]) {
    for (const auto& q : p["dominated"]) {
      EXPECT_FALSE(q[0] >= f[0] && q[1] <= f[1] && (q[0] > f[0] || q[1] < f[1]))
          << "trial " << q[2] << " dominates front trial " << f[2];
    }
  }
  // The hypervolume never falls.
  const auto& hv = p["hypervolume"];
  ASSERT_EQ(hv.size(), 54u);
  for (size_t i = 1; i < hv.size(); ++i) EXPECT_GE(hv[i][1], hv[i - 1][1]);
  // Timeline: one bar per trial on its worker, the re-queue marked.
  EXPECT_EQ(v["timeline"]["workers"], (nlohmann::json{"host:1.1", "host:2.2"}));
  EXPECT_EQ(v["timeline"]["bars"].size(), 60u);
  ASSERT_EQ(v["timeline"]["marks"].size(), 1u);
  EXPECT_EQ(v["timeline"]["marks"][0][2], "requeued");
  // The best five, drawn as a chain (the space's builder).
  EXPECT_EQ(v["best"]["trials"].size(), 5u);
  EXPECT_EQ(v["best"]["builder"], "chain");
}

TEST(ViewsTest, LargePlotsAreThinnedAndSaySo) {
  const ExperimentData d = known_experiment(3000);
  ViewLimits small;
  small.history_points = 100;
  small.scatter_points = 25;
  small.timeline_bars = 50;
  small.hypervolume_points = 40;
  const nlohmann::json v = experiment_views(d, small);
  EXPECT_LE(v["history"]["complete"].size(), 100u);
  EXPECT_NE(v["history"]["note"].get<std::string>().find("2700 completed trials shown as"),
            std::string::npos)
      << v["history"]["note"];
  // The extremes of every bin survive: the lowest and highest values.
  double lo = 1e9, hi = -1e9;
  for (const auto& q : v["history"]["complete"]) {
    lo = std::min(lo, q[2].get<double>()), hi = std::max(hi, q[2].get<double>());
  }
  EXPECT_EQ(lo, 50);
  EXPECT_EQ(hi, 90);
  EXPECT_LE(v["pareto"]["dominated"].size(), 25u);
  EXPECT_NE(v["pareto"]["note"].get<std::string>().find("dominated trials shown as"),
            std::string::npos);
  EXPECT_EQ(v["pareto"]["hypervolume"].size(), 40u);
  EXPECT_LT(v["timeline"]["bars"].size(), 3000u);
  EXPECT_NE(v["timeline"]["note"].get<std::string>().find("3000 trials drawn as"),
            std::string::npos);
}

TEST(ViewsTest, TrialColumnsDecodeToTheKeysAndMetrics) {
  const ExperimentData d = known_experiment(30);
  const nlohmann::json c = trial_columns(d, 10);
  EXPECT_EQ(c["first"], 10);
  ASSERT_EQ(c["count"], 20);
  for (int i = 0; i < 20; ++i) {
    std::string key;
    std::string code = c["key"][i];
    size_t start = 0;
    while (true) {
      const size_t dot = code.find('.', start);
      key += (start ? "/" : "") +
             c["labels"][std::stoi(code.substr(start, dot - start))].get<std::string>();
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    EXPECT_EQ(key, d.trials[10 + i].arch_key);
    EXPECT_EQ(c["number"][i], 10 + i);
    EXPECT_EQ(c["states"][c["state"][i].get<int>()], state_name(d.trials[10 + i].state));
    EXPECT_DOUBLE_EQ(c["seconds"][i].get<double>(), 0.5);
  }
  EXPECT_EQ(c["metric_names"][0], "val_acc");
  EXPECT_TRUE(c["metrics"]["val_acc"][9].is_null());  // trial 19 failed
  EXPECT_EQ(c["messages"]["19"], "out of memory");
}

TEST(ViewsTest, ExperimentsThatDifferOnlyBySeedGetAMeanAndSpread) {
  ExperimentData a = known_experiment(30, "val_acc:max"), b = known_experiment(30, "val_acc:max");
  ExperimentData other = known_experiment(30, "val_acc:max");
  a.row.name = "a", b.row.name = "b", other.row.name = "other";
  b.config.options["seed"] = "4";
  other.config.options["strategy"] = "evolution";
  // b is worse for its first five trials.
  for (int i = 0; i < 5; ++i) b.trials[i].metrics["val_acc"] = 10;
  const nlohmann::json c = comparison_view({&a, &b, &other});
  ASSERT_EQ(c["plots"].size(), 1u);
  const auto& plot = c["plots"][0];
  EXPECT_EQ(plot["series"].size(), 3u);
  ASSERT_EQ(plot["seeds"].size(), 1u);
  EXPECT_EQ(plot["seeds"][0]["names"], (nlohmann::json{"a", "b"}));
  // After 3 trials: a has 90 (trial 2), b 10; mean 50, spread 10..90.
  const auto& mean = plot["seeds"][0]["mean"];
  EXPECT_EQ(mean[2][0], 3);
  EXPECT_EQ(mean[2][1], 50);
  EXPECT_EQ(plot["seeds"][0]["min"][2][1], 10);
  EXPECT_EQ(plot["seeds"][0]["max"][2][1], 90);
  // After 6 trials both have found 90.
  EXPECT_EQ(mean[5][1], 90);
}

TEST(ViewsTest, AContinuousHyperparameterIsBinnedBeforeItsShareIsTaken) {
  // lr decides val_acc; wd, every trial its own value too, does not. One
  // group per value would give both a share of 1.
  ExperimentData d = known_experiment(1, "val_acc:max");
  d.trials.clear();
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < 400; ++i) {
    TrialRow t;
    t.number = i;
    t.state = TrialState::kComplete;
    const double lr = 0.001 + 0.1 * unit(rng), wd = unit(rng) / 1000;
    t.arch_key = fmt::format("lr={:.6g}/wd={:.6g}/identity", lr, wd);
    t.metrics["val_acc"] = 50 + 400 * lr + unit(rng);
    d.trials.push_back(t);
  }
  const nlohmann::json v = experiment_views(d);
  const auto& decisions = v["importance"]["decisions"];
  ASSERT_EQ(decisions.size(), 2u);  // the architecture never varies
  EXPECT_EQ(decisions[0]["name"], "lr");
  EXPECT_GT(decisions[0]["share"].get<double>(), 0.9);
  EXPECT_EQ(decisions[1]["name"], "wd");
  EXPECT_LT(decisions[1]["share"].get<double>(), 0.1);
  // Eight ranges of about 50 trials each, in order.
  const auto& bins = decisions[0]["choices"];
  ASSERT_EQ(bins.size(), 8u);
  for (const auto& b : bins) {
    EXPECT_NEAR(b["count"].get<int>(), 50, 1) << b;
    EXPECT_NE(b["label"].get<std::string>().find(".."), std::string::npos);
  }
  for (size_t k = 1; k < bins.size(); ++k) {
    EXPECT_GT(bins[k]["mean"].get<double>(), bins[k - 1]["mean"].get<double>());
  }
}

TEST(ViewsTest, EdgeCasesFoundInReview) {
  ExperimentData d = known_experiment(12);
  // A re-queue mark goes to the worker the message names exactly, not to
  // one whose label is a prefix of it.
  d.workers = {{1, "gpu.1", "gpu", 1, "m", 1, "EXITED", "", "", false, {}, {}},
               {2, "gpu.12", "gpu", 2, "m", 1, "EXITED", "", "", false, {}, {}}};
  for (TrialRow& t : d.trials) t.worker = t.number % 2 ? "gpu.12" : "gpu.1";
  d.events = {{4, "2026-12-01T10:00:04.200Z", "requeued",
               "worker gpu.12 lost (its process is gone) while other trials finished"}};
  // Trial 1 finishes last, with the best value: by time it is the last record.
  d.trials[1].finished_at = "2026-12-01T10:05:00.000Z";
  d.trials[1].metrics["val_acc"] = 95;
  nlohmann::json v = experiment_views(d);
  ASSERT_EQ(v["timeline"]["marks"].size(), 1u);
  EXPECT_EQ(v["timeline"]["workers"][v["timeline"]["marks"][0][0].get<int>()], "gpu.12");
  const auto& by_time = v["history"]["best_by_time"];
  ASSERT_GE(by_time.size(), 2u);
  EXPECT_EQ(by_time.back()[0], 1);
  EXPECT_EQ(by_time.back()[2], 95);
  for (size_t k = 1; k < by_time.size(); ++k) {
    EXPECT_GE(by_time[k][1].get<double>(), by_time[k - 1][1].get<double>());
    EXPECT_GT(by_time[k][2].get<double>(), by_time[k - 1][2].get<double>());
  }
  EXPECT_EQ(v["history"]["best"][1][0], 1);  // by number, 95 comes second
  // A constant objective of a large magnitude still has an area.
  for (TrialRow& t : d.trials) {
    if (t.state == TrialState::kComplete) t.metrics["params"] = 1.2e6;
  }
  v = experiment_views(d);
  EXPECT_GT(v["pareto"]["hypervolume"].back()[1].get<double>(), 0);
  // Limits of zero draw little but do not fail.
  ViewLimits zero;
  zero.history_points = zero.scatter_points = zero.curves = zero.curve_steps = zero.lines = 0;
  zero.timeline_bars = zero.timeline_marks = zero.hypervolume_points = zero.comparison_points = 0;
  zero.best = 0;
  v = experiment_views(known_experiment(50), zero);
  EXPECT_LE(v["history"]["complete"].size(), 4u);
  EXPECT_EQ(v["best"]["trials"].size(), 1u);
}

TEST(ViewsTest, TheParetoTableOfTwoObjectivesIsTheNonDominatedSortsFront) {
  // sylva best --pareto sorts two objectives instead of comparing all pairs:
  // the same trials in the same order, ties included.
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> coord(0, 40);
  std::vector<TrialRow> trials;
  for (int i = 0; i < 400; ++i) {
    TrialRow t;
    t.number = i;
    t.state = i % 13 == 0 ? TrialState::kFail : TrialState::kComplete;
    t.arch_key = "k" + std::to_string(i);
    if (t.state == TrialState::kComplete) {
      t.metrics = {{"acc", coord(rng)}, {"params", coord(rng)}};
    }
    trials.push_back(t);
  }
  const std::vector<Objective> objectives = {{"acc", true}, {"params", false}};
  const Table table = pareto_table(trials, objectives);
  // Brute force: not dominated by any completed trial.
  std::vector<std::string> expected;
  for (const TrialRow& t : ranked(trials, objectives[0])) {
    bool dominated = false;
    for (const TrialRow& o : trials) {
      if (o.state != TrialState::kComplete) continue;
      const double a = o.metrics.at("acc"), p = o.metrics.at("params");
      const double ta = t.metrics.at("acc"), tp = t.metrics.at("params");
      dominated |= a >= ta && p <= tp && (a > ta || p < tp);
    }
    if (!dominated) expected.push_back(t.arch_key);
  }
  std::vector<std::string> got;
  const size_t key =
      std::find(table.columns.begin(), table.columns.end(), "key") - table.columns.begin();
  for (const auto& row : table.rows) got.push_back(row[key]);
  EXPECT_EQ(got, expected);
  EXPECT_GE(got.size(), 3u);
}

}  // namespace
}  // namespace sylva::experiments
