// Successive halving in the experiment loop (run_cluster and its RungBook):
// every rung's result and every promotion is in the database, the best of
// each rung is promoted once, each run of a trial is at its rung's budget
// and continues the rung before it, and a coordinator rebuilt from the
// database tells strategies the first rung's values and promotes what is
// due, never a trial twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "experiments/cluster.h"
#include "experiments/rung_book.h"
#include "search/strategy.h"
#include "tests/experiments/recording_strategy.h"

namespace sylva::experiments {
namespace {

using evaluators::EvalResult;
using evaluators::Job;
using evaluators::Reporter;

// A distinct quality per architecture: its ops read as a base-3 number.
double quality(const Architecture& arch) {
  double a = 0;
  for (const auto& p : arch.primitives) a = 3 * a + (p == "conv3x3" ? 2 : p == "skip" ? 1 : 0);
  return 1 + a;
}

// acc(e) = a (1 - 0.5 / e): every rung ranks architectures by a.
double curve(double a, int64_t epochs) { return a * (1 - 0.5 / static_cast<double>(epochs)); }

class CurveEvaluator : public evaluators::Evaluator {
 public:
  EvalResult evaluate(const Job& job, Reporter&) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      runs_.push_back({job.trial_number, job.epochs, job.previous_epochs});
    }
    EvalResult r;
    r.metrics["val_acc"] = curve(quality(job.arch), job.epochs);
    return r;
  }
  struct Run {
    int64_t number, epochs, previous;
  };
  std::vector<Run> runs() {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_;
  }

 private:
  std::mutex mu_;
  std::vector<Run> runs_;  // Guarded by mu_
};

class HalvingLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sylva-halving-XXXXXX";
    dir_ = mkdtemp(tmpl);
    space_ =
        space_from_source("toy", "net -> op op op op\nop -> \"conv3x3\" | \"skip\" | \"none\"\n")
            .value();
    store_ = Store::open(dir_ + "/h.db").value();
    exp_ = store_->create_experiment("h", "{}").value();
    options_.trials = 27;
    options_.workers = 1;
    options_.seed = 4;
    options_.keep_weights = 0;
    options_.worker_name = "test:1";
    options_.min_budget = 1;
    options_.max_budget = 9;
    options_.eta = 3;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ClusterHooks hooks() {
    ClusterHooks h;
    h.new_strategy = [this]() -> StatusOr<std::unique_ptr<search::Strategy>> {
      search::StrategyContext ctx;
      ctx.space = space_.get();
      ctx.seed = options_.seed;
      SYLVA_ASSIGN(inner, search::make_strategy("random", ctx));
      return std::unique_ptr<search::Strategy>(new RecordingStrategy(std::move(inner), log_));
    };
    return h;
  }

  std::string dir_;
  std::unique_ptr<Space> space_;
  std::unique_ptr<Store> store_;
  int64_t exp_ = 0;
  RunOptions options_;
  StrategyLog log_;
};

TEST_F(HalvingLoopTest, PromotesTheBestOfEachRungOnceAndRecordsEveryRung) {
  CurveEvaluator ev;
  auto r = run_cluster(*store_, exp_, *space_, ev, options_, hooks(), nullptr);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(store_->counts(exp_, 60).closed, "budget");
  const std::vector<TrialRow> trials = store_->trials(exp_);
  ASSERT_EQ(trials.size(), 27u);

  std::map<int64_t, std::map<int, double>> rung_values;  // number -> epochs -> value
  for (const IntermediateRow& v : store_->intermediates(exp_)) {
    if (v.name == kRungValue) rung_values[v.trial_number][v.step] = v.value;
  }
  std::map<int64_t, std::vector<std::string>> promotions;  // number -> messages
  for (const EventRow& e : store_->events(exp_)) {
    if (e.event == "promoted") promotions[e.trial_number].push_back(e.message);
  }
  std::vector<std::pair<double, int64_t>> by_quality;  // (a, epochs reached)
  for (const TrialRow& t : trials) {
    const double a = quality(space_->parse(t.arch_canonical).value());
    const auto epochs = static_cast<int64_t>(t.metrics.at("epochs"));
    EXPECT_EQ(t.state, epochs == 9 ? TrialState::kComplete : TrialState::kPruned) << t.number;
    EXPECT_DOUBLE_EQ(t.metrics.at("val_acc"), curve(a, epochs)) << t.number;
    // A result at every rung reached, none above; a promotion into each.
    std::map<int, double> expected;
    std::vector<std::string> moves;
    for (int64_t e : {1, 3, 9}) {
      if (e > epochs) break;
      expected[static_cast<int>(e)] = curve(a, e);
      if (e > 1) moves.push_back("to " + std::to_string(e) + " epochs");
    }
    EXPECT_EQ(rung_values[t.number], expected) << t.number;
    EXPECT_EQ(promotions[t.number], moves) << t.number;
    // The strategy heard the trial once, with its first rung's value.
    EXPECT_EQ(std::count(log_.told.begin(), log_.told.end(), t.number), 1) << t.number;
    EXPECT_EQ(log_.values.at(t.number), curve(a, 1)) << t.number;
    by_quality.push_back({a, epochs});
  }
  // Each run once, at its rung, continuing the rung before it.
  std::set<std::pair<int64_t, int64_t>> runs;
  for (const auto& run : ev.runs()) {
    EXPECT_TRUE(runs.insert({run.number, run.epochs}).second) << run.number << "@" << run.epochs;
    EXPECT_EQ(run.previous, run.epochs == 1 ? 0 : run.epochs == 3 ? 1 : 3);
  }
  // Once every first-rung result is in, its best third has been promoted;
  // asynchronous promotions of early leaders add a few more. The same at
  // the second rung.
  std::sort(by_quality.rbegin(), by_quality.rend());
  int second = 0, top = 0;
  for (size_t i = 0; i < by_quality.size(); ++i) {
    if (i < 9) {
      EXPECT_GE(by_quality[i].second, 3) << "rank " << i;
    }
    second += by_quality[i].second >= 3;
    top += by_quality[i].second == 9;
  }
  EXPECT_GE(second, 9);
  EXPECT_LT(second, 27);
  int seen = 0;
  for (const auto& [a, epochs] : by_quality) {
    if (epochs >= 3 && seen++ < second / 3) {
      EXPECT_EQ(epochs, 9) << a;
    }
  }
  EXPECT_GE(top, second / 3);
  EXPECT_EQ(runs.size(), static_cast<size_t>(27 + second + top));
}

