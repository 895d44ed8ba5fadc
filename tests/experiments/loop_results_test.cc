// What the experiment loop (run_cluster) records, with scripted evaluators
// and an in-memory store: every trial written with its metrics,
// intermediate values and seed, failures isolated, the best weights kept,
// the workers busy at once. (Re-queues and exhaustion: loop_test.cc.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/random.h"
#include "experiments/cluster.h"
#include "search/strategy.h"

namespace sylva::experiments {
namespace {

using evaluators::EvalResult;
using evaluators::Job;
using evaluators::Reporter;

// Scores an architecture by how many "conv3x3" it has; records the jobs.
class ScriptedEvaluator : public evaluators::Evaluator {
 public:
  std::function<void(const Job&)> before;  // may throw
  EvalResult evaluate(const Job& job, Reporter& reporter) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      jobs.push_back(job);
    }
    if (before) before(job);
    double score = 0;
    for (const auto& p : job.arch.primitives) score += p == "conv3x3";
    reporter.intermediate(1, "val_acc", score / 2);
    reporter.intermediate(2, "val_acc", score);
    EvalResult r;
    r.metrics["val_acc"] = score;
    r.metrics["seed_low"] = static_cast<double>(job.seed % 1000);
    r.weights = "weights-of-" + job.arch.key;
    return r;
  }
  std::mutex mu;
  std::vector<Job> jobs;  // Guarded by mu
};

class LoopResultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    space_ =
        space_from_source("toy", "net -> op op op op\nop -> \"conv3x3\" | \"skip\" | \"none\"\n")
            .value();
    store_ = Store::open(":memory:").value();
    exp_ = store_->create_experiment("e", "{}").value();
    options_.trials = 12;
    options_.workers = 3;
    options_.seed = 11;
    options_.keep_weights = 2;
    options_.worker_name = "test";
  }
  std::unique_ptr<search::Strategy> strategy() {
    search::StrategyContext ctx;
    ctx.space = space_.get();
    ctx.seed = options_.seed;
    return search::make_strategy("random", ctx).value();
  }
  RunSummary run(evaluators::Evaluator& ev) {
    ClusterHooks hooks;
    hooks.new_strategy = [this]() -> StatusOr<std::unique_ptr<search::Strategy>> {
      return strategy();
    };
    auto r = run_cluster(*store_, exp_, *space_, ev, options_, hooks, nullptr);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.value();
  }

  std::unique_ptr<Space> space_;
  std::unique_ptr<Store> store_;
  int64_t exp_ = 0;
  RunOptions options_;
};

TEST_F(LoopResultsTest, EveryTrialIsWrittenWithMetricsIntermediatesAndSeed) {
  ScriptedEvaluator ev;
  RunSummary s = run(ev);
  EXPECT_EQ(s.finished, 12);
  auto trials = store_->trials(exp_);
  ASSERT_EQ(trials.size(), 12u);
  std::set<std::string> hashes;
  for (size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    EXPECT_EQ(t.number, static_cast<int64_t>(i));
    EXPECT_EQ(t.state, TrialState::kComplete);
    EXPECT_EQ(t.seed, mix_seed(11, i));
    EXPECT_EQ(t.worker, "test.1");  // NAME.ID in the workers table
    double conv = 0;
    for (const auto& p : space_->parse(t.arch_canonical).value().primitives) conv += p == "conv3x3";
    EXPECT_EQ(t.metrics.at("val_acc"), conv);
    EXPECT_EQ(t.metrics.at("seed_low"), static_cast<double>(t.seed % 1000));
    hashes.insert(t.arch_hash);
  }
  EXPECT_EQ(hashes.size(), 12u);
  EXPECT_EQ(store_->intermediates(exp_).size(), 24u);
}

// Answers at once on the loop's thread (as the table evaluator does), so
// that many trials finish between the loop's waits and share one commit.
class InstantEvaluator : public ScriptedEvaluator {
 public:
  bool instant() const override { return true; }
};

