// Store: several processes on one experiment (see store.h and
// experiments/cluster.h): the worker registry, claims, the coordinator's
// lease, and taking trials back from lost workers.
#include <fmt/format.h>

#include "experiments/store.h"
#include "experiments/store_sql.h"

namespace sylva::experiments {

using sql::Stmt;
using sql::Transaction;

namespace {

// Checked again as the trial is taken back, since a heartbeat may have come
// after the look (READ COMMITTED): its worker is known dead (first
// parameter 1), or its last sign of life is older than the second. A trial's
// last sign of life is the later of its heartbeat and its start: a claim
// writes no heartbeat, and one from an earlier run of the trial may remain.
constexpr const char* kStillLost =
    "(? = 1 OR {latest}(coalesce((SELECT h.at FROM trial_heartbeats h WHERE h.trial_id = "
    "trials.id), ''), coalesce(trials.started_at, '')) < {ago})";

}  // namespace

WorkerRow SqlStore::add_worker(int64_t experiment_id, const std::string& name,
                               const std::string& host, int64_t pid, int slots,
                               const std::string& machine) {
  Transaction txn(*db_);
  Stmt insert(*db_,
              "INSERT INTO workers(experiment_id, label, host, pid, slots, machine) "
              "VALUES (?, ?, ?, ?, ?, ?) RETURNING id, started_at");
  insert.bind_int(1, experiment_id).bind_text(2, name).bind_text(3, host);
  insert.bind_int(4, pid).bind_int(5, slots).bind_text(6, machine).step();
  WorkerRow w;
  w.id = insert.col_int(0);
  w.started_at = insert.col_text(1);
  insert.run();
  // Host and pid alone may repeat (containers sharing a host name, pid 1 in
  // each): the registry id makes the label unique.
  w.label = name + "." + std::to_string(w.id);
  Stmt label(*db_, "UPDATE workers SET label = ? WHERE id = ?");
  label.bind_text(1, w.label).bind_int(2, w.id).run();
  txn.commit();
  w.host = host;
  w.pid = pid;
  w.slots = slots;
  w.machine = machine;
  w.state = "ACTIVE";
  w.seen_at = w.started_at;
  return w;
}

std::vector<int64_t> SqlStore::worker_heartbeat(int64_t worker_id,
                                                const std::vector<int64_t>& trial_ids) {
  Transaction txn(*db_);
  // A worker marked LOST that turns out alive (a long pause) is ACTIVE again;
  // the trials it lost stay with whoever claimed them.
  Stmt seen(*db_, "UPDATE workers SET seen_at = {now}, state = 'ACTIVE' WHERE id = ?");
  seen.bind_int(1, worker_id).run();
  Stmt beat(*db_,
            "INSERT INTO trial_heartbeats(trial_id, at) SELECT id, {now} FROM trials "
            "WHERE id = ? AND state = 'RUNNING' AND worker = "
            "(SELECT label FROM workers WHERE id = ?) "
            "ON CONFLICT(trial_id) DO UPDATE SET at = excluded.at");
  std::vector<int64_t> held;
  for (int64_t id : trial_ids) {
    beat.bind_int(1, id).bind_int(2, worker_id).run();
    if (beat.changes() > 0) held.push_back(id);
    beat.reset();
  }
  txn.commit();
  return held;
}

void SqlStore::worker_exit(int64_t worker_id) {
  Transaction txn(*db_);
  Stmt update(*db_, "UPDATE workers SET state = 'EXITED', seen_at = {now} WHERE id = ?");
  update.bind_int(1, worker_id).run();
  Stmt lead(*db_, "DELETE FROM leaders WHERE worker_id = ?");
  lead.bind_int(1, worker_id).run();
  txn.commit();
}

std::vector<WorkerRow> SqlStore::workers(int64_t experiment_id) {
  Transaction snapshot(*db_, sql::Connection::kRead);
  Stmt select(*db_,
              "SELECT w.id, w.label, w.host, w.pid, w.slots, w.state, w.started_at, w.seen_at, "
              "CASE WHEN l.worker_id IS NULL THEN 0 ELSE 1 END, w.machine "
              "FROM workers w LEFT JOIN leaders l ON l.experiment_id = w.experiment_id AND "
              "l.worker_id = w.id AND l.expires_at > {now} "
              "WHERE w.experiment_id = ? ORDER BY w.id");
  select.bind_int(1, experiment_id);
  std::vector<WorkerRow> rows;
  while (select.step()) {
    WorkerRow w;
    w.id = select.col_int(0);
    w.label = select.col_text(1);
    w.host = select.col_text(2);
    w.pid = select.col_int(3);
    w.slots = static_cast<int>(select.col_int(4));
    w.state = select.col_text(5);
    w.started_at = select.col_text(6);
    w.seen_at = select.col_text(7);
    w.leader = select.col_int(8) != 0;
    w.machine = select.col_text(9);
    rows.push_back(std::move(w));
  }
  // With the device its evaluator gave it (the latest 'device' event). The
  // unary + lets SQLite take the few RUNNING trials from the state index
  // rather than walk every trial in number order.
  Stmt running(*db_,
               "SELECT worker, number, (SELECT e.message FROM trial_events e WHERE e.trial_id = "
               "t.id AND e.event = 'device' ORDER BY e.id DESC LIMIT 1) FROM trials t "
               "WHERE experiment_id = ? AND state = 'RUNNING' ORDER BY +number");
  running.bind_int(1, experiment_id);
  while (running.step()) {
    const std::string label = running.col_text(0);
    for (WorkerRow& w : rows) {
      if (w.label != label) continue;
      w.running.push_back(running.col_int(1));
      w.running_devices.push_back(running.col_text(2));
    }
  }
  snapshot.commit();
  return rows;
}

bool SqlStore::try_lead(int64_t experiment_id, int64_t worker_id, double lease_seconds) {
  // The lease row decides: it is taken when free or expired and renewed by
  // its holder. On PostgreSQL an advisory lock speeds up the takeover: the
  // server frees it when its holder's connection dies, so whoever gets the
  // lock anew may take a lease whose holder had it, without waiting for the
  // lease to expire.
  // A holder that is merely hung keeps the lock but not the lease: once the
  // lease has passed to another it steps down and lets the lock go.
  const int64_t key = (int64_t{0x5359} << 32) | experiment_id;
  bool fresh_lock = false;
  if (db_->has_session_locks() && !leading_.count(experiment_id) && db_->try_session_lock(key)) {
    leading_.insert(experiment_id);
    fresh_lock = true;
  }
  Transaction txn(*db_);
  // A fresh lock may take the lease from a holder that had the lock (it has
  // lost its connection, so it is dead), never from one without it (a
  // holder that took an expired lease while the lock was held elsewhere).
  Stmt lease(*db_,
             "INSERT INTO leaders(experiment_id, worker_id, locked, expires_at) "
             "VALUES (?, ?, ?, {ago}) "
             "ON CONFLICT(experiment_id) DO UPDATE SET worker_id = excluded.worker_id, "
             "locked = excluded.locked, expires_at = excluded.expires_at "
             "WHERE (? = 1 AND leaders.locked = 1) OR leaders.worker_id = excluded.worker_id OR "
             "leaders.expires_at < {now}");
  lease.bind_int(1, experiment_id).bind_int(2, worker_id);
  lease.bind_int(3, leading_.count(experiment_id) ? 1 : 0).bind_real(4, -lease_seconds);
  lease.bind_int(5, fresh_lock ? 1 : 0).run();
  const bool leads = lease.changes() > 0;
  txn.commit();
  if (!leads && leading_.count(experiment_id)) {
    db_->session_unlock(key);
    leading_.erase(experiment_id);
  }
  return leads;
}

std::optional<TrialRow> SqlStore::claim_trial(int64_t experiment_id, const std::string& worker) {
  Transaction txn(*db_);
  // One statement picks, takes and returns the trial. +number: the few
  // WAITING rows from the state index, sorted, rather than a walk of the
  // number index from trial 0 (quadratic over a run).
  Stmt take(*db_, std::string("UPDATE trials SET state = 'RUNNING', worker = ?, started_at = {now} "
                              "WHERE id = (SELECT id FROM trials WHERE experiment_id = ? AND "
                              "state = 'WAITING' ORDER BY +number LIMIT 1 {skip_locked}) "
                              "RETURNING ") +
                      kTrialColumns);
  if (!take.bind_text(1, worker).bind_int(2, experiment_id).step()) return std::nullopt;
  TrialRow row = read_trial(take);
  take.run();
  // Metrics are written with finished_at, and nothing clears finished_at:
  // a trial that never finished (a new one, or one taken back from a lost
  // worker) has none to clear when it finishes; a promoted one has.
  if (row.finished_at.empty()) {
    fresh_.insert(row.id);
  } else {
    fresh_.erase(row.id);
  }
  // Its started_at is its first sign of life (kStillLost): no heartbeat yet.
  txn.commit();
  return row;
}

std::vector<Requeue> SqlStore::requeue_lost(int64_t experiment_id, double stale_seconds,
                                            const std::set<std::string>& dead_workers,
                                            int max_retries) {
  Transaction txn(*db_);
  // One process at a time takes trials back (PostgreSQL: rows are then
  // locked in one order; SQLite's write lock already serialises).
  db_->lock_transaction((int64_t{0x5352} << 32) | experiment_id);
  // A trial's last sign of life: its heartbeat, else its start. (+: from the
  // state index, as in workers().)
  Stmt running(*db_,
               "SELECT t.id, t.number, t.worker, t.retries, t.charged, "
               "CASE WHEN {latest}(coalesce(h.at, ''), coalesce(t.started_at, '')) < {ago} "
               "THEN 1 ELSE 0 END "
               "FROM trials t LEFT JOIN trial_heartbeats h ON h.trial_id = t.id "
               "WHERE t.experiment_id = ? AND t.state = 'RUNNING' ORDER BY +t.number");
  running.bind_real(1, stale_seconds).bind_int(2, experiment_id);
  struct Lost {
    Requeue r;
    int retries, charged;
    bool stale;
  };
  std::vector<Lost> lost;
  while (running.step()) {
    Lost l;
    l.r.trial_id = running.col_int(0);
    l.r.number = running.col_int(1);
    l.r.worker = running.col_text(2);
    l.retries = static_cast<int>(running.col_int(3));
    l.charged = static_cast<int>(running.col_int(4));
    l.stale = running.col_int(5) != 0;
    if (l.stale || dead_workers.count(l.r.worker)) lost.push_back(std::move(l));
  }
  std::vector<Requeue> done;
  std::set<std::string> lost_workers = dead_workers;
  for (Lost& l : lost) {
    const std::string why = l.stale ? fmt::format("no heartbeat for {:g} s", stale_seconds)
                                    : std::string("its process is gone");
    // Whether the loss is the trial's doing: another trial finished while
    // this one ran (on its holder, which is dead now, or elsewhere up to the
    // lost trial's last heartbeat). A process killed from outside, again and
    // again before anything could finish, charges nothing; one that dies
    // under this trial while the rest of the experiment gets on does.
    // Prepared only for a lost trial, not at every heartbeat's look.
    Stmt witness(*db_,
                 "SELECT count(*) FROM trials o, trials t LEFT JOIN trial_heartbeats h ON "
                 "h.trial_id = t.id WHERE t.id = ? AND o.experiment_id = t.experiment_id AND "
                 "o.id <> t.id AND o.state IN ('COMPLETE', 'PRUNED', 'FAIL') AND "
                 "o.finished_at > t.started_at AND (o.worker = t.worker OR o.finished_at <= "
                 "{latest}(coalesce(h.at, ''), coalesce(t.started_at, '')))");
    witness.bind_int(1, l.r.trial_id).step();
    const bool charge = witness.col_int(0) > 0;
    witness.run();
    const int charged = l.charged + (charge ? 1 : 0);
    // Uncharged losses have a bound too, so that a trial that takes down
    // every process running it before anything else can finish (one slot,
    // restarted by a supervisor) cannot stall the experiment for ever.
    const int loss_limit = 4 * max_retries;
    l.r.failed = charged > max_retries || l.retries + 1 > loss_limit;
    std::string message;
    if (l.r.failed) {
      message = charged > max_retries
                    ? fmt::format(
                          "worker {} lost ({}): its holder died under it {} time(s) while other "
                          "trials finished (--max-retries {})",
                          l.r.worker, why, charged, max_retries)
                    : fmt::format(
                          "worker {} lost ({}): the trial was lost {} time(s) in all (at most "
                          "4 x --max-retries {})",
                          l.r.worker, why, l.retries + 1, max_retries);
      Stmt fail(*db_, std::string("UPDATE trials SET state = 'FAIL', message = ?, finished_at = "
                                  "{now}, retries = retries + 1, charged = ? WHERE id = ? AND "
                                  "state = 'RUNNING' AND worker = ? AND ") +
                          kStillLost);
      fail.bind_text(1, message).bind_int(2, charged).bind_int(3, l.r.trial_id);
      fail.bind_text(4, l.r.worker).bind_int(5, l.stale ? 0 : 1).bind_real(6, stale_seconds).run();
      if (fail.changes() == 0) continue;
    } else {
      message = charge
                    ? fmt::format("worker {} lost ({}) while other trials finished; retry {} of {}",
                                  l.r.worker, why, charged, max_retries)
                    : fmt::format(
                          "worker {} lost ({}) before any other trial finished; re-queued "
                          "without counting a retry ({} of {} used)",
                          l.r.worker, why, charged, max_retries);
      Stmt back(*db_, std::string("UPDATE trials SET state = 'WAITING', worker = '', started_at = "
                                  "NULL, retries = retries + 1, charged = ? WHERE id = ? AND "
                                  "state = 'RUNNING' AND worker = ? AND ") +
                          kStillLost);
      back.bind_int(1, charged).bind_int(2, l.r.trial_id).bind_text(3, l.r.worker);
      back.bind_int(4, l.stale ? 0 : 1).bind_real(5, stale_seconds).run();
      if (back.changes() == 0) continue;
    }
    Stmt event(*db_, "INSERT INTO trial_events(trial_id, event, message) VALUES (?, ?, ?)");
    event.bind_int(1, l.r.trial_id).bind_text(2, l.r.failed ? "failed" : "requeued");
    event.bind_text(3, message).run();
    lost_workers.insert(l.r.worker);
    done.push_back(l.r);
  }
  // Workers silent for the stale time, and those whose trials were taken back.
  Stmt stale(*db_,
             "UPDATE workers SET state = 'LOST' WHERE experiment_id = ? AND state = 'ACTIVE' AND "
             "seen_at < {ago}");
  stale.bind_int(1, experiment_id).bind_real(2, stale_seconds).run();
  Stmt mark(*db_,
            "UPDATE workers SET state = 'LOST' WHERE experiment_id = ? AND state = 'ACTIVE' AND "
            "label = ?");
  for (const std::string& label : lost_workers) {
    mark.bind_int(1, experiment_id).bind_text(2, label).run();
    mark.reset();
  }
  // A lost worker's lease goes with it: another process may coordinate now.
  Stmt unlead(*db_,
              "DELETE FROM leaders WHERE experiment_id = ? AND worker_id IN "
              "(SELECT id FROM workers WHERE experiment_id = ? AND state = 'LOST')");
  unlead.bind_int(1, experiment_id).bind_int(2, experiment_id).run();
  txn.commit();
  return done;
}

int64_t SqlStore::release_trials(int64_t experiment_id, const std::string& worker,
                                 const std::string& why) {
  Transaction txn(*db_);
  Stmt back(*db_,
            "UPDATE trials SET state = 'WAITING', worker = '', started_at = NULL "
            "WHERE experiment_id = ? AND state = 'RUNNING' AND worker = ? RETURNING id");
  back.bind_int(1, experiment_id).bind_text(2, worker);
  std::vector<int64_t> ids;
  while (back.step()) ids.push_back(back.col_int(0));
  Stmt event(*db_, "INSERT INTO trial_events(trial_id, event, message) VALUES (?, 'released', ?)");
  for (int64_t id : ids) {
    event.bind_int(1, id).bind_text(2, why).run();
    event.reset();
  }
  txn.commit();
  return static_cast<int64_t>(ids.size());
}

TrialCounts SqlStore::counts(int64_t experiment_id, double stale_seconds) {
  // Every loop of every process asks, at every pass: one statement (one
  // consistent snapshot by itself) that reads only index ranges that stay
  // small (waiting, running, failed trials) and the highest number, not
  // every trial. Numbers run from 0 without gaps.
  Stmt all(*db_,
           "SELECT "
           "(SELECT count(*) FROM trials WHERE experiment_id = ? AND state = 'WAITING'), "
           "(SELECT count(*) FROM trials WHERE experiment_id = ? AND state = 'RUNNING'), "
           "(SELECT count(*) FROM trials WHERE experiment_id = ? AND state = 'FAIL'), "
           "(SELECT coalesce(max(number) + 1, 0) FROM trials WHERE experiment_id = ?), "
           "(SELECT closed FROM experiments WHERE id = ?), "
           "(SELECT coalesce(sum(slots), 0) FROM workers WHERE experiment_id = ? AND "
           "state = 'ACTIVE' AND seen_at >= {ago})");
  for (int i = 1; i <= 6; ++i) all.bind_int(i, experiment_id);
  all.bind_real(7, stale_seconds);
  all.step();
  TrialCounts c;
  c.waiting = all.col_int(0);
  c.running = all.col_int(1);
  c.failed = all.col_int(2);
  c.total = all.col_int(3);
  c.finished = c.total - c.waiting - c.running;
  c.closed = all.col_text(4);
  c.live_slots = all.col_int(5);
  all.run();
  return c;
}

void SqlStore::close_experiment(int64_t experiment_id, const std::string& why) {
  Transaction txn(*db_);
  Stmt update(*db_, "UPDATE experiments SET closed = ? WHERE id = ?");
  update.bind_text(1, why).bind_int(2, experiment_id).run();
  txn.commit();
}

}  // namespace sylva::experiments
