// SqlStore: the Store on an sql::Connection (sql.h), so that one text of
// every statement serves SQLite and PostgreSQL. Private to the Store
// implementation: store_schema.cc (open, schema, migrations), store.cc
// (experiments, trials), store_workers.cc (workers, claims, leases) and
// store_artifacts.cc (artifacts).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>

#include "experiments/sql.h"
#include "experiments/store.h"

namespace sylva::experiments {

// The columns read_trial() reads, in its order; read_trial reads a row of
// them (without metrics).
extern const char* const kTrialColumns;
TrialRow read_trial(const sql::Stmt& s);

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<sql::Connection> db) : db_(std::move(db)) {}

  StatusOr<int64_t> create_experiment(const std::string& name,
                                      const std::string& config_json) override;
  StatusOr<ExperimentRow> find_experiment(const std::string& name) override;
  std::vector<ExperimentRow> experiments() override;
  void update_config(int64_t experiment_id, const std::string& config_json) override;
  std::vector<std::optional<int64_t>> insert_trials(int64_t experiment_id,
                                                    const std::vector<NewTrial>& trials) override;
  void set_running(int64_t trial_id, const std::string& worker) override;
  bool finish_trial(int64_t trial_id, TrialState state, const std::string& message,
                    const std::map<std::string, double>& metrics,
                    const std::string& holder) override;
  void add_intermediate(int64_t trial_id, int step, const std::string& name, double value,
                        const std::string& holder) override;
  void add_event(int64_t trial_id, const std::string& event, const std::string& message) override;
  void heartbeat(int64_t trial_id) override;
  bool promote_trial(int64_t trial_id, int64_t from_epochs, const std::string& message) override;
  int requeue_unfinished(int64_t experiment_id) override;
  std::vector<TrialRow> trials_from(int64_t experiment_id, int64_t first_number) override;
  std::optional<TrialRow> trial(int64_t experiment_id, int64_t number) override;
  std::vector<IntermediateRow> intermediates_from(int64_t experiment_id,
                                                  int64_t first_number) override;
  std::vector<EventRow> events(int64_t experiment_id) override;
  Outcome outcome(int64_t experiment_id, const std::string& metric, bool maximize) override;
  ChangeMarks change_marks(int64_t experiment_id, const std::string& since) override;
  void put_artifact(int64_t trial_id, const std::string& kind, const std::string& bytes) override;
  void delete_artifact(int64_t trial_id, const std::string& kind) override;
  std::optional<std::string> artifact(int64_t trial_id, const std::string& kind) override;
  std::vector<int64_t> trials_with_artifact(int64_t experiment_id,
                                            const std::string& kind) override;
  WorkerRow add_worker(int64_t experiment_id, const std::string& name, const std::string& host,
                       int64_t pid, int slots, const std::string& machine) override;
  std::vector<int64_t> worker_heartbeat(int64_t worker_id,
                                        const std::vector<int64_t>& trial_ids) override;
  void worker_exit(int64_t worker_id) override;
  std::vector<WorkerRow> workers(int64_t experiment_id) override;
  bool try_lead(int64_t experiment_id, int64_t worker_id, double lease_seconds) override;
  std::optional<TrialRow> claim_trial(int64_t experiment_id, const std::string& worker) override;
  std::vector<Requeue> requeue_lost(int64_t experiment_id, double stale_seconds,
                                    const std::set<std::string>& dead_workers,
                                    int max_retries) override;
  int64_t release_trials(int64_t experiment_id, const std::string& worker,
                         const std::string& why) override;
  TrialCounts counts(int64_t experiment_id, double stale_seconds) override;
  void close_experiment(int64_t experiment_id, const std::string& why) override;
  void flush() override { db_->flush(); }

  // Checks the file, creates or migrates the schema (store_schema.cc).
  Status configure(Access access);
  const std::string& where() const { return db_->where(); }

 protected:
  void batch_begin() override { db_->batch_begin(); }
  void batch_end(bool commit) override { db_->batch_end(commit); }

 private:
  // Throws if `changed` is 0: no trial has that id (a caller bug).
  void require_changed(int64_t changed, const char* what, int64_t trial_id);

  std::unique_ptr<sql::Connection> db_;
  std::set<int64_t> leading_;  // experiments whose session lock this connection holds
  // Trials this store inserted RUNNING and has not finished or seen claimed
  // since: they have no metrics to clear when they finish.
  std::unordered_set<int64_t> fresh_;
};

}  // namespace sylva::experiments
