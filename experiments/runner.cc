#include "experiments/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <optional>

#include "base/random.h"
#include "evaluators/worker_pool.h"
#include "experiments/halving.h"
#include "experiments/run_support.h"

namespace sylva::experiments {
namespace {

using Clock = std::chrono::steady_clock;
using evaluators::EvalResult;

// run_experiment's state and stages: replay() the database once, then
// fill() the free workers and collect() one event at a time until nothing
// runs. The dispatch of a job and the replay into the strategy are those of
// the cluster loop (run_support.h); the rung bookkeeping of successive
// halving is this loop's own.
class OneProcessLoop {
 public:
  OneProcessLoop(Store& store, int64_t experiment_id, const Space& space,
                 search::Strategy& strategy, evaluators::Evaluator& evaluator,
                 const RunOptions& options, const RunListener& listener)
      : store_(store),
        experiment_id_(experiment_id),
        space_(space),
        strategy_(strategy),
        evaluator_(evaluator),
        options_(options),
        listener_(listener),
        start_(Clock::now()),
        required_(internal::required_metrics(options)),
        pool_(options.workers),
        free_slots_(options.workers) {
    progress_.total = options.trials;
  }

  StatusOr<RunSummary> run() {
    if (options_.min_budget > 0) {
      SYLVA_ASSIGN(sh,
                   SuccessiveHalving::make(options_.min_budget, options_.max_budget, options_.eta));
      halving_ = std::move(sh);
    }
    Status s = replay();
    if (!s.is_ok()) return s;
    last_heartbeat_ = Clock::now();
    while (true) {
      fill();
      if (running_.empty()) break;
      collect();
    }
    pool_.wait();
    summary_.finished = progress_.finished;
    return summary_;
  }

 private:
  struct Running {
    TrialRow row;
    Architecture arch;
    int rung = 0;
    int slot = 0;
  };

  Status replay();
  void remember(const TrialRow& row);
  int target_rung(const TrialRow& row) const;
  void fill();
  bool start_next();
  bool start_new();
  void dispatch(TrialRow row, Architecture arch, int rung);
  void collect();
  void record(internal::Event& event);
  void finish_rung(const Running& done, EvalResult& r);
  double signed_value(double v) const { return options_.maximize ? v : -v; }

  // Constant for the run
  Store& store_;
  const int64_t experiment_id_;
  const Space& space_;
  search::Strategy& strategy_;
  evaluators::Evaluator& evaluator_;
  const RunOptions& options_;
  const RunListener& listener_;
  const Clock::time_point start_;
  const std::vector<std::string> required_;  // metrics a COMPLETE trial must report

  // Per run
  std::optional<SuccessiveHalving> halving_;  // made by run() when min_budget > 0
  RunSummary summary_;
  RunEvent progress_;
  // Each rung's result is the intermediate kRungValue at step = the rung's
  // budget (NaN for a failure): what rebuilds the halving state on resume.
  std::map<int64_t, std::map<int, double>> rung_values_;  // trial number -> rung -> raw value
  std::map<int64_t, TrialRow> by_id_;                     // every trial, for promotions
  internal::KeptWeights kept_;
  int64_t created_ = 0;           // trials in the experiment
  std::deque<TrialRow> waiting_;  // interrupted trials, to run first
  Clock::time_point last_heartbeat_;
  internal::EventQueue queue_;
  evaluators::WorkerPool pool_;  // after queue_: its jobs push there until it is gone

