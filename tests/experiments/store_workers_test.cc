// Store tests of several workers on one experiment, on SQLite and
// PostgreSQL: concurrent claims take every trial exactly once, trials of lost
// workers are re-queued until their retries run out (and late results from
// those workers are refused), one coordinator leads at a time and a hung one
// loses its lease, and released trials count no retry.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "experiments/store.h"
#include "tests/experiments/store_fixture.h"

namespace sylva::experiments {
namespace {

using testing::StoreBackendTest;

// Several processes' view: each thread has its own Store (connection).
TEST_P(StoreBackendTest, ConcurrentClaimsTakeEveryTrialExactlyOnce) {
  int64_t exp;
  {
    auto store = open();
    exp = store->create_experiment("e", "{}").value();
    for (int i = 0; i < 60; ++i) store->add_trial(exp, i, "h", "k", "c", i);
  }
  std::mutex mu;
  std::map<int64_t, std::string> claimed;  // number -> worker
  std::vector<std::thread> threads;
  std::atomic<int> twice{0};
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      auto store = open();
      const std::string label = "host:" + std::to_string(100 + w);
      while (auto row = store->claim_trial(exp, label)) {
        EXPECT_EQ(row->state, TrialState::kRunning);
        EXPECT_EQ(row->worker, label);
        EXPECT_EQ(row->seed, static_cast<uint64_t>(row->number));
        std::lock_guard<std::mutex> lock(mu);
        if (!claimed.emplace(row->number, label).second) ++twice;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(twice.load(), 0);
  EXPECT_EQ(claimed.size(), 60u);
  auto store = open();
  for (const TrialRow& t : store->trials(exp)) {
    EXPECT_EQ(t.state, TrialState::kRunning);
    EXPECT_EQ(t.worker, claimed.at(t.number));
  }
  EXPECT_FALSE(store->claim_trial(exp, "late:1").has_value());
  TrialCounts c = store->counts(exp, 60);
  EXPECT_EQ(c.total, 60);
  EXPECT_EQ(c.running, 60);
  EXPECT_EQ(c.waiting, 0);
}

// A claimed or self-started trial has no metrics to clear (PostgreSQL
// finishes it in one statement), a promoted one has: each finish leaves
// exactly its own metrics, bit for bit, and only for the trial's holder.
TEST_P(StoreBackendTest, FinishesWriteExactlyTheirMetricsOnlyForTheHolder) {
  auto store = open();
  const int64_t exp = store->create_experiment("e", "{}").value();
  for (int i = 0; i < 2; ++i) store->add_trial(exp, i, "h", "k", "c", i);
  const double inf = std::numeric_limits<double>::infinity();
  const std::map<std::string, double> odd = {
      {"acc", 0.1 + 0.2}, {"tiny", 4.9e-324}, {"inf", -inf}, {"nan", std::nan("")}};

  const int64_t t0 = store->claim_trial(exp, "a:1")->id;
  EXPECT_FALSE(store->finish_trial(t0, TrialState::kComplete, "", {{"acc", 1}}, "b:2"));
  EXPECT_EQ(store->trial(exp, 0)->state, TrialState::kRunning);
  EXPECT_TRUE(store->trial(exp, 0)->metrics.empty());
  ASSERT_TRUE(store->finish_trial(t0, TrialState::kComplete, "", odd, "a:1"));
  TrialRow row = store->trial(exp, 0).value();
  EXPECT_EQ(row.state, TrialState::kComplete);
  ASSERT_EQ(row.metrics.size(), 4u);
  EXPECT_EQ(row.metrics.at("acc"), 0.1 + 0.2);
  EXPECT_EQ(row.metrics.at("tiny"), 4.9e-324);
  EXPECT_EQ(row.metrics.at("inf"), -inf);
  EXPECT_TRUE(std::isnan(row.metrics.at("nan")));
  // Finished: its holder cannot finish it again.
  EXPECT_FALSE(store->finish_trial(t0, TrialState::kFail, "late", {{"acc", 0}}, "a:1"));
  EXPECT_EQ(store->trial(exp, 0)->metrics.at("acc"), 0.1 + 0.2);

  // Promoted (finished before): the next finish replaces its metrics.
  const int64_t t1 = store->claim_trial(exp, "a:1")->id;
  ASSERT_TRUE(
      store->finish_trial(t1, TrialState::kPruned, "", {{"epochs", 1}, {"loss", 2}}, "a:1"));
  ASSERT_TRUE(store->promote_trial(t1, 1, "to 3 epochs"));
  ASSERT_EQ(store->claim_trial(exp, "b:2")->id, t1);
  ASSERT_TRUE(
      store->finish_trial(t1, TrialState::kComplete, "", {{"epochs", 3}, {"acc", 0.75}}, "b:2"));
  EXPECT_EQ(store->trial(exp, 1)->metrics,
            (std::map<std::string, double>{{"acc", 0.75}, {"epochs", 3}}));

  // Started by its maker (a coordinator's own slot), with more metrics than
  // one statement takes.
  const int64_t t2 = store->insert_trial(exp, 2, "h", "k", "c", 2, "c:3").value();
  std::map<std::string, double> many;
  for (int i = 0; i < 40; ++i) many["m" + std::to_string(i)] = i / 7.0;
  ASSERT_TRUE(store->finish_trial(t2, TrialState::kComplete, "", many, "c:3"));
  EXPECT_EQ(store->trial(exp, 2)->metrics, many);
  EXPECT_EQ(store->trials(exp)[2].metrics, many);
}

// Several trials inserted at once, as by trials one at a time: up to the
// first number another coordinator took, and none after it.
TEST_P(StoreBackendTest, InsertingSeveralTrialsStopsAtTheFirstNumberTaken) {
  auto a = open();
  auto b = open();
  const int64_t exp = a->create_experiment("e", "{}").value();
  b->add_trial(exp, 2, "hb", "kb", "cb", 9);
  std::vector<Store::NewTrial> rows;
  for (int64_t n = 0; n < 5; ++n) {
    rows.push_back({n, "h" + std::to_string(n), "k", "c", static_cast<uint64_t>(n),
                    n == 0 || n == 3 ? "a:1" : ""});
  }
  const std::vector<std::optional<int64_t>> ids = a->insert_trials(exp, rows);
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_TRUE(ids[0] && ids[1]);
  EXPECT_FALSE(ids[2] || ids[3] || ids[4]);
  std::vector<TrialRow> stored = b->trials(exp);
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].id, *ids[0]);
  EXPECT_EQ(stored[0].state, TrialState::kRunning);
  EXPECT_EQ(stored[0].worker, "a:1");
  EXPECT_EQ(stored[1].state, TrialState::kWaiting);
  EXPECT_EQ(stored[1].arch_hash, "h1");
  EXPECT_EQ(stored[2].arch_hash, "hb");  // b's
  // The numbers refused stay free for whoever leads.
  EXPECT_TRUE(b->insert_trial(exp, 3, "hb3", "kb", "cb", 10).has_value());
  // a's own trial finishes in one statement like any fresh trial.
  EXPECT_TRUE(a->finish_trial(*ids[0], TrialState::kComplete, "", {{"acc", 0.5}}, "a:1"));
  EXPECT_EQ(b->trial(exp, 0)->metrics.at("acc"), 0.5);
}

TEST_P(StoreBackendTest, LostWorkersLoseTheirTrialsUntilTheRetriesRunOut) {
  auto store = open();
  const int64_t exp = store->create_experiment("e", "{}").value();
  for (int i = 0; i < 4; ++i) store->add_trial(exp, i, "h" + std::to_string(i), "k", "c", 7 + i);
  const WorkerRow a = store->add_worker(exp, "a:1", "a", 1, 2, "m");
  const WorkerRow b = store->add_worker(exp, "b:2", "b", 2, 1, "m");
  const int64_t alive = a.id;
  EXPECT_EQ(a.label, "a:1." + std::to_string(a.id));
  ASSERT_EQ(store->claim_trial(exp, a.label)->number, 0);
  ASSERT_EQ(store->claim_trial(exp, b.label)->number, 1);
  ASSERT_EQ(store->claim_trial(exp, a.label)->number, 2);
  // Nobody is stale after a minute's grace; b:2 is known dead.
  auto back = store->requeue_lost(exp, 60, {b.label}, 1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].number, 1);
  EXPECT_EQ(back[0].worker, b.label);
  EXPECT_FALSE(back[0].failed);
  TrialRow t1 = store->trial(exp, 1).value();
  EXPECT_EQ(t1.state, TrialState::kWaiting);
  EXPECT_EQ(t1.retries, 1);
  EXPECT_EQ(t1.seed, 8u);  // same genotype and seed
  // A result from the lost worker is refused and changes nothing; so are
  // its intermediate values, while the holder's are kept.
  EXPECT_FALSE(store->finish_trial(t1.id, TrialState::kComplete, "", {{"acc", 1}}, b.label));
  store->add_intermediate(t1.id, 1, "val_acc", 0.5, b.label);
  store->add_intermediate(store->trial(exp, 0)->id, 1, "val_acc", 0.25, a.label);
  ASSERT_EQ(store->intermediates(exp).size(), 1u);
  EXPECT_EQ(store->intermediates(exp)[0].trial_number, 0);
  EXPECT_EQ(store->intermediates(exp)[0].value, 0.25);
  EXPECT_EQ(store->trial(exp, 1)->state, TrialState::kWaiting);
  // Lost before anything else finished: not charged to the trial.
  EXPECT_EQ(t1.charged, 0);
  // Claimed again (lowest number first) by c, lost after trial 3 finished
  // on a while it ran (c's heartbeat came later): charged to the trial.
  const WorkerRow c3 = store->add_worker(exp, "c:3", "c", 3, 1, "m");
  ASSERT_EQ(store->claim_trial(exp, c3.label)->number, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a later finished_at
  ASSERT_EQ(store->claim_trial(exp, a.label)->number, 3);
  ASSERT_TRUE(store->finish_trial(store->trial(exp, 3)->id, TrialState::kComplete, "",
                                  {{"acc", 0.5}}, a.label));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  store->worker_heartbeat(c3.id, {t1.id});
  back = store->requeue_lost(exp, 60, {c3.label}, 1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_FALSE(back[0].failed);
  t1 = store->trial(exp, 1).value();
  EXPECT_EQ(t1.retries, 2);
  EXPECT_EQ(t1.charged, 1);
  // Once more, with trial 4 finishing on a, this time on its dead holder
  // (no heartbeat after it): out of retries.
  store->add_trial(exp, 4, "h4", "k", "c", 11);
  const WorkerRow c4 = store->add_worker(exp, "c:4", "c", 4, 2, "m");
  ASSERT_EQ(store->claim_trial(exp, c4.label)->number, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(store->claim_trial(exp, c4.label)->number, 4);
  ASSERT_TRUE(store->finish_trial(store->trial(exp, 4)->id, TrialState::kComplete, "",
                                  {{"acc", 0.5}}, c4.label));
  back = store->requeue_lost(exp, 60, {c4.label}, 1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0].failed);
  t1 = store->trial(exp, 1).value();
  EXPECT_EQ(t1.state, TrialState::kFail);
  EXPECT_EQ(t1.retries, 3);
  EXPECT_EQ(t1.charged, 2);
  EXPECT_EQ(t1.message, "worker " + c4.label +
                            " lost (its process is gone): its holder died under it 2 time(s) "
                            "while other trials finished (--max-retries 1)");
  // Stale heartbeats: with a zero-second timeout every RUNNING trial is
  // stale; a heartbeat does not make it fresh against zero seconds.
  EXPECT_EQ(
      store->worker_heartbeat(alive, {store->trial(exp, 0)->id, store->trial(exp, 2)->id}).size(),
      2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  back = store->requeue_lost(exp, 0.001, {}, 3);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].number, 0);
  EXPECT_EQ(back[1].number, 2);
  std::vector<WorkerRow> workers = store->workers(exp);
  ASSERT_EQ(workers.size(), 4u);
  EXPECT_EQ(workers[0].label, a.label);
  EXPECT_EQ(workers[0].machine, "m");
  EXPECT_EQ(workers[0].state, "LOST");
  EXPECT_EQ(workers[1].state, "LOST");
  EXPECT_TRUE(workers[0].running.empty());
  // A heartbeat from a worker judged lost makes it ACTIVE again, but stamps
  // none of the trials it lost.
  EXPECT_TRUE(store->worker_heartbeat(alive, {store->trial(exp, 0)->id}).empty());
  EXPECT_EQ(store->workers(exp)[0].state, "ACTIVE");
  TrialCounts c = store->counts(exp, 60);
  EXPECT_EQ(c.waiting, 2);
  EXPECT_EQ(c.finished, 3);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.live_slots, 2);  // a:1 only; b:2 stays LOST
}

