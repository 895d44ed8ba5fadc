// The default experiment loop (run_cluster, an ExperimentLoop) in process on
// an SQLite file, with a seeded random strategy on a toy grammar and a
// deterministic evaluator: the budget is exact and a resume continues it; a
// loop stopped part-way is replayed into a fresh strategy and nothing finished
// runs again; a trial held by a dead or silent process is re-queued with its
// genotype and seed and finished by the next loop; a space with fewer
// architectures than the budget closes the experiment "exhausted".
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "base/random.h"
#include "experiments/cluster.h"
#include "experiments/run_support.h"
#include "search/strategy.h"
#include "tests/experiments/recording_strategy.h"

namespace sylva::experiments {
namespace {

using evaluators::EvalResult;
using evaluators::Job;
using evaluators::Reporter;

int conv_count(const Architecture& arch) {
  int n = 0;
  for (const auto& p : arch.primitives) n += p == "conv3x3";
  return n;
}

// Scores an architecture by its number of conv3x3; counts its calls and
// keeps the last job of each trial number.
class CountingEvaluator : public evaluators::Evaluator {
 public:
  std::function<void(const Job&)> before;  // runs on the worker thread
  EvalResult evaluate(const Job& job, Reporter& reporter) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_[job.trial_number];
      jobs_[job.trial_number] = job;
    }
    if (before) before(job);
    const double score = conv_count(job.arch);
    reporter.intermediate(1, "val_acc", score);
    EvalResult r;
    r.metrics["val_acc"] = score;
    r.metrics["seed_low"] = static_cast<double>(job.seed % 1000);
    return r;
  }
  // Read once the loop has returned (its pool has waited for every job).
  std::map<int64_t, int> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::map<int64_t, Job> jobs() {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_;
  }

 private:
  std::mutex mu_;
  std::map<int64_t, int> calls_;  // Guarded by mu_
  std::map<int64_t, Job> jobs_;   // Guarded by mu_
};

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sylva-loop-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/exp.db";
    space_ =
        space_from_source("toy", "net -> op op op op\nop -> \"conv3x3\" | \"skip\" | \"none\"\n")
            .value();
    store_ = Store::open(path_).value();
    exp_ = store_->create_experiment("e", "{}").value();
    options_.trials = 6;
    options_.workers = 2;
    options_.seed = 11;
    options_.keep_weights = 0;
    options_.worker_name = "test:1";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<search::Strategy> random_strategy() const {
    search::StrategyContext ctx;
    ctx.space = space_.get();
    ctx.seed = options_.seed;
    return search::make_strategy("random", ctx).value();
  }
  ClusterHooks hooks(StrategyLog& log) const {
    ClusterHooks h;
    h.new_strategy = [this, &log]() -> StatusOr<std::unique_ptr<search::Strategy>> {
      ++log.made;
      return std::unique_ptr<search::Strategy>(new RecordingStrategy(random_strategy(), log));
    };
    return h;
  }
  RunSummary run(evaluators::Evaluator& ev, const ClusterHooks& h) {
    auto r = run_cluster(*store_, exp_, *space_, ev, options_, h, nullptr);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? r.value() : RunSummary();
  }
  RunSummary run(evaluators::Evaluator& ev, StrategyLog& log) { return run(ev, hooks(log)); }
  std::string closed() { return store_->counts(exp_, 60).closed; }

  // Trials 0..n-1 are COMPLETE, with their seed and their architecture's score.
  void expect_complete(int64_t n) {
    auto trials = store_->trials(exp_);
    ASSERT_EQ(trials.size(), static_cast<size_t>(n));
    std::set<std::string> hashes;
    for (int64_t i = 0; i < n; ++i) {
      const TrialRow& t = trials[i];
      EXPECT_EQ(t.number, i);
      EXPECT_EQ(t.state, TrialState::kComplete) << i;
      EXPECT_EQ(t.seed, mix_seed(11, i)) << i;
      EXPECT_EQ(t.metrics.at("val_acc"), conv_count(space_->parse(t.arch_canonical).value())) << i;
      EXPECT_EQ(t.metrics.at("seed_low"), static_cast<double>(t.seed % 1000)) << i;
      hashes.insert(t.arch_hash);
    }
    EXPECT_EQ(hashes.size(), static_cast<size_t>(n));  // distinct architectures
  }
  // Each trial number of [from, to) evaluated exactly once, and no other.
  static void expect_calls(CountingEvaluator& ev, int64_t from, int64_t to) {
    std::map<int64_t, int> want;
    for (int64_t n = from; n < to; ++n) want[n] = 1;
    EXPECT_EQ(ev.calls(), want);
  }

  std::string dir_, path_;
  std::unique_ptr<Space> space_;
  std::unique_ptr<Store> store_;
  int64_t exp_ = 0;
  RunOptions options_;
};

