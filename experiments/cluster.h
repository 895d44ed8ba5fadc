// The experiment loop for several processes sharing one experiment through
// the database: `sylva search` and `sylva resume` on one machine, and any
// number of `sylva worker` processes on this or other hosts (PostgreSQL), or
// on this host (an SQLite file).
//
// Every process runs this same loop, with its own worker threads:
//   - It registers in the workers table and heartbeats every
//     heartbeat_timeout / 6 seconds, for itself and each trial it holds.
//   - One process at a time is the coordinator (Store::try_lead: a lease in
//     the database; on PostgreSQL an advisory lock lets a successor take over
//     from a dead coordinator at once). Only the
//     coordinator asks the search strategy: it rebuilds a fresh strategy from the
//     database when it takes over (finished trials told, unfinished ones
//     pending), tells it each trial that finished since, and adds WAITING
//     trials while the live workers have free slots and the experiment has
//     fewer trials than its global budget. It takes trials back from lost
//     workers (stale heartbeat; a process of this machine that is gone is
//     noticed by every process within a second) with
//     their genotype and seed, up to max_retries, and closes the experiment
//     when the budget is finished or the strategy has nothing new.
//   - Every process claims WAITING trials atomically for its free slots and
//     records their results only while it still holds them, so no trial is
//     recorded twice.
// A process leaves when the experiment is closed and no trial waits or runs.
// Successive halving runs the same way: rungs, results and promotions live
// in the database (rung_book.h), so any process runs any rung and the
// coordinator promotes. run_cluster is an ExperimentLoop (loop.h: its
// stages; loop.cc).
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "evaluators/evaluator.h"
#include "experiments/run_options.h"
#include "experiments/store.h"
#include "search/strategy.h"
#include "spaces/space.h"

namespace sylva::experiments {

using StrategyFactory = std::function<StatusOr<std::unique_ptr<search::Strategy>>()>;

struct ClusterSettings {
  int64_t trials = 0;  // the global budget of finished trials
  double heartbeat_timeout = 60;
  int max_retries = 3;
};

struct ClusterHooks {
  // A fresh strategy, for each time this process becomes the coordinator.
  StrategyFactory new_strategy;
  // The experiment's settings as stored now (`resume` may change them while
  // workers run); read at each heartbeat. Empty: RunOptions' throughout.
  std::function<ClusterSettings()> settings;
  // Set (to the signal's number) by a signal handler: the loop hands this
  // process's running trials back (WAITING, no retry counted), leaves the
  // registry, calls `abandon` (which may end the process rather than wait
  // for the evaluations still running) and returns with
  // RunSummary::stopped_by once they have ended.
  const std::atomic<int>* stop_signal = nullptr;
  std::function<void(const RunSummary&)> abandon;
};

StatusOr<RunSummary> run_cluster(Store& store, int64_t experiment_id, const Space& space,
                                 evaluators::Evaluator& evaluator, const RunOptions& options,
                                 const ClusterHooks& hooks, const RunListener& listener);

}  // namespace sylva::experiments