TEST_F(HalvingLoopTest, ACoordinatorRebuiltFromTheDatabasePromotesWhatIsDueOnce) {
  // Six trials finished the first rung (values 10..60); trial 5, the best,
  // was promoted and is waiting for its second rung.
  std::vector<int64_t> ids;
  for (int n = 0; n < 6; ++n) {
    const int64_t id =
        store_->add_trial(exp_, n, "000000000000000" + std::to_string(n), "k", "c", n);
    store_->set_running(id, "w");
    store_->add_intermediate(id, 1, kRungValue, 10.0 * (n + 1));
    store_->finish_trial(id, TrialState::kPruned, "", {{"val_acc", 10.0 * (n + 1)}, {"epochs", 1}});
    ids.push_back(id);
  }
  ASSERT_TRUE(store_->promote_trial(ids[5], 1, "to 3 epochs"));
  EXPECT_FALSE(store_->promote_trial(ids[5], 1, "to 3 epochs"));  // WAITING now
  EXPECT_FALSE(store_->promote_trial(ids[4], 3, "to 9 epochs"));  // not at 3 epochs
  // Its rung-two value of a run that did not finish is not a result.
  store_->add_intermediate(ids[5], 3, kRungValue, 99);

  internal::RungBook book(SuccessiveHalving::make(1, 9, 3).value(), options_);
  const std::vector<TrialRow> told =
      book.rebuild(store_->trials(exp_), store_->intermediates(exp_));
  ASSERT_EQ(told.size(), 6u);
  // Strategies hear trial 5 as the first rung left it.
  EXPECT_EQ(told[5].state, TrialState::kPruned);
  EXPECT_EQ(told[5].metrics.at("val_acc"), 60);
  EXPECT_EQ(book.first_awaited(), 5);
  EXPECT_EQ(book.target_rung(*store_->trial(exp_, 5)), 1);
  EXPECT_EQ(book.target_rung(*store_->trial(exp_, 0)), 1);  // its next rung, if promoted
  // A third of six: trial 5 (done) and trial 4 (due).
  EXPECT_TRUE(book.due());
  EXPECT_TRUE(book.promote(*store_));
  EXPECT_EQ(store_->trial(exp_, 4)->state, TrialState::kWaiting);
  EXPECT_FALSE(book.due());
  EXPECT_FALSE(book.promote(*store_));
  EXPECT_EQ(book.first_awaited(), 4);

  // Trial 4 finishes its second rung; a second coordinator rebuilt now
  // promotes nothing more (one result at rung two is below a third).
  store_->set_running(ids[4], "w");
  store_->add_intermediate(ids[4], 3, kRungValue, 45);
  store_->finish_trial(ids[4], TrialState::kPruned, "", {{"val_acc", 45}, {"epochs", 3}});
  book.saw(*store_->trial(exp_, 4));
  EXPECT_EQ(book.first_awaited(), 5);
  internal::RungBook other(SuccessiveHalving::make(1, 9, 3).value(), options_);
  const std::vector<TrialRow> again =
      other.rebuild(store_->trials(exp_), store_->intermediates(exp_));
  EXPECT_EQ(again[4].metrics.at("val_acc"), 50);  // the first rung's value
  EXPECT_EQ(other.first_awaited(), 5);
  EXPECT_FALSE(other.due());
  int promoted = 0;
  for (const EventRow& e : store_->events(exp_)) promoted += e.event == "promoted";
  EXPECT_EQ(promoted, 2);
}

}  // namespace
}  // namespace sylva::experiments
