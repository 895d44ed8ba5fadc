// Store: experiments and trials (see store.h). Each method that writes is one
// write transaction; each method that reads several statements reads them in
// one snapshot.
#include "experiments/store.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "base/strings.h"
#include "experiments/store_sql.h"

namespace sylva::experiments {
using sql::Stmt;
using sql::Transaction;

namespace {
// Above every trial number: the upper end of the "from this number on" reads.
constexpr int64_t kNoNumber = std::numeric_limits<int64_t>::max();

// `n` rows of a multi-row VALUES list: `row`, comma-separated.
std::string rows_of(const std::string& row, size_t n) {
  return join(std::vector<std::string>(n, row), ", ");
}
}  // namespace

const char* const kTrialColumns =
    "id, number, state, arch_hash, arch_key, arch_canonical, seed, worker, message, "
    "created_at, started_at, finished_at, retries, charged";

TrialRow read_trial(const Stmt& s) {
  TrialRow t;
  t.id = s.col_int(0);
  t.number = s.col_int(1);
  StatusOr<TrialState> state = evaluators::parse_state(s.col_text(2));
  if (!state.is_ok())
    throw std::runtime_error("store: trial " + std::to_string(t.id) + ": " +
                             state.status().message());
  t.state = state.value();
  t.arch_hash = s.col_text(3);
  t.arch_key = s.col_text(4);
  t.arch_canonical = s.col_text(5);
  t.seed = sql::from_sql(s.col_int(6));
  t.worker = s.col_text(7);
  t.message = s.col_text(8);
  t.created_at = s.col_text(9);
  t.started_at = s.col_text(10);
  t.finished_at = s.col_text(11);
  t.retries = static_cast<int>(s.col_int(12));
  t.charged = static_cast<int>(s.col_int(13));
  return t;
}

void SqlStore::require_changed(int64_t changed, const char* what, int64_t trial_id) {
  if (changed == 0) {
    throw std::runtime_error(std::string("store: ") + what + ": no trial with id " +
                             std::to_string(trial_id) + " in " + where());
  }
}

std::optional<int64_t> Store::insert_trial(int64_t experiment_id, int64_t number,
                                           const std::string& arch_hash,
                                           const std::string& arch_key,
                                           const std::string& arch_canonical, uint64_t seed,
                                           const std::string& runner) {
  return insert_trials(experiment_id, {{number, arch_hash, arch_key, arch_canonical, seed, runner}})
      .front();
}

int64_t Store::add_trial(int64_t experiment_id, int64_t number, const std::string& arch_hash,
                         const std::string& arch_key, const std::string& arch_canonical,
                         uint64_t seed) {
  auto id = insert_trial(experiment_id, number, arch_hash, arch_key, arch_canonical, seed);
  if (!id) {
    throw std::runtime_error("store: experiment " + std::to_string(experiment_id) +
                             " already has a trial " + std::to_string(number));
  }
  return *id;
}

StatusOr<int64_t> SqlStore::create_experiment(const std::string& name,
                                              const std::string& config_json) {
  Transaction txn(*db_);
  // DO NOTHING: two processes creating the same name at once get the same
  // answer as one after the other.
  Stmt insert(*db_,
              "INSERT INTO experiments(name, config_json) VALUES (?, ?) "
              "ON CONFLICT (name) DO NOTHING RETURNING id");
  if (!insert.bind_text(1, name).bind_text(2, config_json).step()) {
    return Status::already_exists("experiment '" + name + "' already exists in " + where() +
                                  "; continue it with `sylva resume --name " + name + " --db " +
                                  where() + "`");
  }
  int64_t id = insert.col_int(0);
  insert.run();
  txn.commit();
  return id;
}

StatusOr<ExperimentRow> SqlStore::find_experiment(const std::string& name) {
  Stmt find(*db_, "SELECT id, name, created_at, config_json FROM experiments WHERE name = ?");
  if (find.bind_text(1, name).step()) {
    return ExperimentRow{find.col_int(0), find.col_text(1), find.col_text(2), find.col_text(3)};
  }
  Stmt names(*db_, "SELECT name FROM experiments ORDER BY name");
  std::string list;
  while (names.step()) list += (list.empty() ? "" : ", ") + names.col_text(0);
  return Status::not_found("no experiment named '" + name + "' in " + where() + " (" +
                           (list.empty() ? "no experiments" : "experiments: " + list) + ")");
}

void SqlStore::update_config(int64_t experiment_id, const std::string& config_json) {
  Transaction txn(*db_);
  // A new configuration (resume's new --trials) reopens a closed experiment.
  Stmt update(*db_, "UPDATE experiments SET config_json = ?, closed = '' WHERE id = ?");
  update.bind_text(1, config_json).bind_int(2, experiment_id).run();
  if (update.changes() != 1) {
    throw std::logic_error("update_config: no experiment with id " + std::to_string(experiment_id));
  }
  txn.commit();
}

std::vector<ExperimentRow> SqlStore::experiments() {
  Stmt all(*db_, "SELECT id, name, created_at, config_json FROM experiments ORDER BY id");
  std::vector<ExperimentRow> rows;
  while (all.step()) {
    rows.push_back({all.col_int(0), all.col_text(1), all.col_text(2), all.col_text(3)});
  }
  return rows;
}

std::vector<std::optional<int64_t>> SqlStore::insert_trials(int64_t experiment_id,
                                                            const std::vector<NewTrial>& trials) {
  std::vector<std::optional<int64_t>> ids(trials.size());
  Transaction txn(*db_);
  // Up to kRows trials a statement (one prepared text per count).
  constexpr size_t kRows = 16;
  std::unordered_map<int64_t, size_t> at;  // number -> position in `trials`
  for (size_t first = 0; first < trials.size(); first += kRows) {
    const size_t n = std::min(kRows, trials.size() - first);
    Stmt insert(*db_,
                "INSERT INTO trials(experiment_id, number, arch_hash, arch_key, arch_canonical, "
                "seed, state, worker, started_at) VALUES " +
                    rows_of("(?, ?, ?, ?, ?, ?, CASE WHEN ? = '' THEN 'WAITING' ELSE 'RUNNING' "
                            "END, ?, CASE WHEN ? = '' THEN NULL ELSE {now} END)",
                            n) +
                    " ON CONFLICT (experiment_id, number) DO NOTHING RETURNING id, number");
    for (size_t i = 0; i < n; ++i) {
      const NewTrial& t = trials[first + i];
      const int p = static_cast<int>(9 * i);
      insert.bind_int(p + 1, experiment_id).bind_int(p + 2, t.number).bind_text(p + 3, t.arch_hash);
      insert.bind_text(p + 4, t.arch_key).bind_text(p + 5, t.arch_canonical);
      insert.bind_int(p + 6, sql::to_sql(t.seed)).bind_text(p + 7, t.runner);
      insert.bind_text(p + 8, t.runner).bind_text(p + 9, t.runner);
      at[t.number] = first + i;
    }
    while (insert.step()) ids[at.at(insert.col_int(1))] = insert.col_int(0);
  }
  // Nothing after the first number taken: those trials were asked of a
  // strategy that has not seen the other coordinator's, so they go again
  // before anyone can see them (uncommitted), as if never inserted.
  const auto taken = std::find(ids.begin(), ids.end(), std::nullopt);
  for (auto it = taken; it != ids.end(); ++it) {
    if (!*it) continue;
    Stmt undo(*db_, "DELETE FROM trials WHERE id = ?");
    undo.bind_int(1, **it).run();
    it->reset();
  }
  bool grown = false;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (!ids[i]) continue;
    // A RUNNING trial's first sign of life is its started_at (the lost
    // checks read the later of it and the heartbeat): no heartbeat yet.
    if (!trials[i].runner.empty()) fresh_.insert(*ids[i]);
    // As the trials double from 32 on: the counts read them at every pass.
    const int64_t number = trials[i].number;
    grown |= number >= 31 && ((number + 1) & number) == 0;
  }
  if (grown) db_->refresh_statistics();
  txn.commit();
  return ids;
}

