// Thin RAII wrappers over the sqlite3 C API, private to the Store
// implementation (store.cc, store_schema.cc, store_artifacts.cc).
//
// Every SQL text is a constant; user values only ever travel as bound
// parameters. Any sqlite error throws sql::Error (a std::runtime_error)
// carrying sqlite's message and the statement, because after open() an SQL error means a bug or
// a broken disk, not something the caller can handle. open() catches these and
// turns them into a Status.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "experiments/store.h"

// The current time as ISO-8601 UTC with milliseconds, computed by SQLite so
// that every writer shares one clock format.
#define SYLVA_SQL_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

namespace sylva::experiments {

// The SQLite Store (store.cc, store_schema.cc, store_artifacts.cc).
class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, std::string path);
  ~SqliteStore() override;

  StatusOr<int64_t> create_experiment(const std::string& name,
                                      const std::string& config_json) override;
  StatusOr<ExperimentRow> find_experiment(const std::string& name) override;
  std::vector<ExperimentRow> experiments() override;
  void update_config(int64_t experiment_id, const std::string& config_json) override;
  int64_t add_trial(int64_t experiment_id, int64_t number, const std::string& arch_hash,
                    const std::string& arch_key, const std::string& arch_canonical,
                    uint64_t seed) override;
  void set_running(int64_t trial_id, const std::string& worker) override;
  void finish_trial(int64_t trial_id, TrialState state, const std::string& message,
                    const std::map<std::string, double>& metrics) override;
  void add_intermediate(int64_t trial_id, int step, const std::string& name, double value) override;
  void add_event(int64_t trial_id, const std::string& event, const std::string& message) override;
  void heartbeat(int64_t trial_id) override;
  int requeue_unfinished(int64_t experiment_id) override;
  std::vector<TrialRow> trials(int64_t experiment_id) override;
  std::optional<TrialRow> trial(int64_t experiment_id, int64_t number) override;
  std::vector<IntermediateRow> intermediates(int64_t experiment_id) override;
  void put_artifact(int64_t trial_id, const std::string& kind, const std::string& bytes) override;
  void delete_artifact(int64_t trial_id, const std::string& kind) override;
  std::optional<std::string> artifact(int64_t trial_id, const std::string& kind) override;
  std::vector<int64_t> trials_with_artifact(int64_t experiment_id,
                                            const std::string& kind) override;

  // Pragmas, then creates or migrates the schema (store_schema.cc).
  Status configure();

 private:
  // Throws if no trial has that id (a caller bug).
  void require_changed(const char* what, int64_t trial_id);

  // Constant after construction.
  sqlite3* db_;       // owned; closed by the destructor
  std::string path_;  // as given to open(), for messages
};

}  // namespace sylva::experiments

namespace sylva::experiments::sql {

// What every helper below throws: what() has sqlite's message and the
// statement; sqlite_message() has sqlite's message alone, for open()'s Status.
class Error : public std::runtime_error {
 public:
  Error(const std::string& sqlite_message, const std::string& context)
      : std::runtime_error("sqlite: " + sqlite_message + " (in " + context + ")"),
        sqlite_message_(sqlite_message) {}
  const std::string& sqlite_message() const { return sqlite_message_; }

 private:
  std::string sqlite_message_;
};

// Throws Error with sqlite's current error message on `db`.
[[noreturn]] void fail(sqlite3* db, const std::string& context);

// Runs constant SQL with no parameters (DDL, PRAGMA, BEGIN/COMMIT).
void exec(sqlite3* db, const char* sql);

// Seeds are uint64 but SQLite integers are signed 64-bit: store the same bits.
int64_t to_sql(uint64_t v);
uint64_t from_sql(int64_t v);

// One prepared statement. Parameters are 1-based, columns 0-based, as in
// sqlite. Text is copied when bound; blobs (weights can be large) are not, so
// a bound blob must outlive the last step().
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind_int(int i, int64_t v);
  // NaN is stored as NULL (SQLite would do so anyway); read back as NaN.
  Stmt& bind_real(int i, double v);
  Stmt& bind_text(int i, const std::string& v);
  Stmt& bind_blob(int i, const std::string& v);

  // Advances; true while a row is available.
  bool step();
  // Steps a statement that returns no rows.
  void run();
  // Makes the statement ready to run again with new bindings.
  void reset();

  int64_t col_int(int c) const;
  double col_real(int c) const;       // NULL reads as NaN
  std::string col_text(int c) const;  // NULL reads as ""
  std::string col_blob(int c) const;
  bool col_null(int c) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE (write) or BEGIN DEFERRED (a consistent read snapshot);
// rolls back on destruction unless commit() was called, so an exception
// halfway through a state change leaves the database as it was.
class Transaction {
 public:
  enum Mode { kWrite, kRead };
  explicit Transaction(sqlite3* db, Mode mode = kWrite);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace sylva::experiments::sql
