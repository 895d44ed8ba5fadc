// The cost of the integrity check on open (PRAGMA quick_check, issue list
// "Nothing slips through", 7): an SQLite database of N finished trials, each
// with its metrics, a heartbeat, an event and intermediate values, as a table
// search leaves it; then Store::open (read-write and read-only, both with the
// check) against the check alone, best of 5, from the page cache.
//
// usage: open_check [TRIALS=100000]
// Timings only; nothing is asserted.
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench/timing.h"
#include "experiments/store.h"

namespace {

namespace fs = std::filesystem;
using sylva::bench::best_of;
using sylva::bench::Clock;
using sylva::bench::seconds_since;
using sylva::experiments::Store;

}  // namespace

int main(int argc, char** argv) {
  const int64_t trials = argc > 1 ? std::atoll(argv[1]) : 100000;
  const fs::path dir = fs::temp_directory_path() / "sylva-open-check";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = (dir / "check.db").string();
  {
    // Built with raw SQL inside one transaction (the Store's one transaction
    // per state change would take minutes here); the same schema.
    auto store = Store::open(db);
    if (!store.is_ok()) {
      fmt::print(stderr, "{}\n", store.status().message());
      return 1;
    }
    store.value()->create_experiment("e", "{}").value();
  }
  sqlite3* raw = nullptr;
  sqlite3_open(db.c_str(), &raw);
  sqlite3_exec(raw, "BEGIN", nullptr, nullptr, nullptr);
  const std::string fill = fmt::format(
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {0}) "
      "INSERT INTO trials(experiment_id, number, state, arch_hash, arch_key, arch_canonical, "
      "seed, worker, started_at, finished_at) SELECT 1, i, 'COMPLETE', printf('%016x', i * "
      "2654435761), 'mbconv_e3_k3/identity/mbconv_e6_k5/mbconv_e3_k3/mbconv_e6_k5/' || i, "
      "'[net [layer mbconv_e3_k3] [layer identity] [layer mbconv_e6_k5] ' || i || ']', i, "
      "'host:1.1', '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:01.000Z' FROM n;"
      "INSERT INTO trial_metrics(trial_id, name, value) SELECT id, 'test_acc_mean', 90 + "
      "(id % 100) / 50.0 FROM trials;"
      "INSERT INTO trial_metrics(trial_id, name, value) SELECT id, 'params', 1500000 + id FROM "
      "trials;"
      "INSERT INTO trial_metrics(trial_id, name, value) SELECT id, 'flops', 50000000 + id FROM "
      "trials;"
      "INSERT INTO trial_intermediate(trial_id, step, name, value) SELECT id, 1, 'val_acc', 80 "
      "FROM trials;"
      "INSERT INTO trial_heartbeats(trial_id, at) SELECT id, finished_at FROM trials;"
      "INSERT INTO trial_events(trial_id, event, message) SELECT id, 'finished', '' FROM trials;",
      trials - 1);
  char* err = nullptr;
  if (sqlite3_exec(raw, fill.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    fmt::print(stderr, "fill: {}\n", err ? err : "?");
    return 1;
  }
  sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  const double check = best_of(5, [&] {
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(raw, "PRAGMA quick_check(1)", -1, &q, nullptr);
    sqlite3_step(q);
    sqlite3_finalize(q);
  });
  sqlite3_close(raw);
  const double open_rw = best_of(5, [&] { (void)Store::open(db).value(); });
  const double open_ro =
      best_of(5, [&] { (void)Store::open(db, Store::Access::kReadOnly).value(); });
  fmt::print("## integrity check on open: {} trials, {:.1f} MB database\n", trials,
             static_cast<double>(fs::file_size(db)) / 1e6);
  fmt::print("PRAGMA quick_check alone  {:8.1f} ms\n", check * 1e3);
  fmt::print("Store::open read-write    {:8.1f} ms (check included)\n", open_rw * 1e3);
  fmt::print("Store::open read-only     {:8.1f} ms (check included)\n", open_ro * 1e3);
  fs::remove_all(dir);
  return 0;
}