void SqlStore::set_running(int64_t trial_id, const std::string& worker) {
  Transaction txn(*db_);
  Stmt update(*db_,
              "UPDATE trials SET state = 'RUNNING', worker = ?, started_at = {now}"
              " WHERE id = ?");
  update.bind_text(1, worker).bind_int(2, trial_id).run();
  require_changed(update.changes(), "set_running", trial_id);
  txn.commit();
}

bool SqlStore::finish_trial(int64_t trial_id, TrialState state, const std::string& message,
                            const std::map<std::string, double>& metrics,
                            const std::string& holder) {
  if (!evaluators::is_finished(state)) {
    throw std::invalid_argument(std::string("store: finish_trial with unfinished state ") +
                                evaluators::state_name(state));
  }
  Transaction txn(*db_);
  const char* const kUpdate =
      "UPDATE trials SET state = ?, message = ?, finished_at = {now} WHERE id = ? AND "
      "(? = '' OR (state = 'RUNNING' AND worker = ?))";
  auto bind_update = [&](Stmt& s) {
    s.bind_text(1, evaluators::state_name(state)).bind_text(2, message);
    s.bind_int(3, trial_id).bind_text(4, holder).bind_text(5, holder);
  };
  // Up to kRows metrics a statement: one round trip for a usual result.
  constexpr size_t kRows = 16;
  const bool fresh = fresh_.count(trial_id) > 0;  // else finished before (promoted): has metrics
  auto it = metrics.begin();
  if (fresh && db_->writes_in_with() && !metrics.empty() && metrics.size() <= kRows) {
    // One round trip to a server: the update, and the metrics inserted only
    // if it took (they are the statement's only rows, so their count says).
    Stmt both(*db_, std::string("WITH done AS (") + kUpdate +
                        " RETURNING id) INSERT INTO trial_metrics(trial_id, name, value) "
                        "SELECT done.id, v.name, v.value FROM done, (VALUES " +
                        rows_of("(CAST(? AS TEXT), CAST(? AS {real}))", metrics.size()) +
                        ") AS v(name, value)");
    bind_update(both);
    for (int i = 0; it != metrics.end(); ++i, ++it) {
      both.bind_text(6 + 2 * i, it->first).bind_real(7 + 2 * i, it->second);
    }
    both.run();
    if (!holder.empty() && both.changes() == 0) return false;
    require_changed(both.changes(), "finish_trial", trial_id);
  } else {
    Stmt update(*db_, kUpdate);
    bind_update(update);
    update.run();
    if (!holder.empty() && update.changes() == 0) return false;
    require_changed(update.changes(), "finish_trial", trial_id);
    if (!fresh) {
      Stmt clear(*db_, "DELETE FROM trial_metrics WHERE trial_id = ?");
      clear.bind_int(1, trial_id).run();
    }
  }
  fresh_.erase(trial_id);
  while (it != metrics.end()) {
    const size_t n = std::min<size_t>(kRows, std::distance(it, metrics.end()));
    Stmt insert(*db_, "INSERT INTO trial_metrics(trial_id, name, value) VALUES " +
                          rows_of("(CAST(? AS {int}), CAST(? AS TEXT), CAST(? AS {real}))", n));
    for (int i = 0; i < static_cast<int>(n); ++i, ++it) {
      insert.bind_int(3 * i + 1, trial_id).bind_text(3 * i + 2, it->first);
      insert.bind_real(3 * i + 3, it->second);
    }
    insert.run();
  }
  if (state == TrialState::kFail) {
    Stmt event(*db_, "INSERT INTO trial_events(trial_id, event, message) VALUES (?, 'failed', ?)");
    event.bind_int(1, trial_id).bind_text(2, message).run();
  }
  txn.commit();
  return true;
}