// A claim writes no heartbeat: the trial's start is its first sign of life,
// and a heartbeat left from an earlier run of the trial (by a worker since
// lost) does not make the new run look stale.
TEST_P(StoreBackendTest, AClaimOutdatesTheHeartbeatOfTheTrialsEarlierRun) {
  auto store = open();
  const int64_t exp = store->create_experiment("e", "{}").value();
  store->add_trial(exp, 0, "h0", "k", "c", 7);
  const WorkerRow a = store->add_worker(exp, "a:1", "a", 1, 1, "m");
  const WorkerRow b = store->add_worker(exp, "b:2", "b", 2, 1, "m");
  const int64_t id = store->claim_trial(exp, a.label)->id;
  ASSERT_EQ(store->worker_heartbeat(a.id, {id}).size(), 1u);
  ASSERT_EQ(store->requeue_lost(exp, 60, {a.label}, 3).size(), 1u);  // a is gone
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));      // a's beat grows old
  ASSERT_EQ(store->claim_trial(exp, b.label)->id, id);
  EXPECT_TRUE(store->requeue_lost(exp, 1.0, {}, 3).empty());
  EXPECT_EQ(store->trial(exp, 0)->worker, b.label);
  EXPECT_EQ(store->trial(exp, 0)->state, TrialState::kRunning);
}

