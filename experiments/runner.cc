#include "experiments/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>

#include "base/random.h"
#include "evaluators/worker_pool.h"
#include "experiments/halving.h"
#include "experiments/run_support.h"

namespace sylva::experiments {
namespace {

using Clock = std::chrono::steady_clock;
using evaluators::EvalResult;
using internal::Event;
using internal::EventQueue;

}  // namespace

StatusOr<RunSummary> run_experiment(Store& store, int64_t experiment_id, const Space& space,
                                    search::Strategy& strategy, evaluators::Evaluator& evaluator,
                                    const RunOptions& options, const RunListener& listener) {
  const auto start = Clock::now();
  RunSummary summary;
  RunEvent progress;
  progress.total = options.trials;
  auto signed_value = [&](double v) { return options.maximize ? v : -v; };
  auto observation = [&](int64_t number, const Architecture& arch, TrialState state,
                         const std::map<std::string, double>& metrics) {
    return internal::observation(number, arch, state, metrics, options.objective, options.maximize);
  };
  // Metrics a COMPLETE trial must report.
  const std::vector<std::string> required = internal::required_metrics(options);
  auto note_best = [&](const TrialRow& row) { internal::note_best(progress, row, options); };

  std::optional<SuccessiveHalving> halving;
  if (options.min_budget > 0) {
    SYLVA_ASSIGN(sh, SuccessiveHalving::make(options.min_budget, options.max_budget, options.eta));
    halving = std::move(sh);
  }
  // Each rung's result is the intermediate kRungValue at step = the rung's
  // budget (NaN for a failure): what rebuilds the halving state on resume.
  std::map<int64_t, std::map<int, double>> rung_values;  // trial number -> rung -> raw value
  if (halving) {
    for (const IntermediateRow& r : store.intermediates(experiment_id)) {
      const int rung = halving->rung_of(r.step);
      if (r.name == kRungValue && rung >= 0) rung_values[r.trial_number][rung] = r.value;
    }
  }
  // The budget a dispatched trial runs at: the rung after the one its stored
  // metrics come from (a promotion), else the first.
  auto target_rung = [&](const TrialRow& row) {
    if (!halving) return 0;
    auto it = row.metrics.find("epochs");
    if (it == row.metrics.end()) return 0;
    return std::min(halving->top(), halving->rung_of(static_cast<int64_t>(it->second)) + 1);
  };

  summary.requeued = store.requeue_unfinished(experiment_id);
  std::deque<TrialRow> waiting;
  std::vector<TrialRow> rows = store.trials(experiment_id);
  std::map<int64_t, TrialRow> by_id;       // every trial, for promotions
  std::map<int64_t, double> objective_of;  // trial id -> signed objective (complete trials)
  for (const TrialRow& row : rows) {
    auto arch = space.parse(row.arch_canonical);
    if (!arch.is_ok()) {
      return Status::error(
          fmt::format("trial {}: stored architecture does not parse in space '{}': {}", row.number,
                      space.name(), arch.status().message()));
    }
    by_id[row.id] = row;
    if (halving) {
      int reached = -1;
      for (const auto& [rung, value] : rung_values[row.number]) {
        halving->record(
            row.id, row.number, rung,
            std::isfinite(value) ? std::optional<double>(signed_value(value)) : std::nullopt);
        reached = std::max(reached, rung);
      }
      if (!evaluators::is_finished(row.state)) reached = target_rung(row);
      for (int k = 0; k < reached; ++k) halving->promoted(row.id, k);
    }
    if (evaluators::is_finished(row.state)) {
      search::Observation obs = observation(row.number, arch.value(), row.state, row.metrics);
      if (row.state == TrialState::kComplete && obs.value) objective_of[row.id] = *obs.value;
      if (halving) {
        // Engines were told each trial's first-rung result, when it came.
        auto first = rung_values[row.number].find(0);
        const bool have = first != rung_values[row.number].end() && std::isfinite(first->second);
        obs.ok = have;
        obs.value = have ? std::optional<double>(signed_value(first->second)) : std::nullopt;
      }
      strategy.tell(obs);
      ++progress.finished;
      progress.failed += row.state == TrialState::kFail;
      note_best(row);
      ++summary.replayed;
    } else {
      strategy.pending(arch.value());
      waiting.push_back(row);
    }
  }
  internal::KeptWeights kept =
      internal::kept_weights(store.trials_with_artifact(experiment_id, "weights"), objective_of);

  int64_t created = static_cast<int64_t>(rows.size());
  struct Running {
    TrialRow row;
    Architecture arch;
    int rung = 0;
  };
  std::map<int64_t, Running> running;
  EventQueue queue;
  evaluators::WorkerPool pool(options.workers);

  auto dispatch = [&](TrialRow row, Architecture arch, int rung) {
    store.set_running(row.id, options.worker_name);
    row.state = TrialState::kRunning;
    evaluators::Job job;
    job.trial_number = row.number;
    job.seed = row.seed;
    job.arch = arch;
    job.space = &space;
    job.threads = options.threads_per_worker;
    job.timeout_seconds = options.trial_timeout;
    if (halving) job.epochs = halving->rungs()[rung];
    int64_t id = row.id;
    running[id] = Running{std::move(row), std::move(arch), rung};
    pool.submit([&queue, &evaluator, job = std::move(job), id] {
      internal::run_job(queue, evaluator, job, id);
    });
  };

  auto keep_weights = [&](int64_t id, double value, const std::string& weights) {
    internal::keep_weights(store, kept, id, value, weights, options.keep_weights);
  };

  auto last_heartbeat = Clock::now();
  while (true) {
    // Free workers take, in order: interrupted trials, due promotions, new trials.
    while (static_cast<int>(running.size()) < options.workers) {
      if (!waiting.empty() && progress.finished < options.trials) {
        TrialRow row = waiting.front();
        waiting.pop_front();
        Architecture arch = space.parse(row.arch_canonical).value();
        const int rung = target_rung(row);
        dispatch(std::move(row), std::move(arch), rung);
        continue;
      }
      if (halving) {
        if (auto promotion = halving->next_promotion()) {
          TrialRow row = by_id.at(promotion->id);
          store.add_event(row.id, "promoted",
                          fmt::format("to {} epochs", halving->rungs()[promotion->to_rung]));
          --progress.finished;  // PRUNED at its rung until now
          Architecture arch = space.parse(row.arch_canonical).value();
          dispatch(std::move(row), std::move(arch), promotion->to_rung);
          continue;
        }
      }
      if (summary.exhausted || created >= options.trials) break;
      auto arch = strategy.ask(created);
      if (!arch) {
        summary.exhausted = true;
        break;
      }
      TrialRow row;
      row.number = created;
      row.seed = mix_seed(options.seed, static_cast<uint64_t>(created));
      row.arch_hash = hash_hex(arch->hash);
      row.arch_key = arch->key;
      row.arch_canonical = arch->canonical;
      row.id = store.add_trial(experiment_id, row.number, row.arch_hash, row.arch_key,
                               row.arch_canonical, row.seed);
      by_id[row.id] = row;
      ++created;
      dispatch(std::move(row), std::move(*arch), 0);
    }
    if (running.empty()) break;
    progress.running = static_cast<int64_t>(running.size());
    progress.trial = nullptr;

    auto event = queue.pop_for(std::chrono::milliseconds(250));
    progress.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (Clock::now() - last_heartbeat > std::chrono::seconds(5)) {
      for (const auto& [id, r] : running) store.heartbeat(id);
      last_heartbeat = Clock::now();
    }
    if (!event) {
      if (listener) listener(progress);
      continue;
    }
    if (!event->finished) {
      store.add_intermediate(event->trial_id, event->step, event->name, event->value);
      continue;
    }
    auto it = running.find(event->trial_id);
    Running done = std::move(it->second);
    running.erase(it);
    EvalResult& r = event->result;
    internal::require_metrics(r, required);
    auto objective = r.metrics.find(options.objective);
    const bool has_value = r.state != TrialState::kFail && objective != r.metrics.end();
    if (halving) {
      const int64_t budget = halving->rungs()[done.rung];
      store.add_intermediate(done.row.id, static_cast<int>(budget), kRungValue,
                             has_value ? objective->second : std::nan(""));
      halving->record(
          done.row.id, done.row.number, done.rung,
          has_value ? std::optional<double>(signed_value(objective->second)) : std::nullopt);
      if (r.state != TrialState::kFail) r.metrics["epochs"] = static_cast<double>(budget);
      if (r.state == TrialState::kComplete && done.rung < halving->top()) {
        r.state = TrialState::kPruned;
        r.message = fmt::format("stopped at {} epochs by successive halving (rung {} of {})",
                                budget, done.rung + 1, halving->top() + 1);
      }
    }
    store.finish_trial(done.row.id, r.state, r.message, r.metrics);
    done.row.state = r.state;
    done.row.message = r.message;
    done.row.metrics = r.metrics;
    by_id[done.row.id] = done.row;

    search::Observation obs = observation(done.row.number, done.arch, r.state, r.metrics);
    if (r.state == TrialState::kComplete && obs.value) {
      keep_weights(done.row.id, *obs.value, r.weights);
    }
    // With successive halving an engine hears each trial once, at the first rung.
    if (!halving || done.rung == 0) strategy.tell(obs);

    ++progress.finished;
    progress.failed += r.state == TrialState::kFail;
    progress.running = static_cast<int64_t>(running.size());
    note_best(done.row);
    progress.trial = &done.row;
    if (listener) listener(progress);
  }
  pool.wait();
  summary.finished = progress.finished;
  return summary;
}

}  // namespace sylva::experiments
