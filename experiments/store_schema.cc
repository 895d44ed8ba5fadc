// Store::open: connection settings, the schema, and its migrations.
//
// The schema is built by a list of steps, step i taking version i to i+1
// (step 0 creates version 1 on an empty database). open() applies the missing
// steps in one write transaction, so a database is always at exactly one
// version; a newer one is refused rather than misread.
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
// 64-bit integer; NULL metric values mean NaN. {words} are spelled by each
// backend (sql.h); on SQLite this is the text version 1 always had.
const char* const kSchemaV1 = R"sql(
CREATE TABLE schema_version (
  version {int} NOT NULL
);
CREATE TABLE experiments (
  id {id},
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT ({now}),
  config_json TEXT NOT NULL
);
CREATE TABLE trials (
  id {id},
  experiment_id {int} NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  number {int} NOT NULL CHECK (number >= 0),
  state TEXT NOT NULL DEFAULT 'WAITING'
    CHECK (state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAIL')),
  arch_hash TEXT NOT NULL,
  arch_key TEXT NOT NULL,
  arch_canonical TEXT NOT NULL,
  seed {int} NOT NULL,
  worker TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT ({now}),
  started_at TEXT,
  finished_at TEXT
);
CREATE UNIQUE INDEX trials_by_number ON trials(experiment_id, number);
CREATE INDEX trials_by_state ON trials(experiment_id, state);
CREATE INDEX trials_by_hash ON trials(experiment_id, arch_hash);

-- The primary keys below lead with trial_id: they are the by-trial indexes
-- (and keep ON DELETE CASCADE cheap).
CREATE TABLE trial_metrics (
  trial_id {int} NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value {real},
  PRIMARY KEY (trial_id, name)
) {without_rowid};
CREATE TABLE trial_intermediate (
  trial_id {int} NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  step {int} NOT NULL,
  name TEXT NOT NULL,
  value {real},
  PRIMARY KEY (trial_id, name, step)
) {without_rowid};
CREATE TABLE trial_heartbeats (
  trial_id {int} PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
  at TEXT NOT NULL
);
CREATE TABLE trial_events (
  id {id},
  trial_id {int} NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  at TEXT NOT NULL DEFAULT ({now}),
  event TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX trial_events_by_trial ON trial_events(trial_id);
CREATE TABLE artifacts (
  id {id},
  trial_id {int} NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  bytes {blob} NOT NULL,
  created_at TEXT NOT NULL DEFAULT ({now}),
  UNIQUE (trial_id, kind)
);
)sql";

// Version 2: several processes per experiment (worker registry, the
// coordinator's lease, retry counts, why an experiment is closed).
const char* const kSchemaV2 = R"sql(
ALTER TABLE experiments ADD COLUMN closed TEXT NOT NULL DEFAULT '';
ALTER TABLE trials ADD COLUMN retries {int} NOT NULL DEFAULT 0;
CREATE TABLE workers (
  id {id},
  experiment_id {int} NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  host TEXT NOT NULL,
  pid {int} NOT NULL,
  slots {int} NOT NULL,
  machine TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'EXITED', 'LOST')),
  started_at TEXT NOT NULL DEFAULT ({now}),
  seen_at TEXT NOT NULL DEFAULT ({now})
);
CREATE INDEX workers_by_experiment ON workers(experiment_id, state);
CREATE TABLE leaders (
  experiment_id {int} PRIMARY KEY REFERENCES experiments(id) ON DELETE CASCADE,
  worker_id {int} NOT NULL,
  locked {int} NOT NULL DEFAULT 0,
  expires_at TEXT NOT NULL
);
)sql";

// Version 3: which losses of a trial's holder count toward --max-retries
// (see requeue_lost); `retries` keeps counting every re-queue.
const char* const kSchemaV3 = R"sql(
ALTER TABLE trials ADD COLUMN charged {int} NOT NULL DEFAULT 0;
)sql";

using Migration = std::function<void(sql::Connection&)>;