TEST_P(StoreBackendTest, LossesWithNothingFinishingAreBoundedButNotCharged) {
  // A process killed again and again before anything could finish (or a
  // trial that takes down every process at once): never charged, but FAIL
  // after 4 x max_retries losses so that nothing stalls for ever.
  auto store = open();
  const int64_t exp = store->create_experiment("e", "{}").value();
  store->add_trial(exp, 0, "h0", "k", "c", 7);
  for (int loss = 1; loss <= 9; ++loss) {
    const std::string holder = "p:" + std::to_string(loss);
    ASSERT_EQ(store->claim_trial(exp, holder)->number, 0);
    auto back = store->requeue_lost(exp, 60, {holder}, 2);
    ASSERT_EQ(back.size(), 1u);
    const TrialRow t = store->trial(exp, 0).value();
    EXPECT_EQ(t.retries, loss);
    EXPECT_EQ(t.charged, 0);
    EXPECT_EQ(back[0].failed, loss == 9) << loss;
    EXPECT_EQ(t.state, loss < 9 ? TrialState::kWaiting : TrialState::kFail);
  }
  EXPECT_EQ(store->trial(exp, 0)->message,
            "worker p:9 lost (its process is gone): the trial was lost 9 time(s) in all (at most "
            "4 x --max-retries 2)");
}

