// Store read/write tests: every method on experiments, trials, intermediate
// values and artifacts, read back with exact values (seeds over 2^63, NaN and
// infinity, binary bytes), the same on SQLite and PostgreSQL; caller bugs
// throw and leave nothing behind; a reopened file holds everything.
// Schema checks are in store_schema_test.cc, crash safety in
// store_crash_test.cc, several workers on one experiment in
// store_workers_test.cc; the shared helpers in store_fixture.h.
#include "experiments/store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/report.h"
#include "experiments/sql.h"
#include "tests/experiments/store_fixture.h"

namespace sylva::experiments {
namespace {

using testing::is_iso_utc_ms;
using testing::metrics_for;
using testing::must_open;
using testing::raw_query;
using testing::seed_for;
using testing::StoreBackendTest;
using testing::TempDir;

TEST_P(StoreBackendTest, DuplicateNameSaysHowToResume) {
  auto store = open();
  ASSERT_TRUE(store->create_experiment("nb201", R"({"space":"nb201"})").is_ok());
  StatusOr<int64_t> again = store->create_experiment("nb201", "{}");
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().message(), "experiment 'nb201' already exists in " + where_ +
                                          "; continue it with `sylva resume --name nb201 --db " +
                                          where_ + "`");
  // The first config is untouched.
  EXPECT_EQ(store->find_experiment("nb201").value().config_json, R"({"space":"nb201"})");
}

TEST_P(StoreBackendTest, UnknownNameListsTheExperimentsThere) {
  auto store = open();
  EXPECT_EQ(store->find_experiment("x").status().message(),
            "no experiment named 'x' in " + where_ + " (no experiments)");
  store->create_experiment("zeta", "{}").value();
  store->create_experiment("alpha", "{}").value();
  EXPECT_EQ(store->find_experiment("x").status().message(),
            "no experiment named 'x' in " + where_ + " (experiments: alpha, zeta)");
  std::vector<ExperimentRow> all = store->experiments();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "zeta");  // creation order
  EXPECT_EQ(all[1].name, "alpha");
  EXPECT_TRUE(is_iso_utc_ms(all[0].created_at)) << all[0].created_at;
}

TEST_P(StoreBackendTest, LifecycleStatesMetricsSeedsAndOrder) {
  auto store = open();
  int64_t exp = store->create_experiment("e", "{}").value();
  int64_t other = store->create_experiment("other", "{}").value();
  // Inserted out of order; read back by number.
  int64_t t2 = store->add_trial(exp, 2, "00000000000000ff", "b/c", "(b c)", 0);
  int64_t t0 = store->add_trial(exp, 0, "ffffffffffffffff", "a/b", "(a b)", 0xFFFFFFFFFFFFFFFFull);
  int64_t t1 = store->add_trial(exp, 1, "0123456789abcdef", "a/c", "(a c)", 0x8000000000000000ull);
  store->add_trial(other, 0, "1111111111111111", "z", "(z)", 5);

  store->set_running(t0, "w0");
  store->set_running(t1, "w1");
  store->finish_trial(t0, TrialState::kComplete, "", {{"val_acc", 0.9375}, {"params", 12345}});
  store->finish_trial(t1, TrialState::kFail, "out of memory", {});

  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].number, 0);
  EXPECT_EQ(rows[1].number, 1);
  EXPECT_EQ(rows[2].number, 2);
  EXPECT_EQ(rows[0].id, t0);
  EXPECT_EQ(rows[2].id, t2);

  EXPECT_EQ(rows[0].state, TrialState::kComplete);
  EXPECT_EQ(rows[0].seed, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(rows[0].arch_hash, "ffffffffffffffff");
  EXPECT_EQ(rows[0].arch_key, "a/b");
  EXPECT_EQ(rows[0].arch_canonical, "(a b)");
  EXPECT_EQ(rows[0].worker, "w0");
  EXPECT_EQ(rows[0].metrics,
            (std::map<std::string, double>{{"params", 12345}, {"val_acc", 0.9375}}));
  EXPECT_TRUE(is_iso_utc_ms(rows[0].created_at)) << rows[0].created_at;
  EXPECT_TRUE(is_iso_utc_ms(rows[0].started_at)) << rows[0].started_at;
  EXPECT_TRUE(is_iso_utc_ms(rows[0].finished_at)) << rows[0].finished_at;
  EXPECT_LE(rows[0].started_at, rows[0].finished_at);

  EXPECT_EQ(rows[1].state, TrialState::kFail);
  EXPECT_EQ(rows[1].message, "out of memory");
  EXPECT_EQ(rows[1].seed, 0x8000000000000000ull);
  EXPECT_TRUE(rows[1].metrics.empty());

  EXPECT_EQ(rows[2].state, TrialState::kWaiting);
  EXPECT_EQ(rows[2].seed, 0u);
  EXPECT_EQ(rows[2].started_at, "");
  EXPECT_EQ(rows[2].finished_at, "");

  std::optional<TrialRow> one = store->trial(exp, 0);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->id, t0);
  EXPECT_EQ(one->metrics.at("val_acc"), 0.9375);
  EXPECT_FALSE(store->trial(exp, 3).has_value());
  EXPECT_EQ(store->trial(other, 0)->seed, 5u);
  EXPECT_EQ(store->trials(other).size(), 1u);
}