void SqlStore::add_intermediate(int64_t trial_id, int step, const std::string& name, double value,
                                const std::string& holder) {
  Transaction txn(*db_);
  // A re-run (after a requeue) overwrites the killed run's value at that step.
  Stmt upsert(*db_,
              "INSERT INTO trial_intermediate(trial_id, step, name, value) "
              "SELECT CAST(? AS {int}), CAST(? AS {int}), CAST(? AS TEXT), CAST(? AS {real}) "
              "WHERE ? = '' OR EXISTS (SELECT 1 FROM trials WHERE id = ? AND state = 'RUNNING' "
              "AND worker = ?) "
              "ON CONFLICT(trial_id, name, step) DO UPDATE SET value = excluded.value");
  upsert.bind_int(1, trial_id).bind_int(2, step).bind_text(3, name).bind_real(4, value);
  upsert.bind_text(5, holder).bind_int(6, trial_id).bind_text(7, holder).run();
  txn.commit();
}

void SqlStore::add_event(int64_t trial_id, const std::string& event, const std::string& message) {
  Transaction txn(*db_);
  Stmt insert(*db_, "INSERT INTO trial_events(trial_id, event, message) VALUES (?, ?, ?)");
  insert.bind_int(1, trial_id).bind_text(2, event).bind_text(3, message).run();
  txn.commit();
}