TEST_P(StoreBackendTest, OneCoordinatorAtATimeAndReleasedTrialsCountNoRetry) {
  auto a = open();
  auto b = open();
  const int64_t exp = a->create_experiment("e", "{}").value();
  const int64_t wa = a->add_worker(exp, "a:1", "a", 1, 1, "m").id;
  const int64_t wb = b->add_worker(exp, "b:2", "b", 2, 1, "m").id;
  EXPECT_TRUE(a->try_lead(exp, wa, 60));
  EXPECT_FALSE(b->try_lead(exp, wb, 60));
  EXPECT_TRUE(a->try_lead(exp, wa, 60));  // renewed
  EXPECT_TRUE(a->workers(exp)[0].leader);
  EXPECT_FALSE(a->workers(exp)[1].leader);
  // The coordinator leaves (PostgreSQL: its connection closes): b takes over.
  a->worker_exit(wa);
  a.reset();
  EXPECT_TRUE(b->try_lead(exp, wb, 60));
  EXPECT_TRUE(b->workers(exp)[1].leader);

  // A hung coordinator (it stops renewing; on PostgreSQL it keeps its
  // connection and advisory lock) loses the lease when it expires, and
  // steps down when it wakes.
  auto c = open();
  const int64_t wc = c->add_worker(exp, "c:3", "c", 3, 1, "m").id;
  EXPECT_TRUE(b->try_lead(exp, wb, 0.01));
  EXPECT_FALSE(c->try_lead(exp, wc, 60));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_TRUE(c->try_lead(exp, wc, 60));
  EXPECT_FALSE(b->try_lead(exp, wb, 60));
  EXPECT_TRUE(c->try_lead(exp, wc, 60));
  EXPECT_TRUE(c->workers(exp)[2].leader);
  EXPECT_FALSE(c->workers(exp)[1].leader);

  b->add_trial(exp, 0, "h", "k", "c", 1);
  EXPECT_FALSE(b->insert_trial(exp, 0, "h2", "k2", "c2", 2).has_value());  // number taken
  ASSERT_TRUE(b->claim_trial(exp, "b:2").has_value());
  EXPECT_EQ(b->release_trials(exp, "b:2", "worker b:2 stopped by signal 15"), 1);
  TrialRow t = b->trial(exp, 0).value();
  EXPECT_EQ(t.state, TrialState::kWaiting);
  EXPECT_EQ(t.retries, 0);
  EXPECT_EQ(t.worker, "");
  b->close_experiment(exp, "budget");
  EXPECT_EQ(b->counts(exp, 60).closed, "budget");
  b->update_config(exp, "{}");  // resume reopens
  EXPECT_EQ(b->counts(exp, 60).closed, "");
}

}  // namespace
}  // namespace sylva::experiments
