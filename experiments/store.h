// Store: the experiment database, an interface; Store::open gives the SQLite
// implementation (store_sql.h). SQLite (WAL mode, busy timeout, BEGIN
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
// The SQLite implementation, SqliteStore (declared in store_sql.h with the
// sqlite RAII helpers), is in store_schema.cc (open, schema, migrations),
// store.cc (experiments, trials) and store_artifacts.cc (artifacts). The
// interface is what a second backend (PostgreSQL, for workers on many
// hosts) implements; the rest of Sylva sees only Store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evaluators/evaluator.h"
#include "spaces/status.h"

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
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Fails if an experiment of that name exists.
  virtual StatusOr<int64_t> create_experiment(const std::string& name,
                                              const std::string& config_json) = 0;
  // Fails with "no experiment named ..." (listing the names there are).
  virtual StatusOr<ExperimentRow> find_experiment(const std::string& name) = 0;
  virtual std::vector<ExperimentRow> experiments() = 0;
  // Replaces the stored configuration (resume's new --trials, --workers, ...),
  // so that a later resume and the reports see what the last run used.
  virtual void update_config(int64_t experiment_id, const std::string& config_json) = 0;

  // Inserts trial `number` in state WAITING; returns its id.
  virtual int64_t add_trial(int64_t experiment_id, int64_t number, const std::string& arch_hash,
                            const std::string& arch_key, const std::string& arch_canonical,
                            uint64_t seed) = 0;
  virtual void set_running(int64_t trial_id, const std::string& worker) = 0;
  // Moves a trial to a finished state with its metrics, in one transaction.
  virtual void finish_trial(int64_t trial_id, TrialState state, const std::string& message,
                            const std::map<std::string, double>& metrics) = 0;
  virtual void add_intermediate(int64_t trial_id, int step, const std::string& name,
                                double value) = 0;
  // Records an event in a trial's history (e.g. "promoted", "to 9 epochs").
  virtual void add_event(int64_t trial_id, const std::string& event,
                         const std::string& message) = 0;
  virtual void heartbeat(int64_t trial_id) = 0;
  // Puts every RUNNING trial of the experiment back to WAITING (recording a
  // 'requeued' event for each); returns how many.
  virtual int requeue_unfinished(int64_t experiment_id) = 0;

  // Trials in number order, with their metrics.
  virtual std::vector<TrialRow> trials(int64_t experiment_id) = 0;
  virtual std::optional<TrialRow> trial(int64_t experiment_id, int64_t number) = 0;
  virtual std::vector<IntermediateRow> intermediates(int64_t experiment_id) = 0;

  // Artifacts (e.g. kind "weights"): one per (trial, kind), replaced on put.
  virtual void put_artifact(int64_t trial_id, const std::string& kind,
                            const std::string& bytes) = 0;
  virtual void delete_artifact(int64_t trial_id, const std::string& kind) = 0;
  virtual std::optional<std::string> artifact(int64_t trial_id, const std::string& kind) = 0;
  // Trial ids of the experiment that hold an artifact of `kind`.
  virtual std::vector<int64_t> trials_with_artifact(int64_t experiment_id,
                                                    const std::string& kind) = 0;

 protected:
  Store() = default;
};

}  // namespace sylva::experiments
