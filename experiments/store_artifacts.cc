// Store: artifacts (see store.h). Bytes are BLOBs, one per (trial, kind).
#include "experiments/store.h"
#include "experiments/store_sql.h"

namespace sylva::experiments {

using sql::Stmt;
using sql::Transaction;

void SqlStore::put_artifact(int64_t trial_id, const std::string& kind, const std::string& bytes) {
  Transaction txn(*db_);
  Stmt upsert(*db_,
              "INSERT INTO artifacts(trial_id, kind, bytes) VALUES (?, ?, ?) "
              "ON CONFLICT(trial_id, kind) DO UPDATE SET bytes = excluded.bytes, "
              "created_at = {now}");
  upsert.bind_int(1, trial_id).bind_text(2, kind).bind_blob(3, bytes).run();
  txn.commit();
}

void SqlStore::delete_artifact(int64_t trial_id, const std::string& kind) {
  Transaction txn(*db_);
  Stmt del(*db_, "DELETE FROM artifacts WHERE trial_id = ? AND kind = ?");
  del.bind_int(1, trial_id).bind_text(2, kind).run();
  txn.commit();
}

std::optional<std::string> SqlStore::artifact(int64_t trial_id, const std::string& kind) {
  Stmt select(*db_, "SELECT bytes FROM artifacts WHERE trial_id = ? AND kind = ?");
  if (!select.bind_int(1, trial_id).bind_text(2, kind).step()) return std::nullopt;
  return select.col_blob(0);
}

std::vector<int64_t> SqlStore::trials_with_artifact(int64_t experiment_id,
                                                    const std::string& kind) {
  Stmt select(*db_,
              "SELECT a.trial_id FROM artifacts a JOIN trials t ON t.id = a.trial_id "
              "WHERE t.experiment_id = ? AND a.kind = ? ORDER BY t.number");
  select.bind_int(1, experiment_id).bind_text(2, kind);
  std::vector<int64_t> ids;
  while (select.step()) ids.push_back(select.col_int(0));
  return ids;
}

}  // namespace sylva::experiments