  // Per held trial
  std::map<int64_t, Running> running_;  // by trial id
  internal::SlotSet free_slots_;
};

// Re-queues what a killed process left RUNNING and tells the strategy (and
// the halving scheduler) everything the database holds.
Status OneProcessLoop::replay() {
  if (halving_) {
    for (const IntermediateRow& r : store_.intermediates(experiment_id_)) {
      const int rung = halving_->rung_of(r.step);
      if (r.name == kRungValue && rung >= 0) rung_values_[r.trial_number][rung] = r.value;
    }
  }
  summary_.requeued = store_.requeue_unfinished(experiment_id_);
  const std::vector<TrialRow> rows = store_.trials(experiment_id_);
  std::map<int64_t, double> objective_of;  // trial id -> signed objective (complete trials)
  internal::ReplayHooks hooks;
  hooks.finished = [&](const TrialRow& row, search::Observation& obs) {
    remember(row);
    if (row.state == TrialState::kComplete && obs.value) objective_of[row.id] = *obs.value;
    if (halving_) {
      // Strategies were told each trial's first-rung result, when it came.
      auto first = rung_values_[row.number].find(0);
      const bool have = first != rung_values_[row.number].end() && std::isfinite(first->second);
      obs.ok = have;
      obs.value = have ? std::optional<double>(signed_value(first->second)) : std::nullopt;
    }
    ++progress_.finished;
    progress_.failed += row.state == TrialState::kFail;
    internal::note_best(progress_, row, options_);
    ++summary_.replayed;
  };
  hooks.unfinished = [&](const TrialRow& row) {
    remember(row);
    waiting_.push_back(row);
  };
  Status s = internal::replay_trials(strategy_, space_, rows, options_, hooks);
  if (!s.is_ok()) return s;
  kept_ =
      internal::kept_weights(store_.trials_with_artifact(experiment_id_, "weights"), objective_of);
  created_ = static_cast<int64_t>(rows.size());
  return Status::ok();
}

// Keeps a replayed trial for promotions, and tells the halving scheduler its
// rungs' results and the promotions it had.
void OneProcessLoop::remember(const TrialRow& row) {
  by_id_[row.id] = row;
  if (!halving_) return;
  int reached = -1;
  for (const auto& [rung, value] : rung_values_[row.number]) {
    halving_->record(
        row.id, row.number, rung,
        std::isfinite(value) ? std::optional<double>(signed_value(value)) : std::nullopt);
    reached = std::max(reached, rung);
  }
  if (!evaluators::is_finished(row.state)) reached = target_rung(row);
  for (int k = 0; k < reached; ++k) halving_->promoted(row.id, k);
}

// The budget a dispatched trial runs at: the rung after the one its stored
// metrics come from (a promotion), else the first.
int OneProcessLoop::target_rung(const TrialRow& row) const {
  if (!halving_) return 0;
  auto it = row.metrics.find("epochs");
  if (it == row.metrics.end()) return 0;
  return std::min(halving_->top(), halving_->rung_of(static_cast<int64_t>(it->second)) + 1);
}

void OneProcessLoop::fill() {
  while (static_cast<int>(running_.size()) < options_.workers && start_next()) {
  }
}

// Free workers take, in order: interrupted trials, due promotions, new
// trials. False when none is to start.
bool OneProcessLoop::start_next() {
  if (!waiting_.empty() && progress_.finished < options_.trials) {
    TrialRow row = waiting_.front();
    waiting_.pop_front();
    Architecture arch = space_.parse(row.arch_canonical).value();
    const int rung = target_rung(row);
    dispatch(std::move(row), std::move(arch), rung);
    return true;
  }
  if (halving_) {
    if (auto promotion = halving_->next_promotion()) {
      TrialRow row = by_id_.at(promotion->id);
      store_.add_event(row.id, "promoted",
                       fmt::format("to {} epochs", halving_->rungs()[promotion->to_rung]));
      --progress_.finished;  // PRUNED at its rung until now
      Architecture arch = space_.parse(row.arch_canonical).value();
      dispatch(std::move(row), std::move(arch), promotion->to_rung);
      return true;
    }
  }
  return start_new();
}

bool OneProcessLoop::start_new() {
  if (summary_.exhausted || created_ >= options_.trials) return false;
  auto arch = strategy_.ask(created_);
  if (!arch) {
    summary_.exhausted = true;
    return false;
  }
  TrialRow row;
  row.number = created_;
  row.seed = mix_seed(options_.seed, static_cast<uint64_t>(created_));
  row.arch_hash = hash_hex(arch->hash);
  row.arch_key = arch->key;
  row.arch_canonical = arch->canonical;
  row.id = store_.add_trial(experiment_id_, row.number, row.arch_hash, row.arch_key,
                            row.arch_canonical, row.seed);
  by_id_[row.id] = row;
  ++created_;
  dispatch(std::move(row), std::move(*arch), 0);
  return true;
}

void OneProcessLoop::dispatch(TrialRow row, Architecture arch, int rung) {
  store_.set_running(row.id, options_.worker_name);
  row.state = TrialState::kRunning;
  internal::TrialRun run;
  run.epochs = halving_ ? halving_->rungs()[rung] : 0;
  run.previous_epochs = halving_ && rung > 0 ? halving_->rungs()[rung - 1] : 0;
  run.slot = internal::take_slot(free_slots_, evaluator_, store_, row.id);
  internal::submit_trial(pool_, queue_, evaluator_, space_, options_, row, arch, run);
  const int64_t id = row.id;
  running_[id] = Running{std::move(row), std::move(arch), rung, run.slot};
}

// Waits for one event (a quarter second at most), heartbeating the running
// trials every five seconds.
void OneProcessLoop::collect() {
  progress_.running = static_cast<int64_t>(running_.size());
  progress_.trial = nullptr;
  auto event = queue_.pop_for(std::chrono::milliseconds(250));
  progress_.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  if (Clock::now() - last_heartbeat_ > std::chrono::seconds(5)) {
    for (const auto& [id, r] : running_) store_.heartbeat(id);
    last_heartbeat_ = Clock::now();
  }
  if (!event) {
    if (listener_) listener_(progress_);
    return;
  }
  record(*event);
}

void OneProcessLoop::record(internal::Event& event) {
  if (!event.finished) {
    store_.add_intermediate(event.trial_id, event.step, event.name, event.value);
    return;
  }
  auto it = running_.find(event.trial_id);
  Running done = std::move(it->second);
  running_.erase(it);
  free_slots_.give(done.slot);
  EvalResult& r = event.result;
  internal::require_metrics(r, required_);
  if (halving_) finish_rung(done, r);
  store_.finish_trial(done.row.id, r.state, r.message, r.metrics);
  for (const auto& [kind, bytes] : r.artifacts) store_.put_artifact(done.row.id, kind, bytes);
  done.row.state = r.state;
  done.row.message = r.message;
  done.row.metrics = r.metrics;
  by_id_[done.row.id] = done.row;

  search::Observation obs = internal::observation(done.row.number, done.arch, r.state, r.metrics,
                                                  options_.objective, options_.maximize);
  if (r.state == TrialState::kComplete && obs.value) {
    internal::keep_weights(store_, kept_, done.row.id, *obs.value, r.weights,
                           options_.keep_weights);
  }
  // With successive halving a strategy hears each trial once, at the first rung.
  if (!halving_ || done.rung == 0) strategy_.tell(obs);

  ++progress_.finished;
  progress_.failed += r.state == TrialState::kFail;
  progress_.running = static_cast<int64_t>(running_.size());
  internal::note_best(progress_, done.row, options_);
  progress_.trial = &done.row;
  if (listener_) listener_(progress_);
  progress_.trial = nullptr;  // `done` ends here
}

// Records the rung's result (for resume and for promotions); a trial that
// completed below the top rung is PRUNED there until it is promoted.
void OneProcessLoop::finish_rung(const Running& done, EvalResult& r) {
  auto objective = r.metrics.find(options_.objective);
  const bool has_value = r.state != TrialState::kFail && objective != r.metrics.end();
  const int64_t budget = halving_->rungs()[done.rung];
  store_.add_intermediate(done.row.id, static_cast<int>(budget), kRungValue,
                          has_value ? objective->second : std::nan(""));
  halving_->record(
      done.row.id, done.row.number, done.rung,
      has_value ? std::optional<double>(signed_value(objective->second)) : std::nullopt);
  if (r.state != TrialState::kFail) r.metrics["epochs"] = static_cast<double>(budget);
  if (r.state == TrialState::kComplete && done.rung < halving_->top()) {
    r.state = TrialState::kPruned;
    r.message = fmt::format("stopped at {} epochs by successive halving (rung {} of {})", budget,
                            done.rung + 1, halving_->top() + 1);
  }
}

}  // namespace

StatusOr<RunSummary> run_experiment(Store& store, int64_t experiment_id, const Space& space,
                                    search::Strategy& strategy, evaluators::Evaluator& evaluator,
                                    const RunOptions& options, const RunListener& listener) {
  OneProcessLoop loop(store, experiment_id, space, strategy, evaluator, options, listener);
  return loop.run();
}

}  // namespace sylva::experiments