TEST_P(StoreBackendTest, FinishReplacesMetricsAndKeepsNaNAndInfinity) {
  auto store = open();
  int64_t exp = store->create_experiment("e", "{}").value();
  int64_t id = store->add_trial(exp, 0, "h", "k", "c", 1);
  store->finish_trial(id, TrialState::kComplete, "", {{"old", 1.0}, {"loss", 2.0}});
  const double inf = std::numeric_limits<double>::infinity();
  store->finish_trial(id, TrialState::kPruned, "stopped at epoch 3",
                      {{"loss", std::nan("")}, {"latency", inf}, {"neg", -0.0625}});
  TrialRow row = store->trial(exp, 0).value();
  EXPECT_EQ(row.state, TrialState::kPruned);
  EXPECT_EQ(row.message, "stopped at epoch 3");
  ASSERT_EQ(row.metrics.size(), 3u);  // "old" is gone
  EXPECT_TRUE(std::isnan(row.metrics.at("loss")));
  EXPECT_EQ(row.metrics.at("latency"), inf);
  EXPECT_EQ(row.metrics.at("neg"), -0.0625);
  // trials() reads them the same way.
  EXPECT_TRUE(std::isnan(store->trials(exp)[0].metrics.at("loss")));
}

// Outcome: the counts, the first failure and the best trial as ranked()
// finds them in every trial: finite values of COMPLETE trials only, the
// lowest number among equals, either direction.
TEST_P(StoreBackendTest, OutcomeCountsAndRanksLikeReadingEveryTrial) {
  auto store = open();
  const int64_t exp = store->create_experiment("e", "{}").value();
  const int64_t other = store->create_experiment("other", "{}").value();
  const double inf = std::numeric_limits<double>::infinity();
  struct Given {
    TrialState state;
    std::map<std::string, double> metrics;
    std::string message;
  };
  const std::vector<Given> given = {
      {TrialState::kComplete, {{"acc", 0.5}, {"loss", 3}}, ""},
      {TrialState::kFail, {}, "out of memory"},
      {TrialState::kPruned, {{"acc", 0.99}, {"loss", 0.5}}, "pruned"},  // not COMPLETE
      {TrialState::kComplete, {{"acc", inf}, {"loss", -inf}}, ""},      // not finite
      {TrialState::kComplete, {{"acc", std::nan("")}, {"loss", std::nan("")}}, ""},
      {TrialState::kComplete, {{"acc", 0.75}, {"loss", 1}}, ""},
      {TrialState::kFail, {}, "diverged"},
      {TrialState::kComplete, {{"acc", 0.75}, {"loss", 1}}, ""},  // ties trial 5
      {TrialState::kComplete, {{"loss", 0.25}}, ""},              // no acc
  };
  for (size_t i = 0; i < given.size(); ++i) {
    const int64_t id = store->add_trial(exp, static_cast<int64_t>(i), "h", "k", "c", i);
    store->finish_trial(id, given[i].state, given[i].message, given[i].metrics);
  }
  store->add_trial(exp, static_cast<int64_t>(given.size()), "h", "k", "c", 0);  // waiting
  store->finish_trial(store->add_trial(other, 0, "h", "k", "c", 0), TrialState::kComplete, "",
                      {{"acc", 1.0}, {"loss", -1}});

  const Outcome up = store->outcome(exp, "acc", true);
  EXPECT_EQ(up.complete, 6);
  EXPECT_EQ(up.pruned, 1);
  EXPECT_EQ(up.failed, 2);
  ASSERT_TRUE(up.first_failure.has_value());
  EXPECT_EQ(up.first_failure->number, 1);
  EXPECT_EQ(up.first_failure->message, "out of memory");
  ASSERT_TRUE(up.best.has_value());
  EXPECT_EQ(up.best->number, 5);
  EXPECT_EQ(up.best->metrics.at("loss"), 1);
  const Outcome down = store->outcome(exp, "loss", false);
  ASSERT_TRUE(down.best.has_value());
  EXPECT_EQ(down.best->number, 8);
  EXPECT_EQ(store->outcome(exp, "acc", false).best->number, 0);
  // The same trials as ranked() over every trial.
  for (const auto& [metric, maximize] : {std::pair<const char*, bool>{"acc", true},
                                         {"acc", false},
                                         {"loss", true},
                                         {"loss", false}}) {
    const auto ranked_best = ranked(store->trials(exp), Objective{metric, maximize}, 1);
    ASSERT_EQ(ranked_best.size(), 1u);
    EXPECT_EQ(store->outcome(exp, metric, maximize).best->number, ranked_best[0].number)
        << metric << (maximize ? " up" : " down");
  }

  const Outcome none = store->outcome(exp, "params", true);
  EXPECT_FALSE(none.best.has_value());
  EXPECT_EQ(none.complete, 6);
  const Outcome clean = store->outcome(other, "acc", true);
  EXPECT_FALSE(clean.first_failure.has_value());
  EXPECT_EQ(clean.best->number, 0);
}

