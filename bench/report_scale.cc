// `sylva report` and `sylva dashboard` at scale (issue: "100,000 trials: the
// report is written in under 5 s and stays under 20 MB; the dashboard's data
// endpoints answer in under 200 ms; nothing is quadratic in trials").
//
// For each N, a database of one experiment as a table-evaluator search on
// nas-bench-macro with two objectives leaves it (the stored configuration of
// a real run; 3 workers of 2 slots; ~3% FAIL trials with their 'failed'
// event, a few 'requeued' ones; the last 6 trials still RUNNING), built with
// raw SQL in one transaction through the real schema. Then:
//   1. in process: Store::open read-only, load_experiment, report_model (and
//      its parts: experiment_views, trial_columns, comparison_view),
//      report_page and the page's size; best of 3;
//   2. `sylva report --db DB --out F`, wall time;
//   3. the dashboard: its refresher's first read (everything), a read after
//      one more trial finished (from the settled point, views recomputed)
//      and one with no change; then Dashboard::get (what the HTTP server
//      answers, without sockets, from the latest refresh): api/experiments,
//      api/views, api/trials from 0 and from the last number, api/comparison.
//
// usage: report_scale [SYLVA] [TRIALS ...] [--keep=DIR]   (default: sylva
// beside this binary; 1000 10000 100000; --keep: the databases and reports
// stay in DIR, to open). Timings only; nothing is asserted.
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "experiments/dashboard.h"
#include "experiments/html_report.h"
#include "experiments/store.h"
#include "experiments/views.h"

namespace {

namespace fs = std::filesystem;
using sylva::bench::best_of;
using sylva::bench::Clock;
using sylva::bench::seconds_since;
using sylva::experiments::Dashboard;
using sylva::experiments::ExperimentData;
using sylva::experiments::Store;

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double unit(uint64_t h) { return static_cast<double>(h >> 11) / 9007199254740992.0; }

// Milliseconds since 1970 as the store writes times.
std::string iso(int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

// The stored configuration of `sylva search --name e --space nas-bench-macro
// --evaluator table --table .../nas-bench-macro-cifar10.csv --metric
// test_acc_mean --objective test_acc_mean:max --objective params:min
// --trials 20 --workers 2 --seed 1`, with @TRIALS@ for --trials.
const char* kConfig = R"({"files":{"table":"939711:6520dab32b815502"},"init_text":"","options":{
"batch-size":"128","calibration-samples":"1000","classes":"10","command":"","crossover-prob":"",
"dataset":"","epochs":"1","eta":"3","evaluator":"table","fidelity":"none","gpus":"",
"heartbeat-timeout":"60","hparam":"","init":"","input-shape":"1,28,28","keep-weights":"3",
"kill-grace":"","lr":"0.05","max-epochs":"9","max-flops":"","max-latency-ms":"","max-nodes":"",
"max-params":"","max-retries":"3","metric":"test_acc_mean","min-epochs":"1","model-file":"",
"objective":"test_acc_mean:max,params:min","optimizer":"sgd","population":"","predictor":"",
"predictor-batch":"5","predictor-steps":"500","predictor-warmup":"10","prune":"none",
"prune-startup":"5","prune-warmup":"0","reject-after":"0","reject-below":"0","sample-size":"",
"seed":"1","space":"nas-bench-macro","strategy":"random","stub-delay-ms":"0",
"table":"/work/shared/benchmarks/nas-bench-macro-cifar10.csv","test-samples":"0",
"threads-per-worker":"0","train-samples":"0","trial-dir":"","trial-timeout":"0",
"trials":"@TRIALS@","trials-per-gpu":"","uct-c":"","val-samples":"5000","weight-decay":"-1",
"workers":"6"},"space_source":"# NAS-Bench-Macro (Su et al., CVPR 2021): 8 layers in stages of 2, 3 and 3;\n# the first layer of each stage halves the resolution and doubles the width.\n%builder chain\n%stem 32\n%stages 2 3 3\n%head 1280\nnet   -> layer layer layer layer layer layer layer layer\nlayer -> \"identity\" | \"mbconv_e3_k3\" | \"mbconv_e6_k5\"\n"})";

