// Store: the experiment database, an interface over two backends that share
// one normalised, versioned schema and one text of every statement
// (store_sql.h, sql.h): an SQLite file (WAL mode, busy timeout, BEGIN
// IMMEDIATE for writes; several processes on one machine) or a PostgreSQL
// database (`postgresql://...`; workers on many hosts). Many experiments per
// database:
//
//   schema_version(version)
//   experiments(id, name UNIQUE, created_at, config_json, closed)
//   trials(id, experiment_id, number, state, arch_hash, arch_key,
//          arch_canonical, seed, worker, message, created_at, started_at,
//          finished_at, retries, charged; UNIQUE(experiment_id, number))
//   trial_metrics(trial_id, name, value)
//   trial_intermediate(trial_id, step, name, value)
//   trial_heartbeats(trial_id, at)
//   trial_events(trial_id, at, event, message)   -- requeues, failures
//   artifacts(id, trial_id, kind, bytes, created_at)
//   workers(id, experiment_id, label, host, pid, slots, state, started_at,
//           seen_at)                               -- processes evaluating
//   leaders(experiment_id, worker_id, expires_at)  -- the coordinator's lease
//
// Every state change is one transaction, so a crash loses nothing that was
// written. Times are ISO-8601 UTC text from the database's own clock, so
// heartbeats from many hosts are judged by one clock. Not thread-safe: one
// Store per thread (the experiment loop owns it); several Stores, in threads
// or processes, may share one database.
//
// Errors: open() returns a Status for anything about the database (cannot
// open or connect, not a database, not a sylva database, newer schema).
// After that, an SQL error is a bug, a broken disk or a lost server and
// throws std::runtime_error.
//
// NaN metrics and intermediate values are stored as NULL and read back as NaN.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "evaluators/evaluator.h"

namespace sylva::experiments {

using evaluators::TrialState;

inline constexpr int kSchemaVersion = 3;

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
  int retries = 0;  // times re-queued after its worker was lost
  int charged = 0;  // of those, the losses that count toward --max-retries
  std::map<std::string, double> metrics;
};

// A process evaluating an experiment's trials (sylva search, sylva worker).
struct WorkerRow {
  int64_t id = 0;
  std::string label;  // host:pid.id, as in TrialRow::worker
  std::string host;
  int64_t pid = 0;
  std::string machine;  // boot and pid namespace: where `pid` means this process
  int slots = 0;        // concurrent evaluations
  std::string state;    // ACTIVE, EXITED or LOST
  std::string started_at, seen_at;
  bool leader = false;           // holds the coordinator's lease now
  std::vector<int64_t> running;  // numbers of the trials it holds
  // The device each of them runs on ("GPU 1", from the trial's latest
  // 'device' event), "" when its evaluator hands out none.
  std::vector<std::string> running_devices;
};

// An experiment at a glance, read in one snapshot.
struct TrialCounts {
  int64_t total = 0, waiting = 0, running = 0, finished = 0, failed = 0;
  int64_t live_slots = 0;  // slots of ACTIVE workers seen within the stale time
  std::string closed;      // why no trial will be added: "" (open), "budget", "exhausted"
};

// A trial taken back from a lost worker.
struct Requeue {
  int64_t trial_id = 0, number = 0;
  std::string worker;
  bool failed = false;  // out of retries: FAIL instead of WAITING
};

struct IntermediateRow {
  int64_t trial_number = 0;
  int step = 0;
  std::string name;
  double value = 0;
};

// What changed in an experiment since a time (the dashboard's reads): the
// latest finish, the lowest-numbered trial not finished, and the
// lowest-numbered one that finished at or after `since`; -1 when none.
// `complete` counts COMPLETE trials: a promoted trial that runs again and
// completes within the millisecond of the previous finish changes no time.
struct ChangeMarks {
  std::string last_finished;  // max(finished_at), "" when none
  int64_t first_unfinished = -1;
  int64_t first_finished_since = -1;
  int64_t complete = 0;
};

// How an experiment's trials ended, read without reading them all.
struct Outcome {
  int64_t complete = 0, pruned = 0, failed = 0;
  std::optional<TrialRow> first_failure;  // the lowest-numbered FAIL trial
  // The COMPLETE trial with the best finite value of the metric, the
  // lowest-numbered among equals (as ranked() in report.h orders them).
  std::optional<TrialRow> best;
};

// Something that happened to a trial (trial_events): "requeued", "released",
// "failed", "promoted", "device", "discarded", with the database's time.
struct EventRow {
  int64_t trial_number = 0;
  std::string at, event, message;
};

