#include "experiments/run_support.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "spaces/hparam_space.h"
#include "spaces/space.h"

namespace sylva::experiments::internal {
namespace {

using evaluators::EvalResult;
using evaluators::TrialState;

class QueueReporter : public evaluators::Reporter {
 public:
  QueueReporter(EventQueue& queue, int64_t trial_id, std::shared_ptr<const StopFlag> stop)
      : queue_(queue), trial_id_(trial_id), stop_(std::move(stop)) {}
  bool should_stop() const override { return stop_ && stop_->is_set(); }
  std::string stop_reason() const override { return stop_ ? stop_->reason() : ""; }
  void intermediate(int step, const std::string& name, double value) override {
    Event e;
    e.trial_id = trial_id_;
    e.step = step;
    e.name = name;
    e.value = value;
    queue_.push(std::move(e));
  }

 private:
  EventQueue& queue_;
  int64_t trial_id_;
  std::shared_ptr<const StopFlag> stop_;
};

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "unknown error" : line;
}

}  // namespace

void EventQueue::push(Event e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_one();
}

std::optional<Event> EventQueue::pop_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  // A zero timeout only looks: a timed wait that is already due still
  // sleeps for the kernel's timer slack (about 50 us).
  if (events_.empty() &&
      (timeout.count() <= 0 || !cv_.wait_for(lock, timeout, [this] { return !events_.empty(); }))) {
    return std::nullopt;
  }
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void StopFlag::set(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (set_.load()) return;
    reason_ = why;
  }
  set_.store(true);
}

std::string StopFlag::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

void run_job(EventQueue& queue, evaluators::Evaluator& evaluator, const evaluators::Job& job,
             int64_t trial_id, std::shared_ptr<const StopFlag> stop) {
  QueueReporter reporter(queue, trial_id, std::move(stop));
  Event done;
  done.finished = true;
  done.trial_id = trial_id;
  EvalResult& r = done.result;
  try {
    r = evaluator.evaluate(job, reporter);
  } catch (const std::exception& e) {
    r = EvalResult();
    r.state = TrialState::kFail;
    r.message = first_line(e.what());
  } catch (...) {
    r = EvalResult();
    r.state = TrialState::kFail;
    r.message = "unknown error";
  }
  queue.push(std::move(done));
}

void submit_trial(evaluators::WorkerPool& pool, EventQueue& queue, evaluators::Evaluator& evaluator,
                  const Space& space, const RunOptions& options, const TrialRow& row,
                  const Architecture& arch, const TrialRun& run) {
  evaluators::Job job;
  job.trial_number = row.number;
  job.seed = row.seed;
  HparamSplit split = split_hparams(space, arch);
  job.arch = std::move(split.arch);
  job.space = split.space;
  job.hparams = std::move(split.hparams);
  job.key = arch.key;
  job.canonical = arch.canonical;
  job.threads = options.threads_per_worker;
  job.timeout_seconds = options.trial_timeout;
  job.epochs = run.epochs;
  job.previous_epochs = run.previous_epochs;
  job.slot = run.slot;
  job.experiment = options.experiment;
  job.objective = options.objective;
  job.maximize = options.maximize;
  const int64_t id = row.id;
  if (evaluator.instant()) {
    run_job(queue, evaluator, job, id, run.stop);
    return;
  }
  pool.submit([&queue, &evaluator, job = std::move(job), id, stop = run.stop] {
    run_job(queue, evaluator, job, id, stop);
  });
}

SlotSet::SlotSet(int count) : busy_(static_cast<size_t>(std::max(0, count)), false) {}