constexpr std::array<const char*, 3> kOps = {"identity", "mbconv_e3_k3", "mbconv_e6_k5"};
constexpr std::array<const char*, 3> kWorkers = {"vm:4101.1", "vm:4187.2", "gpu2:733.3"};
constexpr int kSlots = 2;                  // per worker
constexpr int kRunning = 6;                // the last trials, still running
constexpr int64_t kStart = 1796148000000;  // 2026-12-01T18:00:00.000Z
const std::array<std::string, 6> kMetricNames = {
    "flops", "params", "test_acc_mean", "test_acc_seed0", "test_acc_seed1", "test_acc_seed2"};

struct Arch {
  std::string key, canonical, hash;
  double params = 0, flops = 0, quality = 0;
};

// Candidate `index` of the 3^8 of nas-bench-macro, with made-up but
// consistent costs (stage widths 2, 3, 3 layers) and a quality in [0, 1].
Arch arch_of(int index) {
  Arch a;
  a.canonical = "[net";
  double params = 1.2e6, flops = 3.0e7, quality = 0;
  for (int layer = 0, rest = index; layer < 8; ++layer, rest /= 3) {
    const int op = rest % 3;
    if (layer) a.key += '/';
    a.key += kOps[op];
    a.canonical += fmt::format(" [layer {}]", kOps[op]);
    const double width = layer < 2 ? 1 : layer < 5 ? 2 : 4;
    params += op * op * 9e3 * width * width;
    flops += op * op * 1.5e6 * (layer < 2 ? 4 : layer < 5 ? 2 : 1);
    quality += op * (0.6 + 0.1 * layer) / 2;
  }
  a.canonical += "]";
  a.hash = fmt::format("{:016x}", mix(static_cast<uint64_t>(index) + 17));
  a.params = params;
  a.flops = flops;
  a.quality = quality / 6.2;
  return a;
}

struct Sql {
  sqlite3* db = nullptr;
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      fmt::print(stderr, "sql: {}: {}\n", sql.substr(0, 80), err ? err : "?");
      std::exit(1);
    }
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
      fmt::print(stderr, "prepare: {}\n", sqlite3_errmsg(db));
      std::exit(1);
    }
    return s;
  }
  void step(sqlite3_stmt* s) {
    if (sqlite3_step(s) != SQLITE_DONE) {
      fmt::print(stderr, "step: {}\n", sqlite3_errmsg(db));
      std::exit(1);
    }
    sqlite3_reset(s);
  }
};

