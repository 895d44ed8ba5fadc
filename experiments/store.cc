// Store: experiments and trials (see store.h). Each method that writes is one
// write transaction; each method that reads several statements reads them in
// one snapshot.
#include "experiments/store.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <unordered_map>

#include "experiments/store_sql.h"

namespace sylva::experiments {
using sql::Stmt;
using sql::Transaction;

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

std::optional<int64_t> SqlStore::insert_trial(int64_t experiment_id, int64_t number,
                                              const std::string& arch_hash,
                                              const std::string& arch_key,
                                              const std::string& arch_canonical, uint64_t seed,
                                              const std::string& runner) {
  Transaction txn(*db_);
  Stmt insert(*db_,
              "INSERT INTO trials(experiment_id, number, arch_hash, arch_key, arch_canonical, "
              "seed, state, worker, started_at) VALUES (?, ?, ?, ?, ?, ?, "
              "CASE WHEN ? = '' THEN 'WAITING' ELSE 'RUNNING' END, ?, "
              "CASE WHEN ? = '' THEN NULL ELSE {now} END) "
              "ON CONFLICT (experiment_id, number) DO NOTHING RETURNING id");
  insert.bind_int(1, experiment_id)
      .bind_int(2, number)
      .bind_text(3, arch_hash)
      .bind_text(4, arch_key)
      .bind_text(5, arch_canonical)
      .bind_int(6, sql::to_sql(seed))
      .bind_text(7, runner)
      .bind_text(8, runner)
      .bind_text(9, runner);
  if (!insert.step()) return std::nullopt;
  int64_t id = insert.col_int(0);
  insert.run();
  // A RUNNING trial's first sign of life is its started_at (the lost checks
  // read the later of it and the heartbeat): no heartbeat row yet.
  if (!runner.empty()) fresh_.insert(id);
  // As the trials double from 32 on: the counts read them at every pass.
  if (number >= 31 && ((number + 1) & number) == 0) db_->refresh_statistics();
  txn.commit();
  return id;
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
  Stmt update(*db_,
              "UPDATE trials SET state = ?, message = ?, finished_at = {now} WHERE id = ? AND "
              "(? = '' OR (state = 'RUNNING' AND worker = ?))");
  update.bind_text(1, evaluators::state_name(state)).bind_text(2, message);
  update.bind_int(3, trial_id).bind_text(4, holder).bind_text(5, holder).run();
  if (!holder.empty() && update.changes() == 0) return false;
  require_changed(update.changes(), "finish_trial", trial_id);

  if (!fresh_.erase(trial_id)) {  // a trial finished before (a promoted one) has metrics
    Stmt clear(*db_, "DELETE FROM trial_metrics WHERE trial_id = ?");
    clear.bind_int(1, trial_id).run();
  }
  // Up to kRows metrics a statement: one round trip for a usual result.
  constexpr size_t kRows = 16;
  for (auto it = metrics.begin(); it != metrics.end();) {
    const size_t n = std::min<size_t>(kRows, std::distance(it, metrics.end()));
    std::string text = "INSERT INTO trial_metrics(trial_id, name, value) VALUES ";
    for (size_t i = 0; i < n; ++i) {
      text += i ? ", " : "";
      text += "(CAST(? AS {int}), CAST(? AS TEXT), CAST(? AS {real}))";
    }
    Stmt insert(*db_, text);
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

std::vector<TrialRow> SqlStore::trials_from(int64_t experiment_id, int64_t first_number) {
  Transaction snapshot(*db_, sql::Connection::kRead);
  Stmt select(*db_, std::string("SELECT ") + kTrialColumns +
                        " FROM trials WHERE experiment_id = ? AND number >= ? ORDER BY number");
  select.bind_int(1, experiment_id).bind_int(2, first_number);
  std::vector<TrialRow> rows;
  std::unordered_map<int64_t, size_t> index;  // trial id -> position in rows
  while (select.step()) {
    rows.push_back(read_trial(select));
    index[rows.back().id] = rows.size() - 1;
  }
  Stmt metrics(*db_,
               "SELECT m.trial_id, m.name, m.value FROM trial_metrics m "
               "JOIN trials t ON t.id = m.trial_id WHERE t.experiment_id = ? AND t.number >= ?");
  metrics.bind_int(1, experiment_id).bind_int(2, first_number);
  while (metrics.step()) {
    rows[index.at(metrics.col_int(0))].metrics[metrics.col_text(1)] = metrics.col_real(2);
  }
  snapshot.commit();
  return rows;
}

std::optional<TrialRow> SqlStore::trial(int64_t experiment_id, int64_t number) {
  Transaction snapshot(*db_, sql::Connection::kRead);
  Stmt select(*db_, std::string("SELECT ") + kTrialColumns +
                        " FROM trials WHERE experiment_id = ? AND number = ?");
  select.bind_int(1, experiment_id).bind_int(2, number);
  if (!select.step()) return std::nullopt;
  TrialRow row = read_trial(select);
  Stmt metrics(*db_, "SELECT name, value FROM trial_metrics WHERE trial_id = ?");
  metrics.bind_int(1, row.id);
  while (metrics.step()) row.metrics[metrics.col_text(0)] = metrics.col_real(1);
  snapshot.commit();
  return row;
}

std::vector<IntermediateRow> SqlStore::intermediates_from(int64_t experiment_id,
                                                          int64_t first_number) {
  Stmt select(*db_,
              "SELECT t.number, i.step, i.name, i.value FROM trial_intermediate i "
              "JOIN trials t ON t.id = i.trial_id WHERE t.experiment_id = ? AND t.number >= ? "
              "ORDER BY t.number, i.step, i.name");
  select.bind_int(1, experiment_id).bind_int(2, first_number);
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