bool SqlStore::promote_trial(int64_t trial_id, int64_t from_epochs, const std::string& message) {
  Transaction txn(*db_);
  Stmt update(*db_,
              "UPDATE trials SET state = 'WAITING', worker = '', started_at = NULL WHERE id = ? "
              "AND state = 'PRUNED' AND EXISTS (SELECT 1 FROM trial_metrics WHERE trial_id = ? "
              "AND name = 'epochs' AND value = ?)");
  update.bind_int(1, trial_id).bind_int(2, trial_id).bind_real(3, static_cast<double>(from_epochs));
  update.run();
  if (update.changes() == 0) return false;
  Stmt event(*db_, "INSERT INTO trial_events(trial_id, event, message) VALUES (?, 'promoted', ?)");
  event.bind_int(1, trial_id).bind_text(2, message).run();
  txn.commit();
  return true;
}

void SqlStore::heartbeat(int64_t trial_id) {
  Transaction txn(*db_);
  Stmt upsert(*db_,
              "INSERT INTO trial_heartbeats(trial_id, at) VALUES (?, {now}) "
              "ON CONFLICT(trial_id) DO UPDATE SET at = excluded.at");
  upsert.bind_int(1, trial_id).run();
  txn.commit();
}

int SqlStore::requeue_unfinished(int64_t experiment_id) {
  Transaction txn(*db_);
  // The event keeps the worker that held the trial, which the update clears.
  Stmt events(*db_,
              "INSERT INTO trial_events(trial_id, event, message) "
              "SELECT id, 'requeued', worker FROM trials "
              "WHERE experiment_id = ? AND state = 'RUNNING' ORDER BY number");
  events.bind_int(1, experiment_id).run();
  Stmt update(*db_,
              "UPDATE trials SET state = 'WAITING', worker = '', started_at = NULL "
              "WHERE experiment_id = ? AND state = 'RUNNING'");
  update.bind_int(1, experiment_id).run();
  int count = static_cast<int>(update.changes());
  txn.commit();
  return count;
}

namespace {

// One trial, read with its metrics by one statement (a LEFT JOIN of
// trial_metrics: a row a metric, one with NULLs when it has none), so one
// consistent read, one round trip to a server.
std::optional<TrialRow> read_trial_with_metrics(Stmt& select) {
  constexpr int kName = 14;  // after kTrialColumns
  std::optional<TrialRow> row;
  while (select.step()) {
    if (!row) row = read_trial(select);
    if (!select.col_null(kName)) row->metrics[select.col_text(kName)] = select.col_real(kName + 1);
  }
  return row;
}

}  // namespace

std::vector<TrialRow> SqlStore::trials_from(int64_t experiment_id, int64_t first_number) {
  // Trials and metrics apart, not joined: a join repeats each trial's
  // columns (its canonical form may run to kilobytes) once per metric.
  // A range bounded on both sides (kNoNumber): PostgreSQL plans a prepared
  // statement once for any parameters after a few runs, and takes an open
  // range (number >= ?) for a third of the table, so it scans every trial
  // and every metric; a closed one it takes for a narrow range and reads
  // from the index. The coordinator reads from its lowest untold trial at
  // every change: a scan made a 2,000-trial run's reads quadratic.
  Transaction snapshot(*db_, sql::Connection::kRead);
  Stmt select(*db_, std::string("SELECT ") + kTrialColumns +
                        " FROM trials WHERE experiment_id = ? AND number >= ? AND number < ? "
                        "ORDER BY number");
  select.bind_int(1, experiment_id).bind_int(2, first_number).bind_int(3, kNoNumber);
  std::vector<TrialRow> rows;
  std::unordered_map<int64_t, size_t> index;  // trial id -> position in rows
  while (select.step()) {
    rows.push_back(read_trial(select));
    index[rows.back().id] = rows.size() - 1;
  }
  Stmt metrics(*db_,
               "SELECT m.trial_id, m.name, m.value FROM trial_metrics m "
               "JOIN trials t ON t.id = m.trial_id WHERE t.experiment_id = ? AND t.number >= ? "
               "AND t.number < ?");
  metrics.bind_int(1, experiment_id).bind_int(2, first_number).bind_int(3, kNoNumber);
  while (metrics.step()) {
    rows[index.at(metrics.col_int(0))].metrics[metrics.col_text(1)] = metrics.col_real(2);
  }
  snapshot.commit();
  return rows;
}

