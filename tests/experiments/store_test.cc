// Store tests: the schema and its version checks, every read/write method with
// exact values, crash safety (a writer killed with SIGKILL or _exit loses no
// finished trial) and two writers on one file without "database is locked".
#include "experiments/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <thread>

#include "tests/experiments/pg_server.h"

namespace sylva::experiments {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string base = ::testing::TempDir();
    if (base.empty() || base.back() != '/') base += '/';
    std::string tmpl = base + "sylva_store_XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<Store> must_open(const std::string& path) {
  StatusOr<std::unique_ptr<Store>> s = Store::open(path);
  if (!s.is_ok()) throw std::runtime_error(s.status().message());
  return std::move(s).value();
}

// Rows of a query run with the raw C API, to look at what Store wrote.
std::vector<std::vector<std::string>> raw_query(const std::string& path, const char* query) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("raw open");
  std::vector<std::vector<std::string>> rows;
  auto collect = [](void* out, int n, char** values, char**) {
    auto* r = static_cast<std::vector<std::vector<std::string>>*>(out);
    r->emplace_back();
    for (int i = 0; i < n; ++i) r->back().push_back(values[i] ? values[i] : "NULL");
    return 0;
  };
  char* err = nullptr;
  int rc = sqlite3_exec(db, query, collect, &rows, &err);
  std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("raw query: " + message);
  return rows;
}

bool is_iso_utc_ms(const std::string& t) {
  static const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  return std::regex_match(t, re);
}

// The metrics a test trial `i` finishes with.
std::map<std::string, double> metrics_for(int64_t i) {
  return {{"accuracy", 0.5 + i / 1024.0}, {"params", 1000.0 * i + 7}};
}

uint64_t seed_for(int64_t i) { return 0xFFFFFFFFFFFFFFFFull - static_cast<uint64_t>(i) * 7919; }

TEST(TrialStateTest, NamesRoundTripCaseInsensitively) {
  using evaluators::TrialState;
  for (TrialState s : {TrialState::kWaiting, TrialState::kRunning, TrialState::kComplete,
                       TrialState::kPruned, TrialState::kFail}) {
    EXPECT_EQ(evaluators::parse_state(evaluators::state_name(s)).value(), s);
  }
  EXPECT_STREQ(evaluators::state_name(TrialState::kComplete), "COMPLETE");
  EXPECT_EQ(evaluators::parse_state("pruned").value(), TrialState::kPruned);
  StatusOr<TrialState> bad = evaluators::parse_state("DONE");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(),
            "unknown trial state 'DONE' (expected WAITING, RUNNING, COMPLETE, PRUNED or FAIL)");
}

// The same behaviour from both backends: a fresh SQLite file, or a fresh
// database on one PostgreSQL server shared by the suite.
class StoreBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (!pg_) pg_ = new testing::PgServer();
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }
  void SetUp() override {
    if (GetParam() == "postgresql") {
      ASSERT_TRUE(pg_->ok()) << pg_->error();
      where_ = pg_->create_database();
      ASSERT_FALSE(where_.empty());
    } else {
      where_ = dir_.file("s.db");
    }
  }
  std::unique_ptr<Store> open() { return must_open(where_); }

  static testing::PgServer* pg_;
  TempDir dir_;
  std::string where_;
};
testing::PgServer* StoreBackendTest::pg_ = nullptr;

