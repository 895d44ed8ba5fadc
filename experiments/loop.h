// ExperimentLoop: run_cluster (cluster.h) as a class, one process's part in
// an experiment shared through the database. run() is one `while` loop of
// named stages, each a look at the database and a step of this process:
//
//   stop_requested()  a signal asked to stop: hand the held trials back, leave
//   check_here()      take the trials of this machine's dead processes back
//   heartbeat()       stamp this process and its trials, re-read the
//                     settings, take or renew the coordinator's lease
//   count()           the experiment at a glance, into the progress
//   coordinate()      (the coordinator only) tell the strategy new results,
//                     add trials for free slots, close the experiment
//   claim()           take WAITING trials for this process's free slots
//   collect()         wait for results and record those still held here
//
// The coordinator's strategy is rebuilt from the database at each takeover
// (become_coordinator, through internal::replay_trials), and so is its
// successive-halving scheduler (internal::RungBook): the coordinator
// promotes into free slots before it adds trials, and any process runs a
// claimed trial at the rung the database says. Not thread-safe: the
// loop thread alone calls run(), once, and touches the Store and the strategy;
// worker threads only evaluate and push to the event queue. Implemented in
// loop.cc.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "evaluators/evaluator.h"
#include "evaluators/worker_pool.h"
#include "experiments/cluster.h"
#include "experiments/run_options.h"
#include "experiments/run_support.h"
#include "experiments/rung_book.h"
#include "experiments/store.h"
#include "search/strategy.h"
#include "spaces/space.h"

namespace sylva::experiments {

class ExperimentLoop {
 public:
  // Borrows everything; each must outlive the loop.
  ExperimentLoop(Store& store, int64_t experiment_id, const Space& space,
                 evaluators::Evaluator& evaluator, const RunOptions& options,
                 const ClusterHooks& hooks, const RunListener& listener);
  ExperimentLoop(const ExperimentLoop&) = delete;
  ExperimentLoop& operator=(const ExperimentLoop&) = delete;

  // Runs this process's part until the experiment is closed and no trial
  // waits or runs, or a stop signal; see cluster.h. Called once.
  StatusOr<RunSummary> run();

 private:
  using Clock = std::chrono::steady_clock;

  // Joining and leaving.
  void join();
  bool stop_requested() const;
  RunSummary stop();
  RunSummary leave();
  void leave_on_error();

  // The stages of one pass of the loop.
  void check_here();
  Status heartbeat();
  TrialCounts count();
  bool coordinate(TrialCounts& c, bool beat);
  bool claim(TrialCounts& c);
  bool done(const TrialCounts& c) const;
  void collect(bool busy);

  // Parts of the stages.
  void refresh_settings();
  Status become_coordinator();
  void tell_new_results(const TrialCounts& c, bool beat);
  bool add_trials(TrialCounts& c);
  void close_if_done(TrialCounts& c);
  void dispatch(TrialRow row, std::optional<Architecture> made = std::nullopt);
  void record(internal::Event& event);
  void tell_own(const TrialRow& row);
  void advance_low();
  // Commits the open write transaction, then reports the trials it finished.
  void commit();
  void keep_weights(const TrialRow& row, const std::string& weights);
  int64_t take_back(const std::set<std::string>& dead);
  std::set<std::string> dead_here();
  double signed_value(double v) const { return options_.maximize ? v : -v; }

  // Constant for the run
  Store& store_;
  const int64_t experiment_id_;
  const Space& space_;
  evaluators::Evaluator& evaluator_;
  const RunOptions& options_;
  const ClusterHooks& hooks_;
  const RunListener& listener_;
  const Clock::time_point start_;
  const int slots_;  // concurrent evaluations here; 0: coordinate only
  const std::vector<std::string> required_;
  const std::string machine_;  // where a registered pid means a process of this host

  // Per run
  int64_t worker_id_ = 0;  // this process in the workers table
  std::string label_;      // and its label, as trials record it
  // The settings, re-read at each heartbeat (resume may change them).
  int64_t budget_ = 0;
  double timeout_ = 0;
  int max_retries_ = 0;
  double interval_ = 0;  // between heartbeats: six per timeout
  RunSummary summary_;
  RunEvent progress_;
  bool leader_ = false;
  bool first_lead_ = true;  // replayed trials are counted at the first takeover only
  bool left_ = false;       // the registry says this process left
  Clock::time_point last_beat_;
  Clock::time_point last_local_check_;
  Clock::time_point last_listen_;
  Clock::time_point last_commit_ = Clock::now();
  // Trials finished here since the last commit, with the progress to report
  // them with (reported after the commit).
  std::vector<std::pair<RunEvent, TrialRow>> unreported_;
  static constexpr double kCommitEvery = 0.005;  // seconds
  internal::EventQueue queue_;
  evaluators::WorkerPool pool_;  // after queue_: its jobs push there until it is gone

  // Per coordinator term, rebuilt from the database at each takeover
  std::unique_ptr<search::Strategy> strategy_;
  std::set<int64_t> told_;                 // trial numbers the strategy has heard the result of
  std::map<int64_t, Architecture> asked_;  // trials made this term, until told, by number
  int64_t low_ = 0;                        // every trial below this number has been told
  bool exhausted_ = false;                 // the strategy had nothing new
  int64_t finished_seen_ = -1;             // finished trials at the coordinator's last look

  // Per held trial
  std::map<int64_t, TrialRow> running_;  // the trials evaluating here, by id
  internal::SlotSet free_slots_;
  std::map<int64_t, int> slot_of_;                                // by trial id
  std::map<int64_t, std::shared_ptr<internal::StopFlag>> stops_;  // by trial id

  // Successive halving (min_budget > 0): the rungs, for every process; the
  // scheduler, for the coordinator (rebuilt at each takeover).
  std::unique_ptr<internal::RungBook> rungs_;
  std::map<int64_t, int> rung_of_;  // the rung each held trial runs, by trial id

  // --prune median: the completed trials' curves, reloaded from the database
  // at heartbeats when other processes finished trials.
  std::unique_ptr<internal::MedianPruner> pruner_;
};

}  // namespace sylva::experiments