// The driver's transactions: on PostgreSQL a BEGIN waits for the first
// statement and goes with it in one pipeline. A first statement that fails
// leaves nothing behind and the connection usable; a transaction left
// without commit undoes its writes; one that ran nothing commits nothing.
TEST_P(StoreBackendTest, TransactionsUndoFailedAndAbandonedWritesAndGoOn) {
  open()->create_experiment("kept", "{}").value();  // the schema
  auto connected = sql::connect(where_);
  ASSERT_TRUE(connected.is_ok()) << connected.status().message();
  sql::Connection& db = *connected.value();
  const char* insert = "INSERT INTO experiments(name, config_json) VALUES (?, '')";
  {
    sql::Transaction txn(db);
    sql::Stmt bad(db, "INSERT INTO experiments(name, config_json) VALUES (NULL, ?)");
    EXPECT_THROW(bad.bind_text(1, "").run(), sql::Error);  // NOT NULL, as the first statement
  }
  {
    sql::Transaction txn(db);
    sql::Stmt first(db, insert);
    first.bind_text(1, "abandoned").run();
    sql::Stmt again(db, insert);
    EXPECT_THROW(again.bind_text(1, "abandoned").run(), sql::Error);  // UNIQUE, later on
  }
  {
    sql::Transaction txn(db);
    sql::Stmt second(db, insert);
    second.bind_text(1, "unfinished").run();  // no commit
  }
  { sql::Transaction(db).commit(); }  // nothing in it
  {
    sql::Transaction txn(db, sql::Connection::kRead);
    txn.commit();
  }
  {
    sql::Transaction txn(db);
    sql::Stmt third(db, insert);
    third.bind_text(1, "committed").run();
    txn.commit();
  }
  std::vector<std::string> names;
  for (const ExperimentRow& e : open()->experiments()) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"kept", "committed"}));
}