INSTANTIATE_TEST_SUITE_P(Backends, StoreBackendTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST(StoreSchemaTest, CreatesVersionedSchemaInWalMode) {
  TempDir dir;
  std::string path = dir.file("s.db");
  { must_open(path); }
  EXPECT_EQ(raw_query(path, "SELECT version FROM schema_version"),
            (std::vector<std::vector<std::string>>{{std::to_string(kSchemaVersion)}}));
  EXPECT_EQ(raw_query(path, "PRAGMA journal_mode")[0][0], "wal");
  std::vector<std::vector<std::string>> tables =
      raw_query(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  EXPECT_EQ(tables, (std::vector<std::vector<std::string>>{{"artifacts"},
                                                           {"experiments"},
                                                           {"leaders"},
                                                           {"schema_version"},
                                                           {"trial_events"},
                                                           {"trial_heartbeats"},
                                                           {"trial_intermediate"},
                                                           {"trial_metrics"},
                                                           {"trials"},
                                                           {"workers"}}));
  EXPECT_EQ(
      raw_query(path, "SELECT count(*) FROM sqlite_master WHERE name = 'trials_by_number'")[0][0],
      "1");
  // Opening again neither fails nor adds a second version row.
  { must_open(path); }
  EXPECT_EQ(raw_query(path, "SELECT count(*) FROM schema_version")[0][0], "1");
}

TEST(StoreSchemaTest, MigratesAVersionOneDatabaseKeepingItsTrials) {
  TempDir dir;
  std::string path = dir.file("v1.db");
  {
    auto store = must_open(path);
    int64_t exp = store->create_experiment("old", "{}").value();
    store->add_trial(exp, 0, "h", "k", "c", 5);
    store->set_running(store->add_trial(exp, 1, "h1", "k1", "c1", 6), "host:1");
  }
  // Back to version 1 as an older sylva left it.
  raw_query(path,
            "DROP TABLE workers; DROP TABLE leaders; ALTER TABLE trials DROP COLUMN retries; "
            "ALTER TABLE experiments DROP COLUMN closed; UPDATE schema_version SET version = 1");
  auto store = must_open(path);
  EXPECT_EQ(raw_query(path, "SELECT version FROM schema_version")[0][0],
            std::to_string(kSchemaVersion));
  const int64_t exp = store->find_experiment("old").value().id;
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].state, TrialState::kRunning);
  EXPECT_EQ(rows[1].worker, "host:1");
  EXPECT_EQ(rows[1].retries, 0);
  EXPECT_EQ(store->counts(exp, 60).closed, "");
  // The new tables work.
  const WorkerRow w = store->add_worker(exp, "host:2", "host", 2, 1, "boot/ns");
  EXPECT_EQ(w.label, "host:2." + std::to_string(w.id));
  EXPECT_TRUE(store->try_lead(exp, w.id, 60));
  EXPECT_EQ(store->claim_trial(exp, w.label)->number, 0);
}

TEST(StoreSchemaTest, MemoryDatabaseStartsEmpty) {
  auto store = must_open(":memory:");
  EXPECT_TRUE(store->experiments().empty());
  EXPECT_EQ(store->create_experiment("a", "{}").value(), 1);
}

TEST(StoreSchemaTest, RefusesNewerSchemaVersion) {
  TempDir dir;
  std::string path = dir.file("new.db");
  { must_open(path); }
  raw_query(path, "UPDATE schema_version SET version = 7");
  StatusOr<std::unique_ptr<Store>> s = Store::open(path);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().message(), "database " + path +
                                      " has schema version 7, newer than this sylva's " +
                                      std::to_string(kSchemaVersion) + "; upgrade sylva");
}

TEST(StoreSchemaTest, RefusesFileThatIsNotADatabase) {
  TempDir dir;
  std::string path = dir.file("notes.txt");
  {
    std::ofstream out(path);
    for (int i = 0; i < 200; ++i) out << "this is a text file, not a database\n";
  }
  StatusOr<std::unique_ptr<Store>> s = Store::open(path);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().message(), "cannot open database " + path + ": file is not a database");
}

TEST(StoreSchemaTest, RefusesSqliteDatabaseOfAnotherProgram) {
  TempDir dir;
  std::string path = dir.file("other.db");
  raw_query(path, "CREATE TABLE songs(title TEXT)");
  StatusOr<std::unique_ptr<Store>> s = Store::open(path);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().message(),
            path + " is not a sylva database (it has tables but no schema version)");
}

