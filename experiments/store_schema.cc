// Store::open: connection settings, the schema, and its migrations.
//
// The schema is built by a list of steps, step i taking version i to i+1
// (step 0 creates version 1 on an empty database). open() applies the missing
// steps in one write transaction, so a database is always at exactly one
// version; a newer one is refused rather than misread.
#include <sqlite3.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/store.h"
#include "experiments/store_sql.h"

namespace sylva::experiments {
namespace {

using sql::Stmt;
using sql::Transaction;

// Version 1. Times are ISO-8601 UTC text; seeds are uint64 bits in a signed
// INTEGER; NULL metric values mean NaN.
const char* const kSchemaV1 = R"sql(
CREATE TABLE schema_version (
  version INTEGER NOT NULL
);
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT ()sql" SYLVA_SQL_NOW R"sql(),
  config_json TEXT NOT NULL
);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  number INTEGER NOT NULL CHECK (number >= 0),
  state TEXT NOT NULL DEFAULT 'WAITING'
    CHECK (state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAIL')),
  arch_hash TEXT NOT NULL,
  arch_key TEXT NOT NULL,
  arch_canonical TEXT NOT NULL,
  seed INTEGER NOT NULL,
  worker TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT ()sql" SYLVA_SQL_NOW R"sql(),
  started_at TEXT,
  finished_at TEXT
);
CREATE UNIQUE INDEX trials_by_number ON trials(experiment_id, number);
CREATE INDEX trials_by_state ON trials(experiment_id, state);
CREATE INDEX trials_by_hash ON trials(experiment_id, arch_hash);

-- The primary keys below lead with trial_id: they are the by-trial indexes
-- (and keep ON DELETE CASCADE cheap).
CREATE TABLE trial_metrics (
  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;
CREATE TABLE trial_intermediate (
  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, name, step)
) WITHOUT ROWID;
CREATE TABLE trial_heartbeats (
  trial_id INTEGER PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
  at TEXT NOT NULL
);
CREATE TABLE trial_events (
  id INTEGER PRIMARY KEY,
  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  at TEXT NOT NULL DEFAULT ()sql" SYLVA_SQL_NOW R"sql(),
  event TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX trial_events_by_trial ON trial_events(trial_id);
CREATE TABLE artifacts (
  id INTEGER PRIMARY KEY,
  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  bytes BLOB NOT NULL,
  created_at TEXT NOT NULL DEFAULT ()sql" SYLVA_SQL_NOW R"sql(),
  UNIQUE (trial_id, kind)
);
)sql";

using Migration = std::function<void(sqlite3*)>;

// migrations()[i] takes the schema from version i to i+1. A future version 2
// appends a step with its ALTER TABLEs and data fix-ups.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> steps = {
      [](sqlite3* db) { sql::exec(db, kSchemaV1); },
  };
  return steps;
}

constexpr int kForeign = -1;  // has tables, but not ours

// The database's schema version: 0 when empty, kForeign when it holds other
// tables and no schema_version.
int read_version(sqlite3* db) {
  Stmt has(db,
           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  has.step();
  if (has.col_int(0) == 0) {
    Stmt others(db, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
    others.step();
    return others.col_int(0) == 0 ? 0 : kForeign;
  }
  Stmt version(db, "SELECT max(version) FROM schema_version");
  version.step();
  return version.col_null(0) ? kForeign : static_cast<int>(version.col_int(0));
}

// A Status if `version` cannot be used or migrated by this build.
Status check_version(int version, const std::string& path) {
  if (version == kForeign) {
    return Status::error(path + " is not a sylva database (it has tables but no schema version)");
  }
  if (version > kSchemaVersion) {
    return Status::error("database " + path + " has schema version " + std::to_string(version) +
                         ", newer than this sylva's " + std::to_string(kSchemaVersion) +
                         "; upgrade sylva");
  }
  return Status::ok();
}

bool is_memory(const std::string& path) { return path.empty() || path == ":memory:"; }

}  // namespace

SqliteStore::SqliteStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

SqliteStore::~SqliteStore() { sqlite3_close_v2(db_); }

StatusOr<std::unique_ptr<Store>> Store::open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status::error("cannot open database " + path + ": " + why);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, path));
  try {
    Status s = store->configure();
    if (!s.is_ok()) return s;
  } catch (const sql::Error& e) {
    // sqlite reads the file lazily: "file is not a database" and permission
    // errors surface here, on the first statements.
    return Status::error("cannot open database " + path + ": " + e.sqlite_message());
  }
  return StatusOr<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(store)));
}

Status SqliteStore::configure() {
  sqlite3_extended_result_codes(db_, 1);
  // Writers wait for each other (BEGIN IMMEDIATE) instead of failing.
  sqlite3_busy_timeout(db_, 10000);
  sql::exec(db_, "PRAGMA foreign_keys = ON");
  if (!is_memory(path_)) {
    // WAL: readers never block the writer and a killed process loses no
    // committed transaction; NORMAL sync is durable against process crashes.
    Stmt wal(db_, "PRAGMA journal_mode = WAL");
    wal.run();
    sql::exec(db_, "PRAGMA synchronous = NORMAL");
  }

  // Fast path without the write lock: most opens find the current version.
  int version = read_version(db_);
  Status s = check_version(version, path_);
  if (!s.is_ok() || version == kSchemaVersion) return s;

  Transaction txn(db_);
  version = read_version(db_);  // another process may have migrated meanwhile
  s = check_version(version, path_);
  if (!s.is_ok() || version == kSchemaVersion) return s;
  const std::vector<Migration>& steps = migrations();
  if (static_cast<int>(steps.size()) != kSchemaVersion) {
    throw std::logic_error("store: migration steps do not reach kSchemaVersion");
  }
  for (int v = version; v < kSchemaVersion; ++v) steps[v](db_);
  sql::exec(db_, "DELETE FROM schema_version");
  Stmt set(db_, "INSERT INTO schema_version(version) VALUES (?)");
  set.bind_int(1, kSchemaVersion).run();
  txn.commit();
  return Status::ok();
}

}  // namespace sylva::experiments