TEST_F(LoopResultsTest, AFinishedTrialIsReportedOnlyOnceItsCommitIsDone) {
  char tmpl[] = "/tmp/sylva-loop-results-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  store_ = Store::open(dir + "/r.db").value();
  exp_ = store_->create_experiment("e", "{}").value();
  auto reader = Store::open(dir + "/r.db").value();  // another connection sees commits only
  options_.trials = 60;
  options_.workers = 1;
  InstantEvaluator ev;
  ClusterHooks hooks;
  hooks.new_strategy = [this]() -> StatusOr<std::unique_ptr<search::Strategy>> {
    return strategy();
  };
  int64_t reported = 0, seen_complete = 0, last = 0;
  RunListener listener = [&](const RunEvent& e) {
    if (!e.trial) return;
    ++reported;
    auto row = reader->trial(exp_, e.trial->number);
    if (row && row->state == TrialState::kComplete &&
        row->metrics.at("val_acc") == e.trial->metrics.at("val_acc")) {
      ++seen_complete;
    }
    EXPECT_EQ(e.finished, last + 1) << "trial " << e.trial->number;
    last = e.finished;
  };
  auto r = run_cluster(*store_, exp_, *space_, ev, options_, hooks, listener);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(reported, 60);
  EXPECT_EQ(seen_complete, 60);
  EXPECT_EQ(reader->trials(exp_).size(), 60u);
  reader.reset();
  store_.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(LoopResultsTest, ExceptionsFailOneTrialAndTheSearchGoesOn) {
  ScriptedEvaluator ev;
  ev.before = [](const Job& job) {
    if (job.trial_number == 3)
      throw std::runtime_error("shape mismatch: [2, 8] vs [2, 16]\nbacktrace...");
    if (job.trial_number == 5)
      throw evaluators::TimeoutError("trial exceeded --trial-timeout of 1 s");
  };
  RunSummary s = run(ev);
  EXPECT_EQ(s.finished, 12);
  auto trials = store_->trials(exp_);
  EXPECT_EQ(trials[3].state, TrialState::kFail);
  EXPECT_EQ(trials[3].message, "shape mismatch: [2, 8] vs [2, 16]");
  EXPECT_EQ(trials[5].state, TrialState::kFail);
  EXPECT_EQ(trials[5].message, "trial exceeded --trial-timeout of 1 s");
  int complete = 0;
  for (auto& t : trials) complete += t.state == TrialState::kComplete;
  EXPECT_EQ(complete, 10);
}

TEST_F(LoopResultsTest, MissingObjectiveIsAFailNamingTheMetrics) {
  ScriptedEvaluator ev;
  options_.objective = "accuracy";
  options_.trials = 2;
  run(ev);
  auto t = store_->trials(exp_);
  EXPECT_EQ(t[0].state, TrialState::kFail);
  EXPECT_EQ(t[0].message, "objective 'accuracy' is not among the metrics (seed_low, val_acc)");
}

TEST_F(LoopResultsTest, KeepsWeightsOfTheBestTrialsOnly) {
  ScriptedEvaluator ev;
  options_.trials = 20;
  options_.workers = 1;
  run(ev);
  auto trials = store_->trials(exp_);
  std::vector<std::pair<double, int64_t>> by_value;
  for (auto& t : trials) by_value.push_back({t.metrics.at("val_acc"), t.id});
  std::sort(by_value.rbegin(), by_value.rend());
  auto kept = store_->trials_with_artifact(exp_, "weights");
  ASSERT_EQ(kept.size(), 2u);
  // The kept ones are among the best: no trial outside is strictly better.
  double worst_kept = 1e9;
  for (auto id : kept) {
    for (auto& t : trials) {
      if (t.id == id) {
        worst_kept = std::min(worst_kept, t.metrics.at("val_acc"));
        EXPECT_EQ(*store_->artifact(id, "weights"), "weights-of-" + t.arch_key);
      }
    }
  }
  EXPECT_EQ(worst_kept, by_value[1].first);
}

TEST_F(LoopResultsTest, ManyWorkersRunConcurrently) {
  ScriptedEvaluator ev;
  std::atomic<int> now{0}, peak{0};
  ev.before = [&](const Job&) {
    int n = ++now;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    --now;
  };
  options_.workers = 3;
  run(ev);
  EXPECT_EQ(peak.load(), 3);
}

}  // namespace
}  // namespace sylva::experiments