TEST_F(LoopTest, RunsExactlyTheBudgetAndAResumeContinuesFromIt) {
  CountingEvaluator ev;
  StrategyLog log;
  RunSummary s = run(ev, log);
  EXPECT_EQ(s.finished, 6);
  EXPECT_EQ(s.replayed, 0);
  EXPECT_EQ(s.requeued, 0);
  EXPECT_FALSE(s.exhausted);
  expect_complete(6);
  expect_calls(ev, 0, 6);
  EXPECT_EQ(closed(), "budget");
  EXPECT_EQ(log.made, 1);
  auto workers = store_->workers(exp_);
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].state, "EXITED");
  for (const TrialRow& t : store_->trials(exp_)) EXPECT_EQ(t.worker, workers[0].label);

  // `resume --trials 10`: a new configuration reopens the experiment.
  store_->update_config(exp_, "{}");
  options_.trials = 10;
  CountingEvaluator more;
  StrategyLog log2;
  s = run(more, log2);
  EXPECT_EQ(s.finished, 10);
  EXPECT_EQ(s.replayed, 6);
  expect_complete(10);
  expect_calls(more, 6, 10);  // nothing of the first run again
  EXPECT_EQ(closed(), "budget");
  // The fresh strategy heard the six stored results first, then the new ones.
  ASSERT_EQ(log2.told.size(), 10u);
  for (int64_t n = 0; n < 6; ++n) EXPECT_EQ(log2.told[n], n);
  EXPECT_TRUE(log2.pending.empty());
}

TEST_F(LoopTest, AStoppedRunIsReplayedIntoAFreshEngineAndNothingRunsTwice) {
  options_.trials = 10;
  // Trials from 4 on wait at a gate; once both slots hold one (4 and 5),
  // every earlier trial is recorded and the evaluator asks the loop to stop.
  // The loop hands 4 and 5 back, then opens the gate as it abandons them.
  std::atomic<int> stop{0};
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> at_gate{0};
  CountingEvaluator first;
  first.before = [&](const Job& job) {
    if (job.trial_number < 4) return;
    if (++at_gate == 2) stop.store(SIGTERM);
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return open; });
  };
  StrategyLog log1;
  ClusterHooks h = hooks(log1);
  h.stop_signal = &stop;
  int64_t abandoned = -1;
  h.abandon = [&](const RunSummary& s) {
    abandoned = s.handed_back;
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  };
  RunSummary s = run(first, h);
  EXPECT_EQ(s.stopped_by, SIGTERM);
  EXPECT_EQ(s.handed_back, 2);
  EXPECT_EQ(abandoned, 2);
  EXPECT_EQ(s.finished, 4);
  expect_calls(first, 0, 6);
  auto trials = store_->trials(exp_);
  ASSERT_EQ(trials.size(), 6u);
  for (int n = 0; n < 4; ++n) EXPECT_EQ(trials[n].state, TrialState::kComplete) << n;
  for (int n = 4; n < 6; ++n) {
    EXPECT_EQ(trials[n].state, TrialState::kWaiting) << n;
    EXPECT_EQ(trials[n].retries, 0) << n;  // handed back, not lost
  }
  EXPECT_EQ(closed(), "");

  // A new loop with a fresh strategy on the same database.
  CountingEvaluator second;
  StrategyLog log2;
  s = run(second, log2);
  EXPECT_EQ(s.stopped_by, 0);
  EXPECT_EQ(s.replayed, 4);
  EXPECT_EQ(s.requeued, 0);
  EXPECT_EQ(s.finished, 10);
  expect_complete(10);
  expect_calls(second, 4, 10);  // 0..3 never again; 4 and 5 once, to the end
  EXPECT_EQ(closed(), "budget");
  // The strategy heard every finished trial (0..3 on replay, first and in
  // order, with their stored values), and 4 and 5 as pending.
  EXPECT_EQ(log2.made, 1);
  ASSERT_EQ(log2.told.size(), 10u);
  for (int64_t n = 0; n < 4; ++n) EXPECT_EQ(log2.told[n], n);
  EXPECT_EQ(std::set<int64_t>(log2.told.begin(), log2.told.end()).size(), 10u);
  trials = store_->trials(exp_);
  for (const TrialRow& t : trials) EXPECT_EQ(log2.values.at(t.number), t.metrics.at("val_acc"));
  EXPECT_EQ(log2.pending,
            (std::vector<std::string>{trials[4].arch_canonical, trials[5].arch_canonical}));
  for (int64_t n = 4; n < 6; ++n) {
    EXPECT_EQ(second.jobs().at(n).arch.canonical, first.jobs().at(n).arch.canonical);
    EXPECT_EQ(second.jobs().at(n).seed, mix_seed(11, n));
  }

  // The same architectures, in the same order, as a run never stopped.
  auto other = Store::open(dir_ + "/other.db").value();
  const int64_t e2 = other->create_experiment("e2", "{}").value();
  CountingEvaluator ev2;
  StrategyLog log3;
  ASSERT_TRUE(run_cluster(*other, e2, *space_, ev2, options_, hooks(log3), nullptr).is_ok());
  auto ref = other->trials(e2);
  ASSERT_EQ(ref.size(), 10u);
  for (int n = 0; n < 10; ++n) EXPECT_EQ(trials[n].arch_key, ref[n].arch_key) << n;
}

