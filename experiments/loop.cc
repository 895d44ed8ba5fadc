#include "experiments/loop.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iterator>

#include "base/random.h"

namespace sylva::experiments {
namespace {

using evaluators::EvalResult;

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

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Heartbeats six times per timeout: a live worker is never judged lost.
double interval_of(double timeout) { return std::clamp(timeout / 6, 0.05, 10.0); }

}  // namespace

ExperimentLoop::ExperimentLoop(Store& store, int64_t experiment_id, const Space& space,
                               evaluators::Evaluator& evaluator, const RunOptions& options,
                               const ClusterHooks& hooks, const RunListener& listener)
    : store_(store),
      experiment_id_(experiment_id),
      space_(space),
      evaluator_(evaluator),
      options_(options),
      hooks_(hooks),
      listener_(listener),
      start_(Clock::now()),
      slots_(std::max(0, options.workers)),
      required_(internal::required_metrics(options)),
      machine_(internal::machine_identity()),
      budget_(options.trials),
      timeout_(options.heartbeat_timeout),
      max_retries_(options.max_retries),
      interval_(interval_of(options.heartbeat_timeout)),
      pool_(std::max(1, slots_)),
      free_slots_(std::max(1, slots_)) {
  if (options.prune_median) {
    pruner_ = std::make_unique<internal::MedianPruner>(options.objective, options.maximize,
                                                       options.prune_startup, options.prune_warmup);
  }
}

StatusOr<RunSummary> ExperimentLoop::run() {
  if (options_.min_budget > 0) {
    SYLVA_ASSIGN(halving,
                 SuccessiveHalving::make(options_.min_budget, options_.max_budget, options_.eta));
    rungs_ = std::make_unique<internal::RungBook>(std::move(halving), options_);
  }
  refresh_settings();
  progress_.total = budget_;
  join();
  // Leaving by an error (a lost connection, a stored architecture that does
  // not parse): the trials held here go back to the queue before the pool
  // waits for their evaluations, and the registry says the process left.
  struct LeaveOnError {
    ExperimentLoop& loop;
    ~LeaveOnError() { loop.leave_on_error(); }
  } leave_on_error{*this};
  // One write transaction for many passes while results come without a
  // wait (instant evaluators): committed before any wait (collect()), at
  // most kCommitEvery after it began, and before leaving. A finished trial
  // is reported only once its commit is done.
  Store::Batch batch(store_);
  while (true) {
    if (seconds_since(last_commit_) >= kCommitEvery) commit();
    if (stop_requested()) return stop();
    const bool beat = seconds_since(last_beat_) >= interval_;
    check_here();
    if (beat) {
      Status s = heartbeat();
      if (!s.is_ok()) return s;
    }
    TrialCounts c = count();
    bool busy = false;  // did anything this pass; look again at once
    if (leader_) busy |= coordinate(c, beat);
    busy |= claim(c);
    progress_.trial = nullptr;
    if (done(c)) {
      summary_.exhausted = c.closed == "exhausted";
      return leave();
    }
    collect(busy);
  }
}

// Joining and leaving.

void ExperimentLoop::join() {
  const WorkerRow me = store_.add_worker(experiment_id_, options_.worker_name,
                                         internal::host_name(), getpid(), slots_, machine_);
  worker_id_ = me.id;
  label_ = me.label;
  const std::set<std::string> dead = dead_here();
  if (!dead.empty()) summary_.requeued = take_back(dead);
  last_beat_ = Clock::now() - std::chrono::hours(1);  // the first pass beats
  // Registered processes of this host are checked every second (cheap: the
  // registry and /proc), so a killed worker's trials move at once.
  last_local_check_ = Clock::now();
  last_listen_ = Clock::now();
}

bool ExperimentLoop::stop_requested() const {
  return hooks_.stop_signal && hooks_.stop_signal->load() != 0;
}

RunSummary ExperimentLoop::stop() {
  summary_.stopped_by = hooks_.stop_signal->load();
  summary_.handed_back = store_.release_trials(
      experiment_id_, label_,
      fmt::format("worker {} stopped by signal {}", label_, summary_.stopped_by));
  store_.worker_exit(worker_id_);
  commit();  // `abandon` may end the process
  left_ = true;
  summary_.finished = progress_.finished;
  // The evaluations still running belong to others now: the caller may end
  // the process without waiting for them.
  if (hooks_.abandon) hooks_.abandon(summary_);
  pool_.wait();
  return summary_;
}

RunSummary ExperimentLoop::leave() {
  pool_.wait();
  store_.worker_exit(worker_id_);
  commit();
  left_ = true;
  summary_.finished = progress_.finished;
  return summary_;
}

void ExperimentLoop::leave_on_error() {
  if (left_) return;
  // The held trials go back to the queue: their evaluations here stop.
  for (auto& [id, stop] : stops_) stop->set("worker " + label_ + " stopped by an error");
  try {
    store_.release_trials(experiment_id_, label_, "worker " + label_ + " stopped by an error");
    store_.worker_exit(worker_id_);
  } catch (...) {
    // The database is what failed: the heartbeat timeout takes over.
  }
}

// The stages of one pass of the loop.

void ExperimentLoop::check_here() {
  if (seconds_since(last_local_check_) < std::min(interval_, 1.0)) return;
  const std::set<std::string> dead = dead_here();
  if (!dead.empty()) summary_.taken_back += take_back(dead);
  last_local_check_ = Clock::now();
}

Status ExperimentLoop::heartbeat() {
  std::vector<int64_t> ids;
  for (const auto& [id, row] : running_) ids.push_back(id);
  const std::vector<int64_t> held = store_.worker_heartbeat(worker_id_, ids);
  // Trials taken back from this process (judged lost during a long pause)
  // are someone else's now: stop their evaluations here.
  for (int64_t id : ids) {
    if (std::find(held.begin(), held.end(), id) == held.end() && stops_.count(id)) {
      stops_[id]->set("taken back from " + label_ + ": the trial runs elsewhere");
    }
  }
  refresh_settings();
  progress_.total = budget_;
  const bool was = leader_;
  leader_ = store_.try_lead(experiment_id_, worker_id_, timeout_);
  if (leader_ && !was) {
    Status s = become_coordinator();
    if (!s.is_ok()) return s;
  }
  if (!leader_) strategy_.reset();
  if (leader_) summary_.taken_back += take_back({});
  // The pruner's view of the trials other processes completed.
  if (pruner_) pruner_->load(store_.trials(experiment_id_), store_.intermediates(experiment_id_));
  last_beat_ = Clock::now();
  return Status::ok();
}

TrialCounts ExperimentLoop::count() {
  TrialCounts c = store_.counts(experiment_id_, timeout_);
  progress_.finished = c.finished;
  progress_.running = c.running;
  progress_.failed = c.failed;
  progress_.elapsed_seconds = seconds_since(start_);
  return c;
}

bool ExperimentLoop::coordinate(TrialCounts& c, bool beat) {
  tell_new_results(c, beat);
  const bool added = add_trials(c);
  close_if_done(c);
  return added;
}

bool ExperimentLoop::claim(TrialCounts& c) {
  bool claimed = false;
  while (static_cast<int>(running_.size()) < slots_ && c.waiting > 0) {
    auto row = store_.claim_trial(experiment_id_, label_);
    if (!row) break;
    --c.waiting;
    claimed = true;
    // Taken back from this very process during a long pause, and claimed
    // again: its evaluation here is still running, and will finish it.
    if (running_.count(row->id)) continue;
    dispatch(std::move(*row));
  }
  return claimed;
}

bool ExperimentLoop::done(const TrialCounts& c) const {
  return running_.empty() && !c.closed.empty() && c.waiting == 0 && c.running == 0;
}

void ExperimentLoop::collect(bool busy) {
  // While every slot is busy only a result (or, for the coordinator, other
  // workers' needs) calls for another look.
  const bool full = static_cast<int>(running_.size()) >= slots_;
  const int wait_ms = full ? (leader_ ? 20 : 250) : busy ? 0 : 20;
  auto event = queue_.pop_for(std::chrono::milliseconds(0));
  if (!event) {
    // The changes are committed before any wait: other processes must not
    // wait for this one's lock while it waits for a result.
    commit();
    event = queue_.pop_for(std::chrono::milliseconds(wait_ms));
  }
  if (!event) {
    if (listener_ && seconds_since(last_listen_) > 0.25) {
      listener_(progress_);
      last_listen_ = Clock::now();
    }
    return;
  }
  for (; event; event = queue_.pop_for(std::chrono::milliseconds(0))) record(*event);
}

// Parts of the stages.

void ExperimentLoop::refresh_settings() {
  if (!hooks_.settings) return;
  const ClusterSettings now = hooks_.settings();
  budget_ = now.trials;
  timeout_ = now.heartbeat_timeout;
  max_retries_ = now.max_retries;
  interval_ = interval_of(timeout_);
}

Status ExperimentLoop::become_coordinator() {
  SYLVA_ASSIGN(fresh, hooks_.new_strategy());
  strategy_ = std::move(fresh);
  told_.clear();
  asked_.clear();
  low_ = 0;
  exhausted_ = false;
  finished_seen_ = -1;
  internal::ReplayHooks replay;
  replay.finished = [this](const TrialRow& row, search::Observation&) {
    told_.insert(row.number);
    internal::note_best(progress_, row, options_);
    if (first_lead_) ++summary_.replayed;
  };
  std::vector<TrialRow> rows = store_.trials(experiment_id_);
  // With successive halving, each trial as the strategy heard it: its first
  // rung's result.
  if (rungs_) rows = rungs_->rebuild(rows, store_.intermediates(experiment_id_));
  Status s = internal::replay_trials(*strategy_, space_, rows, options_, replay);
  if (!s.is_ok()) return s;
  advance_low();
  first_lead_ = false;
  return Status::ok();
}

// Results since the last look (when some trial finished since, and once per
// heartbeat, which catches trials of lost workers that FAILed).
void ExperimentLoop::tell_new_results(const TrialCounts& c, bool beat) {
  std::vector<TrialRow> rows;
  if (beat || c.finished != finished_seen_) {
    // Promoted trials below low_ (told already) are read for their rungs.
    const int64_t from = rungs_ ? std::min(low_, rungs_->first_awaited()) : low_;
    rows = store_.trials_from(experiment_id_, from);
    finished_seen_ = c.finished;
  }
  std::vector<const TrialRow*> news;  // finished since the last look, in number order
  for (const TrialRow& row : rows) {
    if (rungs_) rungs_->saw(row);
    if (!evaluators::is_finished(row.state) || row.number < low_ || told_.count(row.number)) {
      continue;
    }
    // The architecture as asked this term, or read back from its stored form.
    auto asked = asked_.find(row.number);
    StatusOr<Architecture> arch = asked != asked_.end()
                                      ? StatusOr<Architecture>(std::move(asked->second))
                                      : space_.parse(row.arch_canonical);
    if (asked != asked_.end()) asked_.erase(asked);
    if (!arch.is_ok()) continue;  // cannot happen: it parsed when added
    strategy_->tell(internal::observation(row.number, arch.value(), row.state, row.metrics,
                                          options_.objective, options_.maximize));
    told_.insert(row.number);
    internal::note_best(progress_, row, options_);
    news.push_back(&row);
  }
  // The coordinator reports the trials other processes finished too, so that
  // its output follows the whole experiment.
  for (size_t i = 0; i < news.size() && listener_; ++i) {
    if (news[i]->worker == label_) continue;
    progress_.finished = c.finished - static_cast<int64_t>(news.size() - 1 - i);
    progress_.trial = news[i];
    listener_(progress_);
    last_listen_ = Clock::now();
  }
  progress_.finished = c.finished;
  progress_.trial = nullptr;
  advance_low();
}

// New trials for the live workers' free slots, within the budget; true if
// any was added.
bool ExperimentLoop::add_trials(TrialCounts& c) {
  bool added = false;
  int64_t free = std::max<int64_t>(c.live_slots, slots_) - c.waiting - c.running;
  // Successive halving: due promotions first (PRUNED -> WAITING; PRUNED
  // counted as finished until now).
  while (rungs_ && free > 0 && rungs_->promote(store_)) {
    --free;
    ++c.waiting;
    --c.finished;
    --finished_seen_;
    added = true;
  }
  // Asked first, then inserted by one statement. This process's own free
  // slots take new trials at once (inserted RUNNING: no insert and claim),
  // unless trials wait: those are claimed first, lowest number first.
  int64_t own_free = c.waiting == 0 ? slots_ - static_cast<int64_t>(running_.size()) : 0;
  std::vector<Store::NewTrial> rows;
  std::vector<Architecture> archs;
  while (free > 0 && c.total + static_cast<int64_t>(rows.size()) < budget_ && !exhausted_) {
    const int64_t number = c.total + static_cast<int64_t>(rows.size());
    auto arch = strategy_->ask(number);
    if (!arch) {
      exhausted_ = true;
      break;
    }
    Store::NewTrial row;
    row.number = number;
    row.seed = mix_seed(options_.seed, static_cast<uint64_t>(number));
    row.arch_hash = hash_hex(arch->hash);
    row.arch_key = arch->key;
    row.arch_canonical = arch->canonical;
    row.runner = own_free-- > 0 ? label_ : "";
    rows.push_back(std::move(row));
    archs.push_back(std::move(*arch));
    --free;
  }
  if (rows.empty()) return added;
  const std::vector<std::optional<int64_t>> ids = store_.insert_trials(experiment_id_, rows);
  size_t i = 0;  // inserted up to the first number another coordinator took
  for (; i < rows.size() && ids[i]; ++i) {
    Store::NewTrial& made = rows[i];
    ++c.total;
    added = true;
    asked_[made.number] = archs[i];
    if (made.runner.empty()) {
      ++c.waiting;
      continue;
    }
    TrialRow row;
    row.id = *ids[i];
    row.number = made.number;
    row.seed = made.seed;
    row.arch_hash = std::move(made.arch_hash);
    row.arch_key = std::move(made.arch_key);
    row.arch_canonical = std::move(made.arch_canonical);
    row.state = TrialState::kRunning;
    row.worker = label_;
    ++c.running;
    dispatch(std::move(row), std::move(archs[i]));
  }
  if (i < rows.size()) {
    // A number was taken: another coordinator, this one's lease had lapsed.
    leader_ = false;
    strategy_.reset();
  }
  return added;
}

void ExperimentLoop::close_if_done(TrialCounts& c) {
  if (!leader_ || !c.closed.empty()) return;
  // With successive halving a finished (PRUNED) trial may run again: the
  // experiment closes once nothing waits, runs or is due for promotion.
  if (rungs_ && (c.waiting > 0 || c.running > 0 || rungs_->due())) return;
  if (rungs_ ? c.total >= budget_ : c.finished >= budget_) {
    store_.close_experiment(experiment_id_, "budget");
    c.closed = "budget";
  } else if (exhausted_ && c.waiting == 0 && c.running == 0) {
    store_.close_experiment(experiment_id_, "exhausted");
    c.closed = "exhausted";
  }
}

void ExperimentLoop::dispatch(TrialRow row, std::optional<Architecture> made) {
  // A trial this process just made runs its first rung; a claimed one is
  // read back from its stored form.
  const bool fresh = made.has_value();
  StatusOr<Architecture> arch =
      fresh ? StatusOr<Architecture>(std::move(*made)) : space_.parse(row.arch_canonical);
  if (!arch.is_ok()) {
    store_.finish_trial(row.id, TrialState::kFail,
                        "stored architecture does not parse: " + arch.status().message(), {},
                        label_);
    return;
  }
  internal::TrialRun run;
  if (rungs_ && fresh) {
    rung_of_[row.id] = 0;
    run.epochs = rungs_->halving().rungs()[0];
  } else if (rungs_) {
    // The claim reads no metrics: the rung comes from the stored "epochs".
    auto stored = store_.trial(experiment_id_, row.number);
    const int rung = stored ? rungs_->target_rung(*stored) : 0;
    const auto& budgets = rungs_->halving().rungs();
    run.epochs = budgets[rung];
    run.previous_epochs = rung > 0 ? budgets[rung - 1] : 0;
    rung_of_[row.id] = rung;
  }
  run.slot = internal::take_slot(free_slots_, evaluator_, store_, row.id);
  auto stop = std::make_shared<internal::StopFlag>();
  run.stop = stop;
  internal::submit_trial(pool_, queue_, evaluator_, space_, options_, row, arch.value(), run);
  slot_of_[row.id] = run.slot;
  stops_[row.id] = std::move(stop);
  running_[row.id] = std::move(row);
}

void ExperimentLoop::record(internal::Event& event) {
  if (!event.finished) {
    store_.add_intermediate(event.trial_id, event.step, event.name, event.value, label_);
    auto held = running_.find(event.trial_id);
    if (pruner_ && event.name == pruner_->metric() && held != running_.end()) {
      const std::string why = pruner_->judge(held->second.number, event.step, event.value);
      if (!why.empty()) stops_[event.trial_id]->set(why);
    }
    return;
  }
  auto it = running_.find(event.trial_id);
  if (it == running_.end()) return;  // cannot happen: one evaluation per trial here
  TrialRow row = std::move(it->second);
  running_.erase(it);
  free_slots_.give(slot_of_[row.id]);
  slot_of_.erase(row.id);
  stops_.erase(row.id);
  EvalResult& r = event.result;
  internal::require_metrics(r, required_);
  if (rungs_) {
    rungs_->finish_rung(store_, row.id, rung_of_[row.id], label_, r);
    rung_of_.erase(row.id);
  }
  if (pruner_) {
    if (r.state == TrialState::kComplete) {
      pruner_->complete(row.number);
    } else {
      pruner_->forget(row.number);
    }
  }
  if (!store_.finish_trial(row.id, r.state, r.message, r.metrics, label_)) {
    // Judged lost (a long pause) and taken back: the trial is someone else's
    // now, and its result will be theirs.
    store_.add_event(row.id, "discarded",
                     fmt::format("result from {} came after the trial was taken back", label_));
    return;
  }
  for (const auto& [kind, bytes] : r.artifacts) store_.put_artifact(row.id, kind, bytes);
  row.state = r.state;
  row.message = r.message;
  row.metrics = r.metrics;
  tell_own(row);
  if (r.state == TrialState::kComplete) keep_weights(row, r.weights);
  internal::note_best(progress_, row, options_);
  ++progress_.finished;
  progress_.failed += r.state == TrialState::kFail;
  progress_.running = std::max<int64_t>(0, progress_.running - 1);
  // Reported once committed (commit()).
  unreported_.emplace_back(progress_, std::move(row));
}

// The coordinator's own trial, made this term, is told at once when every
// trial numbered below it has been (the order a replay tells them in), and
// the next look at the database skips reading it back. Successive halving
// reads its rungs from the rows, so it always reads.
void ExperimentLoop::tell_own(const TrialRow& row) {
  if (!leader_ || !strategy_ || rungs_ || row.number != low_) return;
  auto asked = asked_.find(row.number);
  if (asked == asked_.end()) return;
  strategy_->tell(internal::observation(row.number, asked->second, row.state, row.metrics,
                                        options_.objective, options_.maximize));
  asked_.erase(asked);
  ++low_;
  advance_low();
  if (finished_seen_ >= 0) ++finished_seen_;
}

// Moves low_ past the trials told above it, which then need no set entry.
void ExperimentLoop::advance_low() {
  while (told_.count(low_)) told_.erase(low_++);
}

void ExperimentLoop::commit() {
  store_.flush();
  last_commit_ = Clock::now();
  if (unreported_.empty()) return;
  for (auto& [event, row] : unreported_) {
    event.trial = &row;
    if (listener_) listener_(event);
  }
  unreported_.clear();
  last_listen_ = Clock::now();
}

// Weights of the best keep_weights trials stay in the database; another
// process may keep some at the same time, so the set is read back each time.
void ExperimentLoop::keep_weights(const TrialRow& row, const std::string& weights) {
  auto it = row.metrics.find(options_.objective);
  if (options_.keep_weights <= 0 || weights.empty() || it == row.metrics.end()) return;
  // Artifacts first: a trial's weights are put after its finish commits, so
  // every trial read here has its metrics in the later read.
  const std::vector<int64_t> with_weights = store_.trials_with_artifact(experiment_id_, "weights");
  std::map<int64_t, double> value_of;
  for (const TrialRow& t : store_.trials(experiment_id_)) {
    auto m = t.metrics.find(options_.objective);
    if (t.state == TrialState::kComplete && m != t.metrics.end()) {
      value_of[t.id] = signed_value(m->second);
    }
  }
  internal::KeptWeights kept = internal::kept_weights(with_weights, value_of);
  internal::keep_weights(store_, kept, row.id, signed_value(it->second), weights,
                         options_.keep_weights);
}

// Takes trials back from lost workers; returns how many went back to the
// queue (those out of retries FAIL instead).
int64_t ExperimentLoop::take_back(const std::set<std::string>& dead) {
  int64_t requeued = 0;
  for (const Requeue& r : store_.requeue_lost(experiment_id_, timeout_, dead, max_retries_)) {
    requeued += !r.failed;
  }
  return requeued;
}

// Registered processes of this machine and pid namespace that are gone (a
// killed `search` being resumed, a worker killed beside this one) lose their
// trials and their lease at once, not after the heartbeat timeout.
std::set<std::string> ExperimentLoop::dead_here() {
  std::set<std::string> dead;
  for (const WorkerRow& w : store_.workers(experiment_id_)) {
    if (w.state == "ACTIVE" && w.id != worker_id_ && w.machine == machine_ && gone(w.pid)) {
      dead.insert(w.label);
    }
  }
  return dead;
}

}  // namespace sylva::experiments
