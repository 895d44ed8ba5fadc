// Pieces of the experiment loop (loop.cc): the queue that carries worker threads'
// results to the loop thread, a job run that turns exceptions into FAIL, the
// dispatch of a stored trial to the worker pool, the replay of stored trials
// into a fresh strategy, and the checks on a result.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/thread_annotations.h"
#include "evaluators/evaluator.h"
#include "evaluators/worker_pool.h"
#include "experiments/run_options.h"
#include "experiments/store.h"
#include "search/strategy.h"

namespace sylva::experiments::internal {

struct Event {
  bool finished = false;  // else an intermediate value
  int64_t trial_id = 0;
  int step = 0;
  std::string name;
  double value = 0;
  evaluators::EvalResult result;
};

// Worker threads push, the loop thread pops.
class EventQueue {
 public:
  void push(Event e);
  std::optional<Event> pop_for(std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_ GUARDED_BY(mu_);
};

// The loop thread's request that a running trial stop (a pruner's
// verdict), read by the worker thread through Reporter::should_stop().
class StopFlag {
 public:
  void set(const std::string& why);
  bool is_set() const { return set_.load(); }
  std::string reason() const;

 private:
  std::atomic<bool> set_{false};
  mutable std::mutex mu_;
  std::string reason_ GUARDED_BY(mu_);
};

// Runs `job` on a worker thread: intermediate values and then the result go
// to `queue` as events of `trial_id`; an exception becomes a FAIL. `stop`
// (may be null) is what the job's Reporter::should_stop() reads.
void run_job(EventQueue& queue, evaluators::Evaluator& evaluator, const evaluators::Job& job,
             int64_t trial_id, std::shared_ptr<const StopFlag> stop = nullptr);

// How one run of a trial is dispatched.
struct TrialRun {
  int64_t epochs = 0;           // > 0: a successive-halving rung's budget
  int64_t previous_epochs = 0;  // > 0: the rung this promotion continues
  int slot = 0;                 // this process's evaluation slot
  std::shared_ptr<const StopFlag> stop;
};

// Submits the evaluation of trial `row` (its architecture `arch`, parsed
// from the stored canonical form) to `pool`, with the threads and timeout of
// `options`: its intermediate values and result come to `queue` as events of
// row.id. Hyperparameters are split from the architecture here
// (split_hparams), so evaluators get the inner architecture and the values.
// An instant() evaluator runs the job here, on the calling thread.
void submit_trial(evaluators::WorkerPool& pool, EventQueue& queue, evaluators::Evaluator& evaluator,
                  const Space& space, const RunOptions& options, const TrialRow& row,
                  const Architecture& arch, const TrialRun& run = {});

// Evaluation slots of one process, [0, count): the lowest free one is taken
// for each dispatched trial (--gpus hands out GPUs by slot).
class SlotSet {
 public:
  explicit SlotSet(int count);
  int take();  // -1 when none is free
  void give(int slot);

 private:
  std::vector<bool> busy_;
};

// Takes the lowest free slot of `slots` for trial `trial_id` (0 when none is
// free, which the loops never let happen) and records the device the
// evaluator gives that slot as the trial's 'device' event (`sylva status`).
int take_slot(SlotSet& slots, const evaluators::Evaluator& evaluator, Store& store,
              int64_t trial_id);

// Optuna's MedianPruner on one metric: a running trial whose best value so
// far, at step S >= `warmup`, is worse than the median of the values that
// completed trials reported at step S is stopped, once `startup` trials
// have completed. Fed the stored curves (load) and then each reported value
// (judge) and each completed trial (complete). Loop thread only.
class MedianPruner {
 public:
  MedianPruner(std::string metric, bool maximize, int startup, int warmup);
  // Rebuilds the completed trials' curves from the database.
  void load(const std::vector<TrialRow>& trials, const std::vector<IntermediateRow>& values);
  // Trial `number` reported `value` at `step`: the reason to stop it, or "".
  std::string judge(int64_t number, int step, double value);
  // Trial `number` completed: its curve counts for the others from now on.
  void complete(int64_t number);
  void forget(int64_t number);  // a trial that did not complete
  const std::string& metric() const { return metric_; }

 private:
  bool better(double a, double b) const { return maximize_ ? a > b : a < b; }
  const std::string metric_;
  const bool maximize_;
  const int startup_, warmup_;
  std::set<int64_t> completed_;
  std::map<int, std::vector<double>> at_step_;        // completed trials' values per step
  std::map<int64_t, std::map<int, double>> running_;  // reported values of unfinished trials
};

// What the loop adds to a replay, per trial.
struct ReplayHooks {
  // A finished trial, before the strategy is told `obs`, which it may change
  // (successive halving tells the first rung's value).
  std::function<void(const TrialRow& row, search::Observation& obs)> finished;
  // An unfinished trial, after the strategy heard of it with pending().
  std::function<void(const TrialRow& row)> unfinished;
};

// Replays stored trials (in number order) into a fresh strategy, as
// strategy.h asks: each finished one told its observation(), each other one
// announced with pending(). A stored architecture that does not parse is an
// error naming the trial and the space; the trials after it are not replayed.
Status replay_trials(search::Strategy& strategy, const Space& space,
                     const std::vector<TrialRow>& rows, const RunOptions& options,
                     const ReplayHooks& hooks);

// A COMPLETE result missing one of `required` becomes a FAIL naming it.
void require_metrics(evaluators::EvalResult& r, const std::vector<std::string>& required);

// What a strategy is told of a finished trial: its objective, signed (larger
// is better), when the trial did not fail and reported it.
search::Observation observation(int64_t number, const Architecture& arch,
                                evaluators::TrialState state,
                                const std::map<std::string, double>& metrics,
                                const std::string& objective, bool maximize);

// The metrics a COMPLETE trial must report: the objectives (at least the
// first).
std::vector<std::string> required_metrics(const RunOptions& options);

// Trials whose weights are kept: (signed objective, trial id) for each id
// with a "weights" artifact, by `value_of` (an id without a value ranks last).
using KeptWeights = std::vector<std::pair<double, int64_t>>;
KeptWeights kept_weights(const std::vector<int64_t>& ids,
                         const std::map<int64_t, double>& value_of);

// Keeps the weights of trial `id` (signed objective `value`) if it is among
// the best `keep`, deleting the weights that fall out of them; `kept` is
// updated. Nothing when keep <= 0 or there are no weights.
void keep_weights(Store& store, KeptWeights& kept, int64_t id, double value,
                  const std::string& weights, int keep);

// This machine's host name; worker names are "host_name():pid".
std::string host_name();

// Where a pid means a process: this boot of this machine and this pid
// namespace (containers sharing a host name have their own). Registered
// workers record it, so that a process of the same one can tell whether
// another is gone.
std::string machine_identity();

// Records `row` in progress.best if it is COMPLETE and beats it.
void note_best(RunEvent& progress, const TrialRow& row, const RunOptions& options);

}  // namespace sylva::experiments::internal