class KillPointTest : public LoopTest {
 protected:
  // A first loop finishes trials 0..2; then a process that is gone or
  // silent now claimed trial 3, which a fresh strategy (replayed from the
  // database) proposed, with its seed.
  TrialRow leave_trial_running(const std::string& machine, int64_t pid) {
    options_.trials = 3;
    CountingEvaluator ev;
    StrategyLog log;
    run(ev, log);
    store_->update_config(exp_, "{}");
    auto strategy = random_strategy();
    EXPECT_TRUE(
        internal::replay_trials(*strategy, *space_, store_->trials(exp_), options_, {}).is_ok());
    const Architecture arch = *strategy->ask(3);
    const WorkerRow ghost = store_->add_worker(exp_, "ghost:1", "ghost", pid, 1, machine);
    EXPECT_TRUE(store_->insert_trial(exp_, 3, hash_hex(arch.hash), arch.key, arch.canonical,
                                     mix_seed(11, 3)));
    auto held = store_->claim_trial(exp_, ghost.label);
    if (!held) {
      ADD_FAILURE() << "trial 3 could not be claimed";
      return TrialRow();
    }
    EXPECT_EQ(held->number, 3);
    EXPECT_EQ(store_->trial(exp_, 3)->state, TrialState::kRunning);
    return *held;
  }

  // The next loop finishes the held trial as it was, once, and the budget.
  void expect_finished_by_next_loop(const TrialRow& held, CountingEvaluator& ev) {
    expect_complete(6);
    expect_calls(ev, 3, 6);
    const TrialRow t = *store_->trial(exp_, 3);
    EXPECT_EQ(t.arch_canonical, held.arch_canonical);
    EXPECT_EQ(t.seed, held.seed);
    EXPECT_EQ(t.retries, 1);
    EXPECT_NE(t.worker, held.worker);
    EXPECT_EQ(ev.jobs().at(3).arch.canonical, held.arch_canonical);
    EXPECT_EQ(ev.jobs().at(3).seed, mix_seed(11, 3));
    EXPECT_EQ(closed(), "budget");
    for (const WorkerRow& w : store_->workers(exp_)) {
      if (w.label == held.worker) {
        EXPECT_EQ(w.state, "LOST");
      }
    }
  }
};

TEST_F(KillPointTest, ATrialOfADeadProcessOfThisMachineIsRequeuedOnEntry) {
  // A pid that no longer runs: a child that has exited and been reaped.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);
  const TrialRow held = leave_trial_running(internal::machine_identity(), child);
  options_.trials = 6;
  CountingEvaluator ev;
  StrategyLog log;
  RunSummary s = run(ev, log);
  EXPECT_EQ(s.requeued, 1);  // at once, not after the heartbeat timeout
  EXPECT_EQ(s.taken_back, 0);
  EXPECT_EQ(s.replayed, 3);
  EXPECT_EQ(s.finished, 6);
  // Requeued before the strategy was made: it was replayed as pending.
  EXPECT_EQ(log.pending, std::vector<std::string>{held.arch_canonical});
  expect_finished_by_next_loop(held, ev);
}

TEST_F(KillPointTest, ATrialWhoseHeartbeatGoesStaleIsTakenBack) {
  // Another host's process: only its silence tells it is lost.
  const TrialRow held = leave_trial_running("elsewhere", 1);
  options_.trials = 6;
  options_.heartbeat_timeout = 1.5;
  CountingEvaluator ev;
  StrategyLog log;
  RunSummary s = run(ev, log);
  EXPECT_EQ(s.requeued, 0);
  EXPECT_EQ(s.taken_back, 1);
  EXPECT_EQ(s.replayed, 3);
  EXPECT_EQ(s.finished, 6);
  EXPECT_EQ(log.pending, std::vector<std::string>{held.arch_canonical});  // still RUNNING then
  expect_finished_by_next_loop(held, ev);
}

TEST_F(LoopTest, ASpaceWithFewerArchitecturesThanTheBudgetClosesExhausted) {
  space_ = space_from_source("tiny", "net -> op op\nop -> \"conv3x3\" | \"skip\"\n").value();
  options_.trials = 10;
  CountingEvaluator ev;
  StrategyLog log;
  RunSummary s = run(ev, log);
  EXPECT_TRUE(s.exhausted);
  EXPECT_EQ(s.finished, 4);
  expect_complete(4);
  expect_calls(ev, 0, 4);
  EXPECT_EQ(closed(), "exhausted");
}

TEST_F(LoopTest, AStoredArchitectureThatDoesNotParseIsAnErrorNamingTheTrial) {
  store_->add_trial(exp_, 0, "0000000000000000", "bad", "not an architecture", 1);
  CountingEvaluator ev;
  StrategyLog log;
  auto r = run_cluster(*store_, exp_, *space_, ev, options_, hooks(log), nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(
      r.status().message().rfind("trial 0: stored architecture does not parse in space 'toy': ", 0),
      0u)
      << r.status().message();
  EXPECT_TRUE(ev.calls().empty());
  // Leaving by the error, the process left the registry.
  EXPECT_EQ(store_->workers(exp_).at(0).state, "EXITED");
}

}  // namespace
}  // namespace sylva::experiments