std::optional<TrialRow> SqlStore::trial(int64_t experiment_id, int64_t number) {
  Stmt select(*db_, std::string("SELECT ") + kTrialColumns +
                        ", m.name, m.value FROM trials LEFT JOIN trial_metrics m ON "
                        "m.trial_id = trials.id WHERE experiment_id = ? AND number = ?");
  select.bind_int(1, experiment_id).bind_int(2, number);
  return read_trial_with_metrics(select);
}

std::vector<IntermediateRow> SqlStore::intermediates_from(int64_t experiment_id,
                                                          int64_t first_number) {
  Stmt select(*db_,
              "SELECT t.number, i.step, i.name, i.value FROM trial_intermediate i "
              "JOIN trials t ON t.id = i.trial_id WHERE t.experiment_id = ? AND t.number >= ? "
              "AND t.number < ? ORDER BY t.number, i.step, i.name");  // closed: see trials_from
  select.bind_int(1, experiment_id).bind_int(2, first_number).bind_int(3, kNoNumber);
  std::vector<IntermediateRow> rows;
  while (select.step()) {
    rows.push_back({select.col_int(0), static_cast<int>(select.col_int(1)), select.col_text(2),
                    select.col_real(3)});
  }
  return rows;
}

std::vector<EventRow> SqlStore::events(int64_t experiment_id) {
  // (The unary + keeps SQLite from walking every trial of the experiment to
  // probe for its events: there are few events and many trials.)
  Stmt select(*db_,
              "SELECT t.number, e.at, e.event, e.message FROM trial_events e "
              "JOIN trials t ON t.id = e.trial_id WHERE +t.experiment_id = ? ORDER BY e.at, e.id");
  select.bind_int(1, experiment_id);
  std::vector<EventRow> rows;
  while (select.step()) {
    rows.push_back({select.col_int(0), select.col_text(1), select.col_text(2), select.col_text(3)});
  }
  return rows;
}

Outcome SqlStore::outcome(int64_t experiment_id, const std::string& metric, bool maximize) {
  Transaction snapshot(*db_, sql::Connection::kRead);
  Stmt counts(*db_,
              "SELECT count(CASE WHEN state = 'COMPLETE' THEN 1 END), "
              "count(CASE WHEN state = 'PRUNED' THEN 1 END), "
              "count(CASE WHEN state = 'FAIL' THEN 1 END), "
              "coalesce(min(CASE WHEN state = 'FAIL' THEN number END), -1) "
              "FROM trials WHERE experiment_id = ?");
  counts.bind_int(1, experiment_id).step();
  Outcome o;
  o.complete = counts.col_int(0);
  o.pruned = counts.col_int(1);
  o.failed = counts.col_int(2);
  const int64_t first_failure = counts.col_int(3);
  counts.run();
  if (first_failure >= 0) o.first_failure = trial(experiment_id, first_failure);
  // Finite values only (NaN is stored as NULL; the bounds leave out the
  // infinities), as ranked() takes them.
  Stmt best(*db_, std::string("SELECT t.number FROM trials t JOIN trial_metrics m ON m.trial_id = "
                              "t.id WHERE t.experiment_id = ? AND t.state = 'COMPLETE' AND "
                              "m.name = ? AND m.value BETWEEN ? AND ? ORDER BY m.value ") +
                      (maximize ? "DESC" : "ASC") + ", t.number LIMIT 1");
  const double most = std::numeric_limits<double>::max();
  best.bind_int(1, experiment_id).bind_text(2, metric).bind_real(3, -most).bind_real(4, most);
  if (best.step()) {
    const int64_t number = best.col_int(0);
    best.run();
    o.best = trial(experiment_id, number);
  }
  snapshot.commit();
  return o;
}

ChangeMarks SqlStore::change_marks(int64_t experiment_id, const std::string& since) {
  Stmt select(*db_,
              "SELECT coalesce(max(finished_at), ''), "
              "coalesce(min(CASE WHEN state IN ('WAITING', 'RUNNING') THEN number END), -1), "
              "coalesce(min(CASE WHEN finished_at >= ? THEN number END), -1), "
              "count(CASE WHEN state = 'COMPLETE' THEN 1 END) "
              "FROM trials WHERE experiment_id = ?");
  select.bind_text(1, since).bind_int(2, experiment_id).step();
  ChangeMarks m{select.col_text(0), select.col_int(1), select.col_int(2), select.col_int(3)};
  select.run();
  return m;
}

}  // namespace sylva::experiments
