// What a run of the experiment loop (cluster.h) is told and tells: its
// options, the progress events it reports as it goes, and the summary it
// returns. The loop serves `search`, `resume` and `worker` alike: trials
// left RUNNING by a killed process are re-queued with the same genotype and
// seed, the finished ones replayed into the strategy, and the experiment
// runs until it counts `trials` finished trials (COMPLETE, PRUNED or FAIL)
// or the strategy has nothing new. With successive halving it then goes on
// promoting the best of each rung until no promotion is due; a trial stopped
// below the top rung is PRUNED (and WAITING again if promoted later).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "evaluators/evaluator.h"
#include "experiments/store.h"
#include "search/strategy.h"
#include "spaces/space.h"

namespace sylva::experiments {

struct RunOptions {
  int64_t trials = 10;                // finished trials to reach, across all runs
  int workers = 1;                    // concurrent evaluations
  int threads_per_worker = 1;         // LibTorch intra-op threads per evaluation
  double trial_timeout = 0;           // seconds, 0: none
  int keep_weights = 3;               // weights kept for the best K trials
  std::string objective = "val_acc";  // metric the strategy optimises
  bool maximize = true;
  // Metrics a COMPLETE trial must report (every objective); a trial missing
  // one is a FAIL naming it.
  std::vector<std::string> required_metrics;
  // Successive halving over epochs (see halving.h): on when min_budget > 0;
  // trials then run at the rungs' budgets (Job::epochs).
  int64_t min_budget = 0;
  int64_t max_budget = 0;
  int64_t eta = 3;
  uint64_t seed = 0;        // experiment seed; trial seed = mix(seed, number)
  std::string worker_name;  // recorded on each trial (host:pid)
  // Several processes (cluster.h): a RUNNING trial whose heartbeat is older
  // than this (by the database's clock) is taken back from its worker, at
  // most max_retries times before it FAILs.
  double heartbeat_timeout = 60;
  int max_retries = 3;
  std::string experiment;  // its name, passed to evaluators (trial directories)
  // Median pruning of running trials on their reported objective (see
  // internal::MedianPruner): on when prune_median.
  bool prune_median = false;
  int prune_startup = 5;
  int prune_warmup = 0;
};

// What the loop reports as it goes (progress display, logs).
struct RunEvent {
  int64_t finished = 0, total = 0, running = 0, failed = 0;
  double elapsed_seconds = 0;
  const TrialRow* trial = nullptr;  // set when a trial just finished
  std::optional<double> best;       // best objective so far (raw metric value)
  std::string best_key;
};
using RunListener = std::function<void(const RunEvent&)>;

// Intermediate value holding a trial's objective at each successive-halving
// rung (step = the rung's epochs).
inline constexpr char kRungValue[] = "rung_objective";

struct RunSummary {
  int64_t finished = 0;
  int64_t requeued = 0;     // trials put back to WAITING on entry
  int64_t replayed = 0;     // finished trials told to the strategy on entry
  bool exhausted = false;   // the strategy had nothing new before the budget
  int64_t taken_back = 0;   // trials taken back from lost workers while running (cluster.h)
  int stopped_by = 0;       // the signal that stopped the loop (cluster.h), or 0
  int64_t handed_back = 0;  // running trials handed back when it stopped
};

}  // namespace sylva::experiments