TEST_P(StoreBackendTest, CallerBugsThrow) {
  auto store = open();
  int64_t exp = store->create_experiment("e", "{}").value();
  int64_t id = store->add_trial(exp, 0, "h", "k", "c", 1);
  EXPECT_THROW(store->add_trial(exp, 0, "h", "k", "c", 1), std::runtime_error);  // same number
  EXPECT_THROW(store->add_trial(exp + 100, 0, "h", "k", "c", 1), std::runtime_error);  // no exp
  EXPECT_THROW(store->set_running(id + 100, "w"), std::runtime_error);
  EXPECT_THROW(store->finish_trial(id + 100, TrialState::kComplete, "", {}), std::runtime_error);
  EXPECT_THROW(store->finish_trial(id, TrialState::kRunning, "", {}), std::invalid_argument);
  // A failed write left nothing behind.
  EXPECT_EQ(store->trials(exp).size(), 1u);
  EXPECT_EQ(store->trial(exp, 0)->state, TrialState::kWaiting);
}

TEST(StoreTrialTest, RequeueResetsOnlyRunningTrialsOfThatExperiment) {
  TempDir dir;
  std::string path = dir.file("rq.db");
  auto store = must_open(path);
  int64_t exp = store->create_experiment("e", "{}").value();
  int64_t other = store->create_experiment("other", "{}").value();
  int64_t w = store->add_trial(exp, 0, "h0", "k", "c", 1);
  int64_t r1 = store->add_trial(exp, 1, "h1", "k", "c", 2);
  int64_t r2 = store->add_trial(exp, 2, "h2", "k", "c", 3);
  int64_t done = store->add_trial(exp, 3, "h3", "k", "c", 4);
  int64_t elsewhere = store->add_trial(other, 0, "h", "k", "c", 5);
  store->set_running(r1, "host-a/0");
  store->set_running(r2, "host-b/1");
  store->set_running(done, "host-a/0");
  store->finish_trial(done, TrialState::kComplete, "", {{"acc", 0.5}});
  store->set_running(elsewhere, "host-c/0");
  store->heartbeat(r1);
  store->heartbeat(r1);

  EXPECT_EQ(store->requeue_unfinished(exp), 2);
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].state, TrialState::kWaiting);
  EXPECT_EQ(rows[0].id, w);
  for (int i : {1, 2}) {
    EXPECT_EQ(rows[i].state, TrialState::kWaiting);
    EXPECT_EQ(rows[i].worker, "");
    EXPECT_EQ(rows[i].started_at, "");
  }
  EXPECT_EQ(rows[3].state, TrialState::kComplete);
  EXPECT_EQ(rows[3].worker, "host-a/0");
  EXPECT_EQ(rows[3].metrics.at("acc"), 0.5);
  EXPECT_EQ(store->trial(other, 0)->state, TrialState::kRunning);

  std::vector<std::vector<std::string>> events =
      raw_query(path, "SELECT trial_id, event, message FROM trial_events ORDER BY id");
  EXPECT_EQ(events,
            (std::vector<std::vector<std::string>>{{std::to_string(r1), "requeued", "host-a/0"},
                                                   {std::to_string(r2), "requeued", "host-b/1"}}));
  EXPECT_TRUE(is_iso_utc_ms(raw_query(path, "SELECT at FROM trial_events LIMIT 1")[0][0]));
  EXPECT_EQ(raw_query(path, "SELECT count(*) FROM trial_heartbeats")[0][0], "1");

  EXPECT_EQ(store->requeue_unfinished(exp), 0);
  EXPECT_EQ(store->requeue_unfinished(other), 1);
}

TEST_P(StoreBackendTest, IntermediatesInNumberStepNameOrder) {
  auto store = open();
  int64_t exp = store->create_experiment("e", "{}").value();
  int64_t a = store->add_trial(exp, 1, "h", "k", "c", 1);
  int64_t b = store->add_trial(exp, 0, "h", "k", "c", 2);
  store->add_intermediate(a, 2, "val_acc", 0.75);
  store->add_intermediate(a, 1, "val_acc", 0.5);
  store->add_intermediate(a, 1, "loss", 1.25);
  store->add_intermediate(b, 1, "val_acc", 0.25);
  store->add_intermediate(b, 1, "val_acc", 0.375);  // a re-run replaces the value
  store->add_intermediate(b, 2, "loss", std::nan(""));

  std::vector<IntermediateRow> rows = store->intermediates(exp);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].trial_number, 0);
  EXPECT_EQ(rows[0].step, 1);
  EXPECT_EQ(rows[0].value, 0.375);
  EXPECT_EQ(rows[1].trial_number, 0);
  EXPECT_EQ(rows[1].step, 2);
  EXPECT_TRUE(std::isnan(rows[1].value));
  EXPECT_EQ(rows[2].trial_number, 1);
  EXPECT_EQ(rows[2].name, "loss");
  EXPECT_EQ(rows[2].value, 1.25);
  EXPECT_EQ(rows[3].name, "val_acc");
  EXPECT_EQ(rows[3].value, 0.5);
  EXPECT_EQ(rows[4].step, 2);
  EXPECT_EQ(rows[4].value, 0.75);
}

