// Store: the experiment database. SQLite (WAL mode, busy timeout, BEGIN
// IMMEDIATE for writes) holding many experiments in one file, with a
// normalised, versioned schema:
//
//   schema_version(version)
//   experiments(id, name UNIQUE, created_at, config_json)
//   trials(id, experiment_id, number, state, arch_hash, arch_key,
//          arch_canonical, seed, worker, message, created_at, started_at,
//          finished_at; UNIQUE(experiment_id, number))
//   trial_metrics(trial_id, name, value)
//   trial_intermediate(trial_id, step, name, value)
//   trial_heartbeats(trial_id, at)
//   trial_events(trial_id, at, event, message)   -- requeues, failures
//   artifacts(id, trial_id, kind, bytes, created_at)
//
// Every state change is one transaction, so a crash loses nothing that was
// written. Not thread-safe: one Store per thread (the experiment loop owns it);
// several Stores, in threads or processes, may share one file.
//
// Errors: open() returns a Status for anything about the file (cannot open,
// not a database, not a sylva database, newer schema). After that, an SQL
// error is a bug or a broken disk and throws std::runtime_error.
//
// NaN metrics and intermediate values are stored as NULL and read back as NaN.
//
// Implemented in store_schema.cc (open, schema, migrations), store.cc
// (experiments, trials), store_artifacts.cc (artifacts); store_sql.h holds the
// sqlite RAII helpers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evaluators/evaluator.h"
#include "spaces/status.h"

struct sqlite3;

namespace sylva::experiments {

using evaluators::TrialState;

inline constexpr int kSchemaVersion = 1;

struct ExperimentRow {
  int64_t id = 0;
  std::string name;
  std::string created_at;   // ISO-8601 UTC
  std::string config_json;  // the whole configuration, enough to resume
};

struct TrialRow {
  int64_t id = 0;
  int64_t number = 0;  // creation order within the experiment, from 0
  TrialState state = TrialState::kWaiting;
  std::string arch_hash;  // 16 hex digits
  std::string arch_key;
  std::string arch_canonical;
  uint64_t seed = 0;
  std::string worker;
  std::string message;
  std::string created_at, started_at, finished_at;
  std::map<std::string, double> metrics;
};

struct IntermediateRow {
  int64_t trial_number = 0;
  int step = 0;
  std::string name;
  double value = 0;
};

class Store {
 public:
  // Opens (creating and migrating if needed) the database at `path`;
  // ":memory:" gives a private in-memory database. Refuses a database whose
  // schema version is newer than this build's.
  static StatusOr<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Fails if an experiment of that name exists.
  StatusOr<int64_t> create_experiment(const std::string& name, const std::string& config_json);
  // Fails with "no experiment named ..." (listing the names there are).
  StatusOr<ExperimentRow> find_experiment(const std::string& name);
  std::vector<ExperimentRow> experiments();
  // Replaces the stored configuration (resume's new --trials, --workers, ...),
  // so that a later resume and the reports see what the last run used.
  void update_config(int64_t experiment_id, const std::string& config_json);

  // Inserts trial `number` in state WAITING; returns its id.
  int64_t add_trial(int64_t experiment_id, int64_t number, const std::string& arch_hash,
                    const std::string& arch_key, const std::string& arch_canonical, uint64_t seed);
  void set_running(int64_t trial_id, const std::string& worker);
  // Moves a trial to a finished state with its metrics, in one transaction.
  void finish_trial(int64_t trial_id, TrialState state, const std::string& message,
                    const std::map<std::string, double>& metrics);
  void add_intermediate(int64_t trial_id, int step, const std::string& name, double value);
  // Records an event in a trial's history (e.g. "promoted", "to 9 epochs").
  void add_event(int64_t trial_id, const std::string& event, const std::string& message);
  void heartbeat(int64_t trial_id);
  // Puts every RUNNING trial of the experiment back to WAITING (recording a
  // 'requeued' event for each); returns how many.
  int requeue_unfinished(int64_t experiment_id);

  // Trials in number order, with their metrics.
  std::vector<TrialRow> trials(int64_t experiment_id);
  std::optional<TrialRow> trial(int64_t experiment_id, int64_t number);
  std::vector<IntermediateRow> intermediates(int64_t experiment_id);

  // Artifacts (e.g. kind "weights"): one per (trial, kind), replaced on put.
  void put_artifact(int64_t trial_id, const std::string& kind, const std::string& bytes);
  void delete_artifact(int64_t trial_id, const std::string& kind);
  std::optional<std::string> artifact(int64_t trial_id, const std::string& kind);
  // Trial ids of the experiment that hold an artifact of `kind`.
  std::vector<int64_t> trials_with_artifact(int64_t experiment_id, const std::string& kind);

 private:
  Store(sqlite3* db, std::string path);
  // Pragmas, then creates or migrates the schema (store_schema.cc).
  Status configure();
  // Throws if no trial has that id (a caller bug).
  void require_changed(const char* what, int64_t trial_id);

  // Constant after construction.
  sqlite3* db_;       // owned; closed by the destructor
  std::string path_;  // as given to open(), for messages
};

}  // namespace sylva::experiments