void text(sqlite3_stmt* s, int i, const std::string& t) {
  sqlite3_bind_text(s, i, t.c_str(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
}

// The metrics a table-evaluator trial of `a` records.
std::vector<double> metrics_of(const Arch& a, uint64_t h) {
  const double mean = 88.0 + 5.0 * a.quality + 1.5 * (unit(h) - 0.5);
  std::vector<double> m = {a.flops, a.params, mean};
  for (int s = 0; s < 3; ++s) m.push_back(mean + 0.4 * (unit(mix(h + s)) - 0.5));
  return m;
}

void insert_metrics(Sql& sql, sqlite3_stmt* metric, int64_t trial_id,
                    const std::vector<double>& m) {
  for (size_t k = 0; k < m.size(); ++k) {
    sqlite3_bind_int64(metric, 1, trial_id);
    text(metric, 2, kMetricNames[k]);
    sqlite3_bind_double(metric, 3, m[k]);
    sql.step(metric);
  }
}

struct Built {
  int64_t failed = 0, requeued = 0;
  int64_t last_ms = 0;  // the latest time written
};

// The experiment "e" of `trials` trials in `db`.
Built build(const std::string& db, int64_t trials) {
  Built b;
  int64_t experiment = 0;
  {
    auto store = Store::open(db);
    if (!store.is_ok()) {
      fmt::print(stderr, "{}\n", store.status().message());
      std::exit(1);
    }
    std::string config = kConfig;
    config.replace(config.find("@TRIALS@"), 8, std::to_string(trials));
    auto id = store.value()->create_experiment("e", config);
    if (!id.is_ok()) {
      fmt::print(stderr, "{}\n", id.status().message());
      std::exit(1);
    }
    experiment = id.value();
  }
  Sql sql;
  sqlite3_open(db.c_str(), &sql.db);
  sql.exec("BEGIN");
  sqlite3_stmt* trial = sql.prepare(
      "INSERT INTO trials(id, experiment_id, number, state, arch_hash, arch_key, arch_canonical, "
      "seed, worker, message, created_at, started_at, finished_at, retries, charged) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  sqlite3_stmt* metric =
      sql.prepare("INSERT INTO trial_metrics(trial_id, name, value) VALUES (?, ?, ?)");
  sqlite3_stmt* beat = sql.prepare("INSERT INTO trial_heartbeats(trial_id, at) VALUES (?, ?)");
  sqlite3_stmt* event =
      sql.prepare("INSERT INTO trial_events(trial_id, at, event, message) VALUES (?, ?, ?, ?)");
  std::vector<Arch> archs(6561);
  for (int i = 0; i < 6561; ++i) archs[i] = arch_of(i);
  std::array<int64_t, kWorkers.size() * kSlots> slot_free{};
  slot_free.fill(kStart);
  for (int64_t n = 0; n < trials; ++n) {
    const uint64_t h = mix(static_cast<uint64_t>(n));
    const Arch& a = archs[h % archs.size()];
    // The slot free first takes the next trial; 40 to 200 ms each.
    const size_t slot = std::min_element(slot_free.begin(), slot_free.end()) - slot_free.begin();
    const int64_t started = slot_free[slot] + 1;
    const int64_t finished = started + 40 + static_cast<int64_t>(mix(h + 1) % 160);
    slot_free[slot] = finished;
    const bool running = n >= trials - kRunning;
    const bool failed = !running && mix(h + 2) % 100 < 3;
    const bool requeued = !running && !failed && mix(h + 3) % 1000 < 3;
    const std::string worker = kWorkers[slot / kSlots];
    const int64_t id = n + 1;
    sqlite3_bind_int64(trial, 1, id);
    sqlite3_bind_int64(trial, 2, experiment);
    sqlite3_bind_int64(trial, 3, n);
    text(trial, 4, running ? "RUNNING" : failed ? "FAIL" : "COMPLETE");
    text(trial, 5, a.hash);
    text(trial, 6, a.key);
    text(trial, 7, a.canonical);
    sqlite3_bind_int64(trial, 8, static_cast<int64_t>(mix(h + 4) >> 1));
    text(trial, 9, worker);
    const std::string message =
        failed ? fmt::format("table: no row for key '{}' in nas-bench-macro-cifar10.csv", a.key)
               : "";
    text(trial, 10, message);
    text(trial, 11, iso(started - 1));
    text(trial, 12, iso(started));
    if (running) {
      sqlite3_bind_null(trial, 13);
    } else {
      text(trial, 13, iso(finished));
    }
    sqlite3_bind_int(trial, 14, requeued ? 1 : 0);
    sqlite3_bind_int(trial, 15, 0);
    sql.step(trial);
    if (!running && !failed) insert_metrics(sql, metric, id, metrics_of(a, h));
    sqlite3_bind_int64(beat, 1, id);
    text(beat, 2, iso(running ? started : finished));
    sql.step(beat);
    if (failed) {
      sqlite3_bind_int64(event, 1, id);
      text(event, 2, iso(finished));
      text(event, 3, "failed");
      text(event, 4, message);
      sql.step(event);
      ++b.failed;
    }
    if (requeued) {
      const std::string lost = kWorkers[(slot / kSlots + 1) % kWorkers.size()];
      sqlite3_bind_int64(event, 1, id);
      text(event, 2, iso(started - 1));
      text(event, 3, "requeued");
      text(event, 4,
           fmt::format("worker {} lost (no heartbeat for 60 s); re-queued (1 of 3 used)", lost));
      sql.step(event);
      ++b.requeued;
    }
    b.last_ms = std::max(b.last_ms, running ? started : finished);
  }
  for (size_t w = 0; w < kWorkers.size(); ++w) {
    const std::string label = kWorkers[w];
    const std::string host = label.substr(0, label.find(':'));
    const std::string pid =
        label.substr(label.find(':') + 1, label.find('.') - label.find(':') - 1);
    sql.exec(fmt::format(
        "INSERT INTO workers(id, experiment_id, label, host, pid, slots, machine, state, "
        "started_at, seen_at) VALUES ({}, {}, '{}', '{}', {}, {}, 'boot-{}/4026531836', 'ACTIVE', "
        "'{}', '{}')",
        w + 1, experiment, label, host, pid, kSlots, host, iso(kStart), iso(b.last_ms)));
  }
  sqlite3_finalize(trial);
  sqlite3_finalize(metric);
  sqlite3_finalize(beat);
  sqlite3_finalize(event);
  sql.exec("COMMIT");
  sql.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close(sql.db);
  return b;
}

// Finishes trial `number` (RUNNING) as its worker would, by raw SQL.
void finish(const std::string& db, int64_t number, int64_t at_ms) {
  Sql sql;
  sqlite3_open(db.c_str(), &sql.db);
  sqlite3_busy_timeout(sql.db, 5000);
  sql.exec("BEGIN IMMEDIATE");
  const int64_t id = number + 1;
  sql.exec(fmt::format("UPDATE trials SET state = 'COMPLETE', finished_at = '{}' WHERE id = {}",
                       iso(at_ms), id));
  sqlite3_stmt* metric =
      sql.prepare("INSERT INTO trial_metrics(trial_id, name, value) VALUES (?, ?, ?)");
  const uint64_t h = mix(static_cast<uint64_t>(number));
  insert_metrics(sql, metric, id, metrics_of(arch_of(static_cast<int>(h % 6561)), h));
  sqlite3_finalize(metric);
  sql.exec(
      fmt::format("UPDATE trial_heartbeats SET at = '{}' WHERE trial_id = {}", iso(at_ms), id));
  sql.exec("COMMIT");
  sqlite3_close(sql.db);
}

double ms(double s) { return s * 1e3; }

void run(const std::string& sylva, const fs::path& dir, int64_t trials, bool keep) {
  const std::string db = (dir / fmt::format("r{}.db", trials)).string();
  fs::remove(db);
  const auto t0 = Clock::now();
  const Built built = build(db, trials);
  fmt::print("\n## report at {} trials\n", trials);
  fmt::print("database: {:.1f} MB, built in {:.1f} s ({} FAIL, {} re-queued, {} RUNNING)\n",
             static_cast<double>(fs::file_size(db)) / 1e6, seconds_since(t0), built.failed,
             built.requeued, kRunning);

  // 1. In process.
  const int runs = 3;
  const double open =
      best_of(runs, [&] { (void)Store::open(db, Store::Access::kReadOnly).value(); });
  auto store = Store::open(db, Store::Access::kReadOnly).value();
  const auto row = store->find_experiment("e").value();
  ExperimentData data;
  const double load =
      best_of(runs, [&] { data = sylva::experiments::load_experiment(*store, row).value(); });
  const std::vector<const ExperimentData*> all = {&data};
  nlohmann::json model;
  const double model_s = best_of(runs, [&] { model = sylva::experiments::report_model(all, db); });
  const double views_s = best_of(runs, [&] { (void)sylva::experiments::experiment_views(data); });
  const double columns_s = best_of(runs, [&] { (void)sylva::experiments::trial_columns(data); });
  const double comparison_s =
      best_of(runs, [&] { (void)sylva::experiments::comparison_view(all); });
  std::string page;
  const double page_s = best_of(runs, [&] { page = sylva::experiments::report_page(model); });
  const double mb = static_cast<double>(page.size()) / 1e6;

  // 2. The command.
  const std::string out = (dir / fmt::format("r{}.html", trials)).string();
  const std::string cmd =
      fmt::format("'{}' report --db '{}' --out '{}' > '{}.log' 2>&1", sylva, db, out, out);
  double wall = 1e9;
  for (int i = 0; i < (trials >= 100000 ? 1 : runs); ++i) {
    const auto t = Clock::now();
    if (std::system(cmd.c_str()) != 0) {
      fmt::print(stderr, "failed: {} (see {}.log)\n", cmd, out);
      std::exit(1);
    }
    wall = std::min(wall, seconds_since(t));
  }
  fmt::print(
      "load {:.3f} s (+ Store::open read-only {:.3f} s), model {:.3f} s, page {:.3f} s, "
      "{:.1f} MB; sylva report {:.2f} s wall ({:.1f} MB)\n",
      load, open, model_s, page_s, mb, wall, static_cast<double>(fs::file_size(out)) / 1e6);
  std::string parts;
  const nlohmann::json& e = model["experiments"][0];
  for (auto it = e.begin(); it != e.end(); ++it) {
    const double part = static_cast<double>(it.value().dump().size()) / 1e6;
    if (part >= 0.05)
      parts += fmt::format("{}{} {:.2f}", parts.empty() ? "" : ", ", it.key(), part);
  }
  fmt::print(
      "model parts: experiment_views {:.3f} s, trial_columns {:.3f} s, comparison_view "
      "{:.3f} s; MB: {}\n",
      views_s, columns_s, comparison_s, parts);

  // 3. The dashboard.
  sylva::experiments::DashboardOptions options;
  options.database = db;
  options.port = 0;
  const auto topen = Clock::now();
  auto dash = Dashboard::open(options).value();
  const double dash_open = seconds_since(topen);
  auto timed = [&](const std::string& path, const std::string& name, int64_t from,
                   size_t* bytes = nullptr) {
    const auto t = Clock::now();
    Dashboard::Reply r = dash->get(path, name, from);
    const double s = seconds_since(t);
    if (r.status != 200) {
      fmt::print(stderr, "{} {}: {} {}\n", path, name, r.status, r.body.substr(0, 200));
      std::exit(1);
    }
    if (bytes) *bytes = r.body.size();
    return s;
  };
  // The server's refresher: the first read (everything), a read after one
  // more trial finished (from the settled point, views recomputed), a read
  // when nothing changed (the counts only).
  auto refreshed = [&] {
    const auto t = Clock::now();
    const auto status = dash->refresh();
    if (!status.is_ok()) {
      fmt::print(stderr, "refresh: {}\n", status.message());
      std::exit(1);
    }
    return seconds_since(t);
  };
  const double cold = refreshed();
  double warm = 1e9;
  int64_t next = trials - kRunning;
  for (int i = 0; i < runs; ++i, ++next) {
    finish(db, next, built.last_ms + 100 * (i + 1));
    warm = std::min(warm, refreshed());
  }
  double unchanged = 1e9;
  for (int i = 0; i < runs; ++i) unchanged = std::min(unchanged, refreshed());
  // The requests, answered from the latest refresh.
  double experiments_s = 1e9, views_s2 = 1e9;
  size_t views_bytes = 0, trials_bytes = 0, tail_bytes = 0, comparison_bytes = 0;
  double from0 = 1e9, from_last = 1e9, comparison = 1e9;
  for (int i = 0; i < runs; ++i) {
    experiments_s = std::min(experiments_s, timed("/api/experiments", "", 0));
    views_s2 = std::min(views_s2, timed("/api/views", "e", 0, &views_bytes));
    from0 = std::min(from0, timed("/api/trials", "e", 0, &trials_bytes));
    from_last = std::min(from_last, timed("/api/trials", "e", trials - 1, &tail_bytes));
    comparison = std::min(comparison, timed("/api/comparison", "", 0, &comparison_bytes));
  }
  fmt::print(
      "dashboard refresh ({} trials, open {:.0f} ms): first {:.0f} ms, after a trial finished "
      "{:.0f} ms, unchanged {:.1f} ms\n",
      trials, ms(dash_open), ms(cold), ms(warm), ms(unchanged));
  fmt::print(
      "dashboard requests: experiments {:.2f} ms, views {:.2f} ms ({:.2f} MB), trials from 0 "
      "{:.2f} ms ({:.2f} MB) / from {} {:.2f} ms ({} B), comparison {:.2f} ms ({} B)\n",
      ms(experiments_s), ms(views_s2), views_bytes / 1e6, ms(from0), trials_bytes / 1e6, trials - 1,
      ms(from_last), tail_bytes, ms(comparison), comparison_bytes);
  if (keep) return;
  fs::remove(db);
  fs::remove(out);
  fs::remove(out + ".log");
}

}  // namespace

int main(int argc, char** argv) {
  std::string sylva = (fs::read_symlink("/proc/self/exe").parent_path() / "sylva").string();
  std::vector<int64_t> sizes;
  std::string keep;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--keep=", 0) == 0) {
      keep = a.substr(7);
    } else if (!a.empty() && std::all_of(a.begin(), a.end(), ::isdigit)) {
      sizes.push_back(std::atoll(a.c_str()));
    } else {
      sylva = a;
    }
  }
  if (sizes.empty()) sizes = {1000, 10000, 100000};
  if (!fs::exists(sylva)) {
    fmt::print(stderr, "report_scale: no sylva at '{}' (give its path first)\n", sylva);
    return 1;
  }
  const fs::path dir =
      keep.empty() ? fs::temp_directory_path() / fmt::format("sylva-report-scale-{}", getpid())
                   : fs::path(keep);
  if (keep.empty()) fs::remove_all(dir);
  fs::create_directories(dir);
  for (int64_t n : sizes) run(sylva, dir, std::max<int64_t>(n, kRunning + 4), !keep.empty());
  if (keep.empty()) fs::remove_all(dir);
  return 0;
}