TEST_P(StoreBackendTest, PutReplaceDeleteAndListBinaryBytes) {
  auto store = open();
  int64_t exp = store->create_experiment("e", "{}").value();
  int64_t t0 = store->add_trial(exp, 0, "h", "k", "c", 1);
  int64_t t1 = store->add_trial(exp, 1, "h", "k", "c", 2);
  std::string bytes("\x00\x01\xff\x00weights\x00", 12);
  ASSERT_EQ(bytes.size(), 12u);
  std::string big;
  for (int i = 0; i < 300000; ++i) big.push_back(static_cast<char>((i * 31) % 256));

  EXPECT_FALSE(store->artifact(t0, "weights").has_value());
  store->put_artifact(t1, "weights", bytes);
  store->put_artifact(t0, "weights", big);
  store->put_artifact(t0, "log", "");
  EXPECT_EQ(store->artifact(t1, "weights").value(), bytes);
  EXPECT_EQ(store->artifact(t0, "weights").value(), big);
  EXPECT_EQ(store->artifact(t0, "log").value(), "");  // empty, not absent
  EXPECT_EQ(store->trials_with_artifact(exp, "weights"), (std::vector<int64_t>{t0, t1}));
  EXPECT_EQ(store->trials_with_artifact(exp, "log"), (std::vector<int64_t>{t0}));

  store->put_artifact(t0, "weights", bytes + bytes);  // replaces, one row per (trial, kind)
  EXPECT_EQ(store->artifact(t0, "weights").value(), bytes + bytes);
  EXPECT_EQ(store->trials_with_artifact(exp, "weights").size(), 2u);

  store->delete_artifact(t1, "weights");
  store->delete_artifact(t1, "weights");  // deleting what is gone is fine
  EXPECT_FALSE(store->artifact(t1, "weights").has_value());
  EXPECT_EQ(store->trials_with_artifact(exp, "weights"), (std::vector<int64_t>{t0}));
  EXPECT_TRUE(store->trials_with_artifact(exp, "onnx").empty());
}

TEST(StoreFileTest, ReopenedFileHoldsEverything) {
  TempDir dir;
  std::string path = dir.file("keep.db");
  int64_t exp;
  {
    auto store = must_open(path);
    exp = store->create_experiment("keep", R"({"seed":42})").value();
    for (int64_t i = 0; i < 5; ++i) {
      int64_t id = store->add_trial(exp, i, "h" + std::to_string(i), "k", "c", seed_for(i));
      store->set_running(id, "w");
      store->add_intermediate(id, 1, "acc", 0.125 * i);
      store->finish_trial(id, TrialState::kComplete, "", metrics_for(i));
    }
    store->put_artifact(store->trial(exp, 3)->id, "weights", std::string("\0\1\2", 3));
  }
  auto store = must_open(path);
  ExperimentRow row = store->find_experiment("keep").value();
  EXPECT_EQ(row.id, exp);
  EXPECT_EQ(row.config_json, R"({"seed":42})");
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_EQ(rows.size(), 5u);
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(rows[i].number, i);
    EXPECT_EQ(rows[i].arch_hash, "h" + std::to_string(i));
    EXPECT_EQ(rows[i].seed, seed_for(i));
    EXPECT_EQ(rows[i].metrics, metrics_for(i));
  }
  EXPECT_EQ(store->intermediates(exp).size(), 5u);
  EXPECT_EQ(store->intermediates(exp)[4].value, 0.5);
  EXPECT_EQ(store->artifact(rows[3].id, "weights").value(), std::string("\0\1\2", 3));
}

}  // namespace
}  // namespace sylva::experiments