int SlotSet::take() {
  for (size_t i = 0; i < busy_.size(); ++i) {
    if (!busy_[i]) {
      busy_[i] = true;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void SlotSet::give(int slot) {
  if (slot >= 0 && static_cast<size_t>(slot) < busy_.size())
    busy_[static_cast<size_t>(slot)] = false;
}

int take_slot(SlotSet& slots, const evaluators::Evaluator& evaluator, Store& store,
              int64_t trial_id) {
  const int slot = std::max(0, slots.take());
  const std::string device = evaluator.slot_device(slot);
  if (!device.empty()) store.add_event(trial_id, "device", device);
  return slot;
}

MedianPruner::MedianPruner(std::string metric, bool maximize, int startup, int warmup)
    : metric_(std::move(metric)), maximize_(maximize), startup_(startup), warmup_(warmup) {}

void MedianPruner::load(const std::vector<TrialRow>& trials,
                        const std::vector<IntermediateRow>& values) {
  completed_.clear();
  at_step_.clear();
  for (const TrialRow& t : trials) {
    if (t.state == TrialState::kComplete) completed_.insert(t.number);
  }
  for (const IntermediateRow& v : values) {
    if (v.name != metric_ || std::isnan(v.value)) continue;
    if (completed_.count(v.trial_number)) {
      at_step_[v.step].push_back(v.value);
    } else {
      running_[v.trial_number][v.step] = v.value;
    }
  }
}

std::string MedianPruner::judge(int64_t number, int step, double value) {
  if (std::isnan(value)) return "";
  auto& curve = running_[number];
  curve[step] = value;
  if (step < warmup_ || static_cast<int>(completed_.size()) < startup_) return "";
  auto it = at_step_.find(step);
  if (it == at_step_.end() || it->second.empty()) return "";
  double best = value;
  for (const auto& [s, v] : curve) {
    if (better(v, best)) best = v;
  }
  std::vector<double> others = it->second;
  const size_t n = others.size();
  std::sort(others.begin(), others.end());
  const double median = n % 2 ? others[n / 2] : 0.5 * (others[n / 2 - 1] + others[n / 2]);
  if (!better(median, best)) return "";
  return fmt::format(
      "pruned at step {}: best {} so far {:g} is {} the median {:g} of {} completed "
      "trial(s) at that step",
      step, metric_, best, maximize_ ? "below" : "above", median, n);
}

void MedianPruner::complete(int64_t number) {
  if (!completed_.insert(number).second) return;
  auto it = running_.find(number);
  if (it == running_.end()) return;
  for (const auto& [step, v] : it->second) at_step_[step].push_back(v);
  running_.erase(it);
}

void MedianPruner::forget(int64_t number) { running_.erase(number); }

Status replay_trials(search::Strategy& strategy, const Space& space,
                     const std::vector<TrialRow>& rows, const RunOptions& options,
                     const ReplayHooks& hooks) {
  for (const TrialRow& row : rows) {
    auto arch = space.parse(row.arch_canonical);
    if (!arch.is_ok()) {
      return Status::corruption(
          fmt::format("trial {}: stored architecture does not parse in space '{}': {}", row.number,
                      space.name(), arch.status().message()));
    }
    if (evaluators::is_finished(row.state)) {
      search::Observation obs = observation(row.number, arch.value(), row.state, row.metrics,
                                            options.objective, options.maximize);
      if (hooks.finished) hooks.finished(row, obs);
      strategy.tell(obs);
    } else {
      strategy.pending(arch.value());
      if (hooks.unfinished) hooks.unfinished(row);
    }
  }
  return Status::ok();
}

void require_metrics(EvalResult& r, const std::vector<std::string>& required) {
  for (const std::string& metric : required) {
    if (r.state != TrialState::kComplete || r.metrics.count(metric)) continue;
    std::vector<std::string> names;
    for (const auto& [name, v] : r.metrics) names.push_back(name);
    r.state = TrialState::kFail;
    r.message =
        fmt::format("objective '{}' is not among the metrics ({})", metric, join(names, ", "));
  }
}

search::Observation observation(int64_t number, const Architecture& arch, TrialState state,
                                const std::map<std::string, double>& metrics,
                                const std::string& objective, bool maximize) {
  search::Observation obs;
  obs.number = number;
  obs.arch = arch;
  obs.metrics = metrics;
  auto it = metrics.find(objective);
  obs.ok = state != TrialState::kFail && it != metrics.end();
  if (obs.ok) obs.value = maximize ? it->second : -it->second;
  return obs;
}

std::vector<std::string> required_metrics(const RunOptions& options) {
  std::vector<std::string> required = options.required_metrics;
  if (required.empty()) required.push_back(options.objective);
  return required;
}

KeptWeights kept_weights(const std::vector<int64_t>& ids,
                         const std::map<int64_t, double>& value_of) {
  KeptWeights kept;
  for (int64_t id : ids) {
    auto it = value_of.find(id);
    kept.push_back({it == value_of.end() ? -1e300 : it->second, id});
  }
  return kept;
}

void keep_weights(Store& store, KeptWeights& kept, int64_t id, double value,
                  const std::string& weights, int keep) {
  if (keep <= 0 || weights.empty()) return;
  std::sort(kept.begin(), kept.end());
  if (static_cast<int>(kept.size()) >= keep && value <= kept.front().first) return;
  store.put_artifact(id, "weights", weights);
  kept.push_back({value, id});
  std::sort(kept.begin(), kept.end());
  while (static_cast<int>(kept.size()) > keep) {
    store.delete_artifact(kept.front().second, "weights");
    kept.erase(kept.begin());
  }
}

std::string host_name() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

std::string machine_identity() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(boot, id);
  struct stat ns = {};
  if (stat("/proc/self/ns/pid", &ns) == 0) id += "/" + std::to_string(ns.st_ino);
  return id;
}

void note_best(RunEvent& progress, const TrialRow& row, const RunOptions& options) {
  auto it = row.metrics.find(options.objective);
  if (row.state != TrialState::kComplete || it == row.metrics.end()) return;
  const double sign = options.maximize ? 1 : -1;
  if (!progress.best || sign * it->second > sign * *progress.best) {
    progress.best = it->second;
    progress.best_key = row.arch_key;
  }
}

}  // namespace sylva::experiments::internal
