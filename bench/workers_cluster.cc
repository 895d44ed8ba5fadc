// Workers on many processes, PostgreSQL and SQLite side by side:
//   1. trials claimed and finished per second by `sylva search` plus 0, 3 and
//      15 `sylva worker` processes (1, 4 and 16 processes, one slot each)
//      through the table evaluator, which answers in microseconds: what is
//      measured is the loop, the claims and the database;
//   2. time from a worker's death to its trial running again elsewhere (four
//      processes, three trials: one process is free to take it): a
//      worker killed with SIGKILL (its process is gone: seen by the next
//      heartbeat of a process on the same host) and a worker frozen with
//      SIGSTOP (a hung or unreachable host: seen when its heartbeat is
//      older than --heartbeat-timeout by the database's clock).
//
// usage: workers_cluster SYLVA TABLE [TRIALS=2000] [HEARTBEAT_TIMEOUT=6]
// It starts its own PostgreSQL server (as bench/run_all.sh's section 9 and
// the tests do). Timings only; nothing is asserted.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "experiments/store.h"
#include "tests/experiments/pg_server.h"

namespace {

using sylva::experiments::Store;
using Clock = std::chrono::steady_clock;

std::string sylva_binary, table;

pid_t spawn(const std::string& args) {
  std::vector<std::string> words;
  size_t at = 0;
  while (at < args.size()) {
    size_t end = args.find(' ', at);
    if (end == std::string::npos) end = args.size();
    if (end > at) words.push_back(args.substr(at, end - at));
    at = end + 1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> argv = {const_cast<char*>("sylva")};
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    execv(sylva_binary.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::unique_ptr<Store> open_when_ready(const std::string& db, int64_t* exp) {
  for (int i = 0; i < 3000; ++i) {
    auto s = Store::open(db);
    if (s.is_ok()) {
      auto e = s.value()->find_experiment("t");
      if (e.is_ok()) {
        *exp = e.value().id;
        return std::move(s).value();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fmt::print(stderr, "the experiment never appeared in {}\n", db);
  std::exit(1);
}

// 1. Throughput of `processes` processes on a fresh database.
void throughput(const std::string& backend, const std::string& db, int processes, int64_t trials) {
  const auto start = Clock::now();
  std::vector<pid_t> pids = {
      spawn(fmt::format("search --name t --db {} --evaluator table --table {} --metric "
                        "test_acc_mean --trials {} --threads-per-worker 1 --seed 3",
                        db, table, trials))};
  int64_t exp = 0;
  auto store = open_when_ready(db, &exp);
  const double ready = since(start);  // the coordinator's start: LibTorch's libraries load
  for (int i = 1; i < processes; ++i) {
    pids.push_back(spawn(fmt::format("worker --name t --db {} --threads-per-worker 1", db)));
  }
  int failed = 0;  // processes that did not exit 0 ("database is locked" would show here)
  for (pid_t p : pids) {
    int status = 0;
    waitpid(p, &status, 0);
    failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const double wall = since(start);
  auto rows = store->trials(exp);
  std::set<std::string> workers;
  int64_t finished = 0;
  for (const auto& t : rows) {
    workers.insert(t.worker);
    finished += sylva::evaluators::is_finished(t.state);
  }
  fmt::print(
      "{:<10} {:>2} process(es): {} trials finished in {:.2f} s, {:.0f} trials/s, {} processes "
      "evaluated, {} exited with an error; the experiment appeared after {:.2f} s\n",
      backend, processes, finished, wall, finished / wall, workers.size(), failed, ready);
}

// 2. Seconds from a worker's death (SIGKILL) or freeze (SIGSTOP) to its
// trial running again on another process.
void rerun_time(const std::string& backend, const std::string& db, int signal, double timeout) {
  std::vector<pid_t> pids = {spawn(fmt::format(
      "search --name t --db {} --evaluator table --table {} --metric test_acc_mean "
      "--stub-delay-ms 60000 --trials 3 --heartbeat-timeout {} --threads-per-worker 1 --seed 3",
      db, table, timeout))};
  int64_t exp = 0;
  auto store = open_when_ready(db, &exp);
  // Four processes for three trials: one is free to take the lost trial.
  for (int i = 0; i < 3; ++i) pids.push_back(spawn("worker --name t --db " + db));
  // A worker (not the search) holding a trial.
  int64_t number = -1;
  pid_t victim = 0;
  std::string label;
  while (number < 0) {
    for (const auto& w : store->workers(exp)) {
      if (w.pid != pids[0] && !w.running.empty()) {
        number = w.running.front();
        victim = static_cast<pid_t>(w.pid);
        label = w.label;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto start = Clock::now();
  kill(victim, signal);
  double seconds = -1;
  while (since(start) < 10 * timeout + 30) {
    auto t = store->trial(exp, number);
    if (t && t->state == sylva::evaluators::TrialState::kRunning && t->worker != label) {
      seconds = since(start);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  fmt::print("{:<10} {:<26} trial {} running again elsewhere after {:.2f} s\n", backend,
             signal == SIGKILL ? "SIGKILL (process gone)" : "SIGSTOP (hung, alive)", number,
             seconds);
  for (pid_t p : pids) {
    kill(p, SIGCONT);
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: workers_cluster SYLVA TABLE [TRIALS] [HEARTBEAT_TIMEOUT]\n");
    return 2;
  }
  sylva_binary = argv[1];
  table = argv[2];
  const int64_t trials = argc > 3 ? std::atoll(argv[3]) : 2000;
  const double timeout = argc > 4 ? std::atof(argv[4]) : 6;
  sylva::testing::PgServer pg;
  if (!pg.ok()) {
    fmt::print(stderr, "{}\n", pg.error());
    return 1;
  }
  char tmpl[] = "/tmp/sylva-bench-cluster-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  int files = 0;
  auto fresh = [&](const std::string& backend) {
    return backend == "postgresql" ? pg.create_database() : fmt::format("{}/s{}.db", dir, ++files);
  };
  fmt::print("## table evaluator, {} trials, one slot per process\n", trials);
  for (const std::string backend : {"sqlite", "postgresql"}) {
    for (int processes : {1, 4, 16}) throughput(backend, fresh(backend), processes, trials);
  }
  fmt::print("\n## worker death to rerun (--heartbeat-timeout {:g}, heartbeats every {:g} s)\n",
             timeout, timeout / 6);
  for (const std::string backend : {"sqlite", "postgresql"}) {
    for (int signal : {SIGKILL, SIGSTOP}) rerun_time(backend, fresh(backend), signal, timeout);
  }
  std::system(("rm -rf " + dir).c_str());
  return 0;
}
