// Store schema tests: a new database is versioned and in WAL mode, a
// version-one database migrates keeping its trials, and a newer schema, a
// file that is not a database or another program's SQLite database are each
// refused with a status that names the path. Also the trial state names.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "experiments/store.h"
#include "tests/experiments/store_fixture.h"

namespace sylva::experiments {
namespace {

using testing::must_open;
using testing::raw_query;
using testing::TempDir;

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
            "ALTER TABLE trials DROP COLUMN charged; "
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

}  // namespace
}  // namespace sylva::experiments