// migrations()[i] takes the schema from version i to i+1. A future version
// appends a step with its ALTER TABLEs and data fix-ups.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> steps = {
      [](sql::Connection& db) { db.exec(kSchemaV1); },
      [](sql::Connection& db) { db.exec(kSchemaV2); },
      // Retries counted before version 3 were all charged.
      [](sql::Connection& db) {
        db.exec(kSchemaV3);
        db.exec("UPDATE trials SET charged = retries");
      },
  };
  return steps;
}

constexpr int kForeign = -1;  // has tables, but not ours

// The database's schema version: 0 when empty, kForeign when it holds other
// tables and no schema_version. The tables are counted first: another
// process's first open may commit the whole schema between the two looks,
// and seen in the other order (no schema_version, then tables) that reads as
// a foreign database.
int read_version(sql::Connection& db) {
  if (db.table_count() == 0) return 0;
  if (!db.has_table("schema_version")) return kForeign;
  Stmt version(db, "SELECT max(version) FROM schema_version");
  version.step();
  return version.col_null(0) ? kForeign : static_cast<int>(version.col_int(0));
}

// A Status if `version` cannot be used or migrated by this build.
Status check_version(int version, const std::string& path) {
  if (version == kForeign) {
    return Status::corruption(path +
                              " is not a sylva database (it has tables but no schema version)");
  }
  if (version > kSchemaVersion) {
    return Status::failed_precondition("database " + path + " has schema version " +
                                       std::to_string(version) + ", newer than this sylva's " +
                                       std::to_string(kSchemaVersion) + "; upgrade sylva");
  }
  return Status::ok();
}

}  // namespace

bool is_database_url(const std::string& target) { return sql::is_postgres(target); }

std::string database_for_display(const std::string& target) { return sql::redact(target); }

StatusOr<std::unique_ptr<Store>> Store::open(const std::string& path, Access access) {
  SYLVA_ASSIGN(db, sql::connect(path, access == Access::kReadOnly));
  const std::string where = db->where();
  auto store = std::make_unique<SqlStore>(std::move(db));
  try {
    Status s = store->configure(access);
    if (!s.is_ok()) return s;
  } catch (const sql::Error& e) {
    // sqlite reads the file lazily: "file is not a database" and permission
    // errors surface here, on the first statements.
    return Status::io_error("cannot open database " + where + ": " + e.driver_message());
  }
  return StatusOr<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(store)));
}

Status SqlStore::configure(Access access) {
  const std::string problem = db_->integrity_problem();
  if (!problem.empty()) {
    return Status::corruption("database " + where() +
                              " is damaged (PRAGMA quick_check: " + problem +
                              "); sylva will not use it: restore a copy, or save what is left "
                              "with `sqlite3 " +
                              where() + " .recover`");
  }
  // Fast path without the write lock: most opens find the current version.
  int version = read_version(*db_);
  Status s = check_version(version, where());
  if (!s.is_ok() || version == kSchemaVersion) return s;
  if (access == Access::kReadOnly) {
    std::unique_ptr<sql::Connection> copy = db_->copy_in_memory();
    if (!copy) {
      return Status::failed_precondition("database " + where() + " has schema version " +
                                         std::to_string(version) + ", older than this sylva's " +
                                         std::to_string(kSchemaVersion) +
                                         "; a command that writes (sylva resume) upgrades it");
    }
    db_ = std::move(copy);
  }
  sql::Connection& db = *db_;

  Transaction txn(db);
  db.lock_transaction(5977618502);  // one migration at a time
  version = read_version(db);       // another process may have migrated meanwhile
  s = check_version(version, where());
  if (!s.is_ok() || version == kSchemaVersion) return s;
  const std::vector<Migration>& steps = migrations();
  if (static_cast<int>(steps.size()) != kSchemaVersion) {
    throw std::logic_error("store: migration steps do not reach kSchemaVersion");
  }
  for (int v = version; v < kSchemaVersion; ++v) steps[v](db);
  db.exec("DELETE FROM schema_version");
  Stmt set(db, "INSERT INTO schema_version(version) VALUES (?)");
  set.bind_int(1, kSchemaVersion).run();
  txn.commit();
  return Status::ok();
}

}  // namespace sylva::experiments