TEST(StoreSchemaTest, UnopenablePathIsAStatusNamingIt) {
  TempDir dir;
  std::string path = dir.file("no/such/dir/x.db");
  StatusOr<std::unique_ptr<Store>> s = Store::open(path);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().message(),
            "cannot open database " + path + ": unable to open database file");
}

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

// Adds, runs and finishes trials 0, 1, ... of `exp`, writing each number to
// `fd` once its finish_trial has returned. Runs in a forked child.
[[noreturn]] void child_writer(const std::string& path, int64_t exp, int fd, int64_t limit,
                               bool leave_one_running) {
  try {
    StatusOr<std::unique_ptr<Store>> opened = Store::open(path);
    if (!opened.is_ok()) _exit(2);
    Store& store = *opened.value();
    for (int64_t i = 0; i < limit; ++i) {
      int64_t id = store.add_trial(exp, i, "h", "k/" + std::to_string(i), "c", seed_for(i));
      store.set_running(id, "child");
      store.add_intermediate(id, 1, "accuracy", 0.25);
      store.finish_trial(id, TrialState::kComplete, "", metrics_for(i));
      if (fd >= 0 && write(fd, &i, sizeof i) != static_cast<ssize_t>(sizeof i)) _exit(3);
    }
    if (leave_one_running) {
      int64_t id = store.add_trial(exp, limit, "h", "k", "c", 0);
      store.set_running(id, "child");
      store.put_artifact(id, "weights", std::string("\0partial", 8));
    }
    // Inside the try: no destructor runs, so the connection is never closed
    // and the WAL never checkpointed.
    _exit(0);
  } catch (...) {
    _exit(4);
  }
}

// Every trial read back is either finished with all its metrics or not
// finished with none: no half-written state change.
void expect_consistent(const std::vector<TrialRow>& rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const TrialRow& t = rows[i];
    EXPECT_EQ(t.number, static_cast<int64_t>(i));
    EXPECT_EQ(t.seed, seed_for(t.number));
    if (t.state == TrialState::kComplete) {
      EXPECT_EQ(t.metrics, metrics_for(t.number)) << "trial " << t.number;
      EXPECT_FALSE(t.finished_at.empty());
    } else {
      EXPECT_TRUE(t.state == TrialState::kWaiting || t.state == TrialState::kRunning);
      EXPECT_TRUE(t.metrics.empty()) << "trial " << t.number;
    }
  }
}

TEST(StoreCrashTest, SigkillMidRunLosesNoFinishedTrial) {
  TempDir dir;
  std::string path = dir.file("crash.db");
  int64_t exp = must_open(path)->create_experiment("crash", "{}").value();

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    child_writer(path, exp, fds[1], 1000000, false);
  }
  close(fds[1]);
  // Kill the writer as soon as it reports its 40th finished trial: it is then
  // somewhere inside the next trial's transactions.
  constexpr int64_t kKillAfter = 39;
  int64_t last = -1, n = 0;
  while (last < kKillAfter && read(fds[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
    last = n;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  ASSERT_EQ(last, kKillAfter) << "child exited early with status " << status;
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  auto store = must_open(path);
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_GE(rows.size(), static_cast<size_t>(kKillAfter + 1));
  for (int64_t i = 0; i <= kKillAfter; ++i) {
    EXPECT_EQ(rows[i].state, TrialState::kComplete) << "trial " << i;
  }
  expect_consistent(rows);
  int running = 0;
  for (const TrialRow& t : rows) running += t.state == TrialState::kRunning;
  EXPECT_EQ(store->requeue_unfinished(exp), running);
}

TEST(StoreCrashTest, ExitWithoutClosingKeepsCommittedWork) {
  TempDir dir;
  std::string path = dir.file("exit.db");
  int64_t exp = must_open(path)->create_experiment("exit", "{}").value();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) child_writer(path, exp, -1, 10, true);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0);
  // The child's commits live in the WAL it never checkpointed.
  ASSERT_TRUE(fs::exists(path + "-wal"));

  auto store = must_open(path);
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_EQ(rows.size(), 11u);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(rows[i].state, TrialState::kComplete);
    EXPECT_EQ(rows[i].metrics, metrics_for(i));
    EXPECT_EQ(rows[i].arch_key, "k/" + std::to_string(i));
  }
  EXPECT_EQ(rows[10].state, TrialState::kRunning);
  EXPECT_EQ(rows[10].worker, "child");
  EXPECT_EQ(store->artifact(rows[10].id, "weights").value(), std::string("\0partial", 8));
  EXPECT_EQ(store->intermediates(exp).size(), 10u);
  EXPECT_EQ(store->requeue_unfinished(exp), 1);
  EXPECT_EQ(store->trial(exp, 10)->state, TrialState::kWaiting);
}