// True for a PostgreSQL target ("postgresql://...", "postgres://...", or a
// libpq "host=..." / "dbname=..." string); anything else is an SQLite file.
bool is_database_url(const std::string& target);
// `target` as messages show it: a PostgreSQL password replaced by ***.
std::string database_for_display(const std::string& target);

class Store {
 public:
  // Opens (creating and migrating if needed) the database at `path`;
  // ":memory:" gives a private in-memory database. Refuses a database whose
  // schema version is newer than this build's.
  // kReadOnly (the verbs that only read): nothing is written to the file or
  // beside it, so a database in a read-only directory or on read-only media
  // reads; an older schema is migrated in a private in-memory copy. Either
  // way an SQLite file is checked first (PRAGMA quick_check) and a damaged
  // one refused, before anything reads or writes it.
  enum class Access { kReadWrite, kReadOnly };
  static StatusOr<std::unique_ptr<Store>> open(const std::string& path,
                                               Access access = Access::kReadWrite);
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

  // Inserts trial `number` in state WAITING; returns its id, or nullopt if
  // the experiment has a trial of that number (another coordinator made it).
  // With a `runner`, the trial is inserted RUNNING on that worker, as if
  // claimed at once (a coordinator's own free slots).
  std::optional<int64_t> insert_trial(int64_t experiment_id, int64_t number,
                                      const std::string& arch_hash, const std::string& arch_key,
                                      const std::string& arch_canonical, uint64_t seed,
                                      const std::string& runner = "");
  // The same for several trials at once (a coordinator filling several free
  // slots: one round trip to a server): each one's id, or nullopt from the
  // first whose number was taken on (in the given order): none after it is
  // inserted, as if the trials were inserted one by one up to the first
  // refusal.
  struct NewTrial {
    int64_t number = 0;
    std::string arch_hash, arch_key, arch_canonical;
    uint64_t seed = 0;
    std::string runner;
  };
  virtual std::vector<std::optional<int64_t>> insert_trials(
      int64_t experiment_id, const std::vector<NewTrial>& trials) = 0;
  // The same; a trial of that number already there is a bug (throws).
  int64_t add_trial(int64_t experiment_id, int64_t number, const std::string& arch_hash,
                    const std::string& arch_key, const std::string& arch_canonical, uint64_t seed);
  virtual void set_running(int64_t trial_id, const std::string& worker) = 0;
  // Moves a trial to a finished state with its metrics, in one transaction.
  // With a `holder`, only if the trial is RUNNING on that worker (it may have
  // been re-queued meanwhile): returns false, writing nothing, otherwise.
  virtual bool finish_trial(int64_t trial_id, TrialState state, const std::string& message,
                            const std::map<std::string, double>& metrics,
                            const std::string& holder = "") = 0;
  // With a `holder`, only while the trial is RUNNING on that worker.
  virtual void add_intermediate(int64_t trial_id, int step, const std::string& name, double value,
                                const std::string& holder = "") = 0;
  // Records an event in a trial's history (e.g. "promoted", "to 9 epochs").
  virtual void add_event(int64_t trial_id, const std::string& event,
                         const std::string& message) = 0;
  virtual void heartbeat(int64_t trial_id) = 0;
  // Successive halving: moves a PRUNED trial whose "epochs" metric is
  // `from_epochs` back to WAITING for its next rung, with a 'promoted' event
  // carrying `message`, in one transaction; false (nothing written) when the
  // trial is not in that state, so that no promotion happens twice.
  virtual bool promote_trial(int64_t trial_id, int64_t from_epochs, const std::string& message) = 0;
  // Puts every RUNNING trial of the experiment back to WAITING (recording a
  // 'requeued' event for each); returns how many.
  virtual int requeue_unfinished(int64_t experiment_id) = 0;

  // Trials in number order, with their metrics (from number `first_number`).
  std::vector<TrialRow> trials(int64_t experiment_id) { return trials_from(experiment_id, 0); }
  virtual std::vector<TrialRow> trials_from(int64_t experiment_id, int64_t first_number) = 0;
  virtual std::optional<TrialRow> trial(int64_t experiment_id, int64_t number) = 0;
  std::vector<IntermediateRow> intermediates(int64_t experiment_id) {
    return intermediates_from(experiment_id, 0);
  }
  // Those of trials numbered `first_number` and above.
  virtual std::vector<IntermediateRow> intermediates_from(int64_t experiment_id,
                                                          int64_t first_number) = 0;
  // The experiment's trial events, by time.
  virtual std::vector<EventRow> events(int64_t experiment_id) = 0;
  // Counts by state, the first failure and the best trial by `metric`
  // (highest when `maximize`): a few aggregates and two trials, not every
  // trial and metric of a long experiment.
  virtual Outcome outcome(int64_t experiment_id, const std::string& metric, bool maximize) = 0;
  // One pass over the experiment's trials (see ChangeMarks).
  virtual ChangeMarks change_marks(int64_t experiment_id, const std::string& since) = 0;

