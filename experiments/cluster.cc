#include "experiments/cluster.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "base/random.h"
#include "evaluators/worker_pool.h"
#include "experiments/run_support.h"

namespace sylva::experiments {
namespace {

using Clock = std::chrono::steady_clock;
using evaluators::EvalResult;

// Where a pid means a process: this boot of this machine and this pid
// namespace (containers sharing a host name have their own).
std::string machine_identity() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(boot, id);
  struct stat ns = {};
  if (stat("/proc/self/ns/pid", &ns) == 0) id += "/" + std::to_string(ns.st_ino);
  return id;
}

// A process of this host that no longer runs: kill(pid, 0) fails with ESRCH
// (EPERM means it exists under another user), or it is a zombie that its
// parent has not reaped.
bool gone(int64_t pid) {
  if (kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');  // the command name may hold spaces
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

StatusOr<RunSummary> run_cluster(Store& store, int64_t experiment_id, const Space& space,
                                 evaluators::Evaluator& evaluator, const RunOptions& options,
                                 const ClusterHooks& hooks, const RunListener& listener) {
  const auto start = Clock::now();
  const std::string host = internal::host_name();
  const int slots = std::max(0, options.workers);  // 0: coordinate only
  // Re-read with the budget at each heartbeat (resume may change them).
  double timeout = options.heartbeat_timeout;
  int max_retries = options.max_retries;
  // Heartbeats six times per timeout: a live worker is never judged lost.
  auto interval_of = [](double t) { return std::clamp(t / 6, 0.05, 10.0); };
  double interval = interval_of(timeout);
  RunSummary summary;
  RunEvent progress;
  int64_t budget = options.trials;
  auto refresh = [&] {
    if (!hooks.settings) return;
    const ClusterSettings now = hooks.settings();
    budget = now.trials;
    timeout = now.heartbeat_timeout;
    max_retries = now.max_retries;
    interval = interval_of(timeout);
  };
  refresh();
  progress.total = budget;
  auto signed_value = [&](double v) { return options.maximize ? v : -v; };
  auto note_best = [&](const TrialRow& row) { internal::note_best(progress, row, options); };
  const std::vector<std::string> required = internal::required_metrics(options);

  const std::string machine = machine_identity();
  const WorkerRow me =
      store.add_worker(experiment_id, options.worker_name, host, getpid(), slots, machine);
  const int64_t worker_id = me.id;
  const std::string& label = me.label;

  // The coordinator's state, rebuilt on each takeover.
  std::unique_ptr<search::Strategy> strategy;
  std::set<int64_t> told;  // trial numbers the engine has heard the result of
  int64_t low = 0;         // every trial below this number has been told
  bool exhausted = false;
  bool first_lead = true;

  // Takes trials back from lost workers; returns how many went back to the
  // queue (those out of retries FAIL instead).
  auto take_back = [&](const std::set<std::string>& dead) {
    int64_t requeued = 0;
    for (const Requeue& r : store.requeue_lost(experiment_id, timeout, dead, max_retries)) {
      requeued += !r.failed;
    }
    return requeued;
  };
  // Registered processes of this machine and pid namespace that are gone (a
  // killed `search` being resumed, a worker killed beside this one) lose
  // their trials and their lease at once, not after the heartbeat timeout.
  auto dead_here = [&] {
    std::set<std::string> dead;
    for (const WorkerRow& w : store.workers(experiment_id)) {
      if (w.state == "ACTIVE" && w.id != worker_id && w.machine == machine && gone(w.pid)) {
        dead.insert(w.label);
      }
    }
    return dead;
  };
  {
    auto dead = dead_here();
    if (!dead.empty()) summary.requeued = take_back(dead);
  }

  auto become_coordinator = [&]() -> Status {
    SYLVA_ASSIGN(fresh, hooks.new_strategy());
    strategy = std::move(fresh);
    told.clear();
    low = 0;
    exhausted = false;
    for (const TrialRow& row : store.trials(experiment_id)) {
      auto arch = space.parse(row.arch_canonical);
      if (!arch.is_ok()) {
        return Status::error(
            fmt::format("trial {}: stored architecture does not parse in space '{}': {}",
                        row.number, space.name(), arch.status().message()));
      }
      if (evaluators::is_finished(row.state)) {
        strategy->tell(internal::observation(row.number, arch.value(), row.state, row.metrics,
                                             options.objective, options.maximize));
        told.insert(row.number);
        note_best(row);
        if (first_lead) ++summary.replayed;
      } else {
        strategy->pending(arch.value());
      }
    }
    while (told.count(low)) told.erase(low++);
    first_lead = false;
    return Status::ok();
  };

  std::map<int64_t, TrialRow> running;  // the trials evaluating here, by id
  internal::EventQueue queue;
  evaluators::WorkerPool pool(std::max(1, slots));
  // Leaving by an error (a lost connection, a stored architecture that does
  // not parse): the trials held here go back to the queue before the pool
  // waits for their evaluations, and the registry says the process left.
  bool left = false;
  struct LeaveOnError {
    std::function<void()> leave;
    ~LeaveOnError() { leave(); }
  } leave_on_error{[&] {
    if (left) return;
    try {
      store.release_trials(experiment_id, label, "worker " + label + " stopped by an error");
      store.worker_exit(worker_id);
    } catch (...) {
      // The database is what failed: the heartbeat timeout takes over.
    }
  }};

  auto dispatch = [&](TrialRow row) {
    auto arch = space.parse(row.arch_canonical);
    if (!arch.is_ok()) {
      store.finish_trial(row.id, TrialState::kFail,
                         "stored architecture does not parse: " + arch.status().message(), {},
                         label);
      return;
    }
    evaluators::Job job;
    job.trial_number = row.number;
    job.seed = row.seed;
    job.arch = arch.value();
    job.space = &space;
    job.threads = options.threads_per_worker;
    job.timeout_seconds = options.trial_timeout;
    const int64_t id = row.id;
    running[id] = std::move(row);
    pool.submit([&queue, &evaluator, job = std::move(job), id] {
      internal::run_job(queue, evaluator, job, id);
    });
  };

  // Weights of the best keep_weights trials stay in the database; another
  // process may keep some at the same time, so the set is read back each time.
  auto keep_weights = [&](const TrialRow& row, const std::string& weights) {
    auto it = row.metrics.find(options.objective);
    if (options.keep_weights <= 0 || weights.empty() || it == row.metrics.end()) return;
    // Artifacts first: a trial's weights are put after its finish commits,
    // so every trial read here has its metrics in the later read.
    const std::vector<int64_t> with_weights = store.trials_with_artifact(experiment_id, "weights");
    std::map<int64_t, double> value_of;
    for (const TrialRow& t : store.trials(experiment_id)) {
      auto m = t.metrics.find(options.objective);
      if (t.state == TrialState::kComplete && m != t.metrics.end()) {
        value_of[t.id] = signed_value(m->second);
      }
    }
    internal::KeptWeights kept = internal::kept_weights(with_weights, value_of);
    internal::keep_weights(store, kept, row.id, signed_value(it->second), weights,
                           options.keep_weights);
  };

  bool leader = false;
  int64_t finished_seen = -1;  // finished trials at the coordinator's last look
  auto last_beat = Clock::now() - std::chrono::hours(1);
  // Registered processes of this host are checked every second (cheap: the
  // registry and /proc), so a killed worker's trials move at once.
  auto last_local_check = Clock::now();
  auto last_listen = Clock::now();
  while (true) {
    if (hooks.stop_signal && hooks.stop_signal->load() != 0) {
      summary.stopped_by = hooks.stop_signal->load();
      summary.handed_back = store.release_trials(
          experiment_id, label,
          fmt::format("worker {} stopped by signal {}", label, summary.stopped_by));
      store.worker_exit(worker_id);
      left = true;
      summary.finished = progress.finished;
      // The evaluations still running belong to others now: the caller may
      // end the process without waiting for them.
      if (hooks.abandon) hooks.abandon(summary);
      pool.wait();
      return summary;
    }
    bool busy = false;  // did anything this tick; look again at once
    const bool beat = seconds_since(last_beat) >= interval;
    if (seconds_since(last_local_check) >= std::min(interval, 1.0)) {
      auto dead = dead_here();
      if (!dead.empty()) summary.taken_back += take_back(dead);
      last_local_check = Clock::now();
    }
    if (beat) {
      std::vector<int64_t> ids;
      for (const auto& [id, r] : running) ids.push_back(id);
      store.worker_heartbeat(worker_id, ids);
      refresh();
      progress.total = budget;
      const bool was = leader;
      leader = store.try_lead(experiment_id, worker_id, timeout);
      if (leader && !was) {
        finished_seen = -1;
        Status s = become_coordinator();
        if (!s.is_ok()) return s;
      }
      if (!leader) strategy.reset();
      if (leader) summary.taken_back += take_back({});
      last_beat = Clock::now();
    }

    TrialCounts c = store.counts(experiment_id, timeout);
    progress.finished = c.finished;
    progress.running = c.running;
    progress.failed = c.failed;
    progress.elapsed_seconds = seconds_since(start);
    if (leader) {
      // Results since the last look (when some trial finished since), and
      // trials of processes of this host that are gone (once per heartbeat).
      std::vector<TrialRow> rows;
      if (beat || c.finished != finished_seen) {
        rows = store.trials_from(experiment_id, low);
        finished_seen = c.finished;
      }
      std::vector<const TrialRow*> news;  // finished since the last look, in number order
      for (const TrialRow& row : rows) {
        if (!evaluators::is_finished(row.state) || told.count(row.number)) continue;
        auto arch = space.parse(row.arch_canonical);
        if (!arch.is_ok()) continue;  // cannot happen: it parsed when added
        strategy->tell(internal::observation(row.number, arch.value(), row.state, row.metrics,
                                             options.objective, options.maximize));
        told.insert(row.number);
        note_best(row);
        news.push_back(&row);
      }
      // The coordinator reports the trials other processes finished too, so
      // that its output follows the whole experiment.
      for (size_t i = 0; i < news.size() && listener; ++i) {
        if (news[i]->worker == label) continue;
        progress.finished = c.finished - static_cast<int64_t>(news.size() - 1 - i);
        progress.trial = news[i];
        listener(progress);
        last_listen = Clock::now();
      }
      progress.finished = c.finished;
      progress.trial = nullptr;
      while (told.count(low)) told.erase(low++);
      // New trials for the live workers' free slots, within the budget.
      int64_t free = std::max<int64_t>(c.live_slots, slots) - c.waiting - c.running;
      int64_t created = c.total;
      while (free > 0 && created < budget && !exhausted) {
        auto arch = strategy->ask(created);
        if (!arch) {
          exhausted = true;
          break;
        }
        auto id = store.insert_trial(experiment_id, created, hash_hex(arch->hash), arch->key,
                                     arch->canonical,
                                     mix_seed(options.seed, static_cast<uint64_t>(created)));
        if (!id) {  // another coordinator: this one's lease had lapsed
          leader = false;
          strategy.reset();
          break;
        }
        ++created;
        --free;
        ++c.waiting;
        ++c.total;
        busy = true;
      }
      if (leader && c.closed.empty()) {
        if (c.finished >= budget) {
          store.close_experiment(experiment_id, "budget");
          c.closed = "budget";
        } else if (exhausted && c.waiting == 0 && c.running == 0) {
          store.close_experiment(experiment_id, "exhausted");
          c.closed = "exhausted";
        }
      }
    }

    // Claim waiting trials for the free slots.
    while (static_cast<int>(running.size()) < slots && c.waiting > 0) {
      auto row = store.claim_trial(experiment_id, label);
      if (!row) break;
      --c.waiting;
      busy = true;
      // Taken back from this very process during a long pause, and claimed
      // again: its evaluation here is still running, and will finish it.
      if (running.count(row->id)) continue;
      dispatch(std::move(*row));
    }

    progress.trial = nullptr;
    if (running.empty() && !c.closed.empty() && c.waiting == 0 && c.running == 0) {
      summary.exhausted = c.closed == "exhausted";
      break;
    }

    // Wait for results: while every slot is busy only a result (or, for the
    // coordinator, other workers' needs) calls for another look.
    const bool full = static_cast<int>(running.size()) >= slots;
    const int wait_ms = full ? (leader ? 20 : 250) : busy ? 0 : 20;
    auto event = queue.pop_for(std::chrono::milliseconds(wait_ms));
    if (!event) {
      if (listener && seconds_since(last_listen) > 0.25) {
        listener(progress);
        last_listen = Clock::now();
      }
      continue;
    }
    for (; event; event = queue.pop_for(std::chrono::milliseconds(0))) {
      if (!event->finished) {
        store.add_intermediate(event->trial_id, event->step, event->name, event->value, label);
        continue;
      }
      auto it = running.find(event->trial_id);
      if (it == running.end()) continue;  // cannot happen: one evaluation per trial here
      TrialRow row = std::move(it->second);
      running.erase(it);
      EvalResult& r = event->result;
      internal::require_metrics(r, required);
      if (!store.finish_trial(row.id, r.state, r.message, r.metrics, label)) {
        // Judged lost (a long pause) and taken back: the trial is someone
        // else's now, and its result will be theirs.
        store.add_event(row.id, "discarded",
                        fmt::format("result from {} came after the trial was taken back", label));
        continue;
      }
      row.state = r.state;
      row.message = r.message;
      row.metrics = r.metrics;
      if (r.state == TrialState::kComplete) keep_weights(row, r.weights);
      note_best(row);
      ++progress.finished;
      progress.failed += r.state == TrialState::kFail;
      progress.running = std::max<int64_t>(0, progress.running - 1);
      progress.trial = &row;
      if (listener) listener(progress);
      last_listen = Clock::now();
    }
  }
  pool.wait();
  store.worker_exit(worker_id);
  left = true;
  summary.finished = progress.finished;
  return summary;
}

}  // namespace sylva::experiments