TEST(StoreConcurrencyTest, TwoThreadsWriteOneFileWithoutLockErrors) {
  TempDir dir;
  std::string path = dir.file("two.db");
  constexpr int kPerThread = 150;
  std::mutex mu;
  std::vector<std::string> errors;  // guarded by mu

  // Each thread opens its own Store on the (new) file at the same moment, gets
  // or creates the shared experiment, and writes interleaved trial numbers.
  auto worker = [&](int w) {
    try {
      auto store = must_open(path);
      StatusOr<int64_t> created = store->create_experiment("shared", "{}");
      int64_t exp = created.is_ok() ? created.value() : store->find_experiment("shared").value().id;
      for (int64_t i = 0; i < kPerThread; ++i) {
        int64_t number = 2 * i + w;
        int64_t id = store->add_trial(exp, number, "h", "k", "c", seed_for(number));
        store->set_running(id, "thread-" + std::to_string(w));
        store->heartbeat(id);
        store->add_intermediate(id, 1, "accuracy", 0.5);
        store->put_artifact(id, "weights", std::string(1024, static_cast<char>(w)));
        store->finish_trial(id, TrialState::kComplete, "", metrics_for(number));
        if (i % 25 == 0) store->trials(exp);  // readers run beside the other writer
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      errors.push_back(e.what());
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  ASSERT_TRUE(errors.empty()) << errors.front();

  auto store = must_open(path);
  ASSERT_EQ(store->experiments().size(), 1u);
  int64_t exp = store->find_experiment("shared").value().id;
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_EQ(rows.size(), static_cast<size_t>(2 * kPerThread));
  for (const TrialRow& t : rows) {
    EXPECT_EQ(t.state, TrialState::kComplete);
    EXPECT_EQ(t.worker, t.number % 2 == 0 ? "thread-0" : "thread-1");
  }
  expect_consistent(rows);
  EXPECT_EQ(store->trials_with_artifact(exp, "weights").size(),
            static_cast<size_t>(2 * kPerThread));
}

}  // namespace
}  // namespace sylva::experiments

namespace sylva::experiments {
namespace {

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
  // Claimed again (lowest number first) and lost again: out of retries.
  ASSERT_EQ(store->claim_trial(exp, "c:3")->number, 1);
  back = store->requeue_lost(exp, 60, {"c:3"}, 1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0].failed);
  t1 = store->trial(exp, 1).value();
  EXPECT_EQ(t1.state, TrialState::kFail);
  EXPECT_NE(t1.message.find("worker c:3 lost (its process is gone) and the trial was re-queued 1 "
                            "time(s) already (--max-retries 1)"),
            std::string::npos)
      << t1.message;
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
  ASSERT_EQ(workers.size(), 2u);
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
  EXPECT_EQ(c.waiting, 3);
  EXPECT_EQ(c.finished, 1);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.live_slots, 2);  // a:1 only; b:2 stays LOST
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