  // Artifacts (e.g. kind "weights"): one per (trial, kind), replaced on put.
  virtual void put_artifact(int64_t trial_id, const std::string& kind,
                            const std::string& bytes) = 0;
  virtual void delete_artifact(int64_t trial_id, const std::string& kind) = 0;
  virtual std::optional<std::string> artifact(int64_t trial_id, const std::string& kind) = 0;
  // Trial ids of the experiment that hold an artifact of `kind`.
  virtual std::vector<int64_t> trials_with_artifact(int64_t experiment_id,
                                                    const std::string& kind) = 0;

  // Several processes on one experiment (experiments/cluster.h).
  // Registers a worker process in state ACTIVE; returns it, its label made
  // unique as "NAME.ID" (NAME is host:pid).
  virtual WorkerRow add_worker(int64_t experiment_id, const std::string& name,
                               const std::string& host, int64_t pid, int slots,
                               const std::string& machine) = 0;
  // The worker is alive and evaluating `trial_ids`: stamps it and those of
  // them it still holds, and returns those (a trial taken back meanwhile is
  // someone else's: its heartbeat is theirs to give).
  virtual std::vector<int64_t> worker_heartbeat(int64_t worker_id,
                                                const std::vector<int64_t>& trial_ids) = 0;
  virtual void worker_exit(int64_t worker_id) = 0;  // state EXITED
  virtual std::vector<WorkerRow> workers(int64_t experiment_id) = 0;
  // Takes or renews the coordinator's lease for `lease_seconds`; true if the
  // worker holds it. The lease passes when it expires (a hung or lost
  // holder); on PostgreSQL also when the holder's connection dies (an
  // advisory lock the server frees), without waiting for the expiry.
  virtual bool try_lead(int64_t experiment_id, int64_t worker_id, double lease_seconds) = 0;
  // Atomically moves the lowest-numbered WAITING trial to RUNNING on
  // `worker` (FOR UPDATE SKIP LOCKED on PostgreSQL); nullopt if none waits.
  virtual std::optional<TrialRow> claim_trial(int64_t experiment_id, const std::string& worker) = 0;
  // Takes back the RUNNING trials whose heartbeat is older than
  // `stale_seconds` by the database's clock, or whose worker is in
  // `dead_workers`: WAITING again (same genotype and seed), or FAIL when
  // the trial looks like the cause; each with an event naming the worker.
  // A loss is charged to the trial when another trial finished while it ran
  // (on its holder, or elsewhere before its last heartbeat): FAIL after more
  // than `max_retries` charged losses, or after more than 4 x `max_retries`
  // losses in all. Marks such workers LOST.
  virtual std::vector<Requeue> requeue_lost(int64_t experiment_id, double stale_seconds,
                                            const std::set<std::string>& dead_workers,
                                            int max_retries) = 0;
  // Hands the RUNNING trials of `worker` back: WAITING again, with a
  // 'released' event carrying `why`, no retry counted (a preempted worker,
  // not a failing trial). Returns how many.
  virtual int64_t release_trials(int64_t experiment_id, const std::string& worker,
                                 const std::string& why) = 0;
  virtual TrialCounts counts(int64_t experiment_id, double stale_seconds) = 0;
  // Records that no trial will be added ("budget", "exhausted"); "" reopens.
  virtual void close_experiment(int64_t experiment_id, const std::string& why) = 0;

  // A batch: the state changes made while one lives commit together when it
  // ends, or at flush() (before the owner waits for anything: the database
  // stays locked for other writers until then); leaving its scope by an
  // exception rolls back what was not flushed. The experiment loop keeps one
  // open for its whole run and flushes it before it waits and at most every
  // few milliseconds, so that many changes pay for one commit.
  class Batch {
   public:
    explicit Batch(Store& store) : store_(store), exceptions_(std::uncaught_exceptions()) {
      store_.batch_begin();
    }
    ~Batch() { store_.batch_end(std::uncaught_exceptions() == exceptions_); }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    Store& store_;
    const int exceptions_;
  };
  virtual void flush() = 0;

 protected:
  Store() = default;
  virtual void batch_begin() = 0;
  virtual void batch_end(bool commit) = 0;
};

}  // namespace sylva::experiments
