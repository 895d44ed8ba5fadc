// Several processes on one experiment: `sylva search` plus three `sylva
// worker` processes on PostgreSQL (a private server) and on an SQLite file.
// One worker is killed with SIGKILL while it holds a trial, and the
// coordinator once; the experiment still finishes with exactly its budget of
// finished trials, each architecture evaluated once, nothing lost.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "experiments/run_options.h"
#include "experiments/store.h"
#include "tests/cli/small_grammar.h"
#include "tests/experiments/pg_server.h"

namespace sylva {
namespace {

using experiments::Store;
using experiments::TrialRow;
using experiments::WorkerRow;

const std::string kSylva = SYLVA_BINARY;
const std::string kTable =
    std::string(SYLVA_SOURCE_DIR) + "/../shared/benchmarks/nas-bench-macro-cifar10.csv";

using testing::kSmallGrammar;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// stdout of a shell command.
std::string capture(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  pclose(p);
  return out;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sylva-cluster-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    for (const auto& [pid, log] : procs_) kill(pid, SIGKILL);
    for (const auto& [pid, log] : procs_) waitpid(pid, nullptr, 0);
    std::system(("rm -rf " + dir_).c_str());
  }

  // Starts sylva with `args` (split on spaces); output to dir_/LOG.
  pid_t spawn(const std::string& args, const std::string& log) {
    std::vector<std::string> words;
    std::istringstream in(args);
    for (std::string w; in >> w;) words.push_back(w);
    const std::string path = dir_ + "/" + log;
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv = {const_cast<char*>("sylva")};
      for (auto& w : words) argv.push_back(w.data());
      argv.push_back(nullptr);
      execv(kSylva.c_str(), argv.data());
      _exit(127);
    }
    procs_[pid] = path;
    return pid;
  }

  // Waits up to `seconds` for `ready()`, checking every 20 ms.
  static bool wait_for(const std::function<bool()>& ready, double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  void kill_and_reap(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    procs_.erase(pid);
  }

  // Waits for every process still running; each must exit 0.
  void expect_all_exit_cleanly(double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!procs_.empty() && std::chrono::steady_clock::now() < end) {
      for (auto it = procs_.begin(); it != procs_.end();) {
        int status = 0;
        if (waitpid(it->first, &status, WNOHANG) == it->first) {
          EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ":\n"
                                                                     << slurp(it->second);
          it = procs_.erase(it);
        } else {
          ++it;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (const auto& [pid, log] : procs_) ADD_FAILURE() << "still running:\n" << slurp(log);
  }

  // Runs `search ARGS` plus three workers on `db`; kills one worker while it
  // holds a trial and then the coordinator; checks the finished experiment.
  // `finished_well` says whether a trial ended as it should (COMPLETE
  // unless told otherwise).
  void run_with_kills(const std::string& db, const std::string& search_args, int64_t budget,
                      const std::function<bool(const TrialRow&)>& finished_well = nullptr) {
    pid_t search = spawn("search --name c --db " + db + " " + search_args, "search.log");
    std::unique_ptr<Store> store;
    int64_t exp = 0;
    ASSERT_TRUE(wait_for(
        [&] {
          if (!store) {
            auto s = Store::open(db);
            if (!s.is_ok()) return false;
            store = std::move(s).value();
          }
          auto e = store->find_experiment("c");
          if (e.is_ok()) exp = e.value().id;
          return e.is_ok();
        },
        60))
        << slurp(dir_ + "/search.log");
    std::vector<pid_t> workers;
    for (int i = 0; i < 3; ++i) {
      workers.push_back(spawn("worker --name c --db " + db, "worker" + std::to_string(i) + ".log"));
    }

    // Kill the first worker seen holding a trial with SIGKILL.
    std::vector<int64_t> held;
    std::string victim;
    pid_t victim_pid = 0;
    ASSERT_TRUE(wait_for(
        [&] {
          for (const WorkerRow& w : store->workers(exp)) {
            if (w.pid == search || w.running.empty()) continue;
            victim_pid = static_cast<pid_t>(w.pid);
            kill_and_reap(victim_pid);
            held = w.running;
            victim = w.label;
            return true;
          }
          return false;
        },
        60));
    // Then the coordinator, whichever process it is, before the end.
    pid_t coordinator = 0;
    ASSERT_TRUE(wait_for(
        [&] {
          for (const WorkerRow& w : store->workers(exp)) {
            if (w.leader && w.state == "ACTIVE" && w.pid != victim_pid) coordinator = w.pid;
          }
          return coordinator != 0;
        },
        30));
    const auto counts = store->counts(exp, 60);
    EXPECT_LT(counts.finished, budget) << "the experiment ended before the coordinator was killed";
    kill_and_reap(coordinator);

    expect_all_exit_cleanly(240);

    std::vector<TrialRow> trials = store->trials(exp);
    ASSERT_EQ(static_cast<int64_t>(trials.size()), budget);
    std::set<std::string> hashes;
    for (size_t i = 0; i < trials.size(); ++i) {
      const TrialRow& t = trials[i];
      EXPECT_EQ(t.number, static_cast<int64_t>(i));
      if (finished_well) {
        EXPECT_TRUE(finished_well(t)) << t.number << ": " << t.message;
      } else {
        EXPECT_EQ(t.state, evaluators::TrialState::kComplete) << t.number << ": " << t.message;
      }
      EXPECT_NE(t.worker, victim) << "trial " << t.number;
      hashes.insert(t.arch_hash);
    }
    EXPECT_EQ(hashes.size(), trials.size()) << "an architecture was evaluated twice";
    // What the killed worker held ran again elsewhere, once.
    ASSERT_FALSE(held.empty());
    for (int64_t n : held) {
      EXPECT_GE(trials[n].retries, 1) << "trial " << n;
      EXPECT_LE(trials[n].retries, 2) << "trial " << n;
    }
    int64_t retried = 0;
    for (const TrialRow& t : trials) retried += t.retries;
    // The killed coordinator may have held a trial too.
    EXPECT_LE(retried, static_cast<int64_t>(held.size()) + 1);
    // Every process but the two killed left the registry cleanly.
    int exited = 0, lost = 0;
    for (const WorkerRow& w : store->workers(exp)) {
      exited += w.state == "EXITED";
      lost += w.state == "LOST";
      EXPECT_TRUE(w.running.empty());
    }
    EXPECT_EQ(exited, 2);
    EXPECT_EQ(lost, 2);
    EXPECT_EQ(store->counts(exp, 60).closed, "budget");
    // `sylva status` lists the worker processes.
    const std::string status = capture(kSylva + " status --name c --db '" + db + "'");
    EXPECT_NE(status.find("workers:\nworker "), std::string::npos) << status;
    EXPECT_NE(status.find(victim), std::string::npos) << status;
    EXPECT_NE(status.find(" LOST "), std::string::npos) << status;
    EXPECT_NE(status.find(" EXITED "), std::string::npos) << status;
  }

  std::string dir_;
  std::map<pid_t, std::string> procs_;  // running children and their logs
};

TEST_F(ClusterTest, TableSearchOnPostgresSurvivesAKilledWorkerAndCoordinator) {
  testing::PgServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  const std::string url = pg.create_database();
  ASSERT_FALSE(url.empty());
  run_with_kills(url,
                 "--evaluator table --table " + kTable +
                     " --metric test_acc_mean --stub-delay-ms 150 --trials 40"
                     " --heartbeat-timeout 3 --seed 5",
                 40);
  // Each trial's value is the table's.
  auto store = Store::open(url).value();
  const int64_t exp = store->find_experiment("c").value().id;
  std::map<std::string, std::string> table;
  std::istringstream rows(slurp(kTable));
  for (std::string line; std::getline(rows, line);) {
    const size_t comma = line.find(',');
    table[line.substr(0, comma)] = line.substr(comma + 1, line.find(',', comma + 1) - comma - 1);
  }
  for (const TrialRow& t : store->trials(exp)) {
    EXPECT_DOUBLE_EQ(t.metrics.at("test_acc_mean"), std::stod(table.at(t.arch_key)));
  }
}

TEST_F(ClusterTest, TrainedSearchOnPostgresSurvivesAKilledWorkerAndCoordinator) {
  testing::PgServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  const std::string url = pg.create_database();
  ASSERT_FALSE(url.empty());
  std::ofstream(dir_ + "/small.grammar") << kSmallGrammar;
  run_with_kills(url,
                 "--space " + dir_ +
                     "/small.grammar --evaluator train --epochs 1 --train-samples 3072"
                     " --val-samples 256 --test-samples 256 --batch-size 32"
                     " --threads-per-worker 1 --trials 8 --heartbeat-timeout 5 --seed 2",
                 8);
  // Really trained: ten classes, chance is 10%.
  auto store = Store::open(url).value();
  for (const TrialRow& t : store->trials(store->find_experiment("c").value().id)) {
    EXPECT_GT(t.metrics.at("val_acc"), 40.0) << t.arch_key;
  }
}

// Successive halving across processes: `search` and three workers share the
// rungs through the database; a worker and the coordinator are killed. Each
// trial ends at a rung's budget (COMPLETE at the top, PRUNED below), with a
// result at every rung it reached and one promotion into each, the best
// third of every rung promoted. (Which early leaders are promoted besides
// depends on the order results arrive, so the set is not one process's.)
TEST_F(ClusterTest, SuccessiveHalvingRunsOnManyWorkersAndSurvivesKills) {
  const std::string db = dir_ + "/h.db";
  auto at_a_rung = [](const TrialRow& t) {
    auto e = t.metrics.find("epochs");
    if (e == t.metrics.end()) return false;
    const bool top = e->second == 9;
    return (e->second == 1 || e->second == 3 || top) &&
           t.state == (top ? evaluators::TrialState::kComplete : evaluators::TrialState::kPruned);
  };
  run_with_kills(db,
                 "--evaluator stub --stub-delay-ms 150 --fidelity epochs --min-epochs 1 "
                 "--max-epochs 9 --eta 3 --trials 27 --heartbeat-timeout 3 --seed 8",
                 27, at_a_rung);
  auto store = Store::open(db).value();
  const int64_t exp = store->find_experiment("c").value().id;
  std::map<int64_t, std::set<int>> rungs;  // number -> epochs with a result
  for (const auto& v : store->intermediates(exp)) {
    if (v.name == experiments::kRungValue) rungs[v.trial_number].insert(v.step);
  }
  std::map<int64_t, std::vector<std::string>> promotions;
  for (const auto& e : store->events(exp)) {
    if (e.event == "promoted") promotions[e.trial_number].push_back(e.message);
  }
  // The stub's curve acc(e) = a (1 - 0.5 / e) keeps the architectures'
  // order: every rung ranks them by a.
  std::vector<std::pair<double, int>> by_a;  // (a, epochs reached)
  for (const TrialRow& t : store->trials(exp)) {
    const int epochs = static_cast<int>(t.metrics.at("epochs"));
    std::set<int> reached;
    std::vector<std::string> moves;
    for (int e : {1, 3, 9}) {
      if (e > epochs) break;
      reached.insert(e);
      if (e > 1) moves.push_back("to " + std::to_string(e) + " epochs");
    }
    EXPECT_EQ(rungs[t.number], reached) << t.number;
    EXPECT_EQ(promotions[t.number], moves) << t.number;
    by_a.push_back({t.metrics.at("val_acc") / (1 - 0.5 / epochs), epochs});
  }
  std::sort(by_a.rbegin(), by_a.rend());
  int second = 0;
  for (size_t i = 0; i < by_a.size(); ++i) {
    if (i < 9) {
      EXPECT_GE(by_a[i].second, 3) << "rank " << i;
    }
    second += by_a[i].second >= 3;
  }
  int seen = 0;
  for (const auto& [a, epochs] : by_a) {
    if (epochs >= 3 && seen++ < second / 3) {
      EXPECT_EQ(epochs, 9) << a;
    }
  }
}

TEST_F(ClusterTest, TableSearchOnSqliteSurvivesAKilledWorkerAndCoordinator) {
  run_with_kills(dir_ + "/s.db",
                 "--evaluator table --table " + kTable +
                     " --metric test_acc_mean --stub-delay-ms 150 --trials 40"
                     " --heartbeat-timeout 3 --seed 5",
                 40);
}

// A coordinator that hangs (SIGSTOP: alive, its PostgreSQL connection and
// advisory lock kept) loses the lease when it expires; the workers finish
// the budget; woken, it steps down and its late result is discarded.
TEST_F(ClusterTest, AHungCoordinatorIsReplacedAndStepsDownWhenItWakes) {
  testing::PgServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  const std::string db = pg.create_database();
  ASSERT_FALSE(db.empty());
  const pid_t search =
      spawn("search --name c --db " + db + " --evaluator table --table " + kTable +
                " --metric test_acc_mean --stub-delay-ms 200 --trials 30 --heartbeat-timeout 2"
                " --seed 8",
            "search.log");
  std::unique_ptr<Store> store;
  int64_t exp = 0;
  ASSERT_TRUE(wait_for(
      [&] {
        auto s = Store::open(db);
        if (!s.is_ok() || !s.value()->find_experiment("c").is_ok()) return false;
        exp = s.value()->find_experiment("c").value().id;
        store = std::move(s).value();
        return true;
      },
      30));
  spawn("worker --name c --db " + db, "w0.log");
  spawn("worker --name c --db " + db, "w1.log");
  // Freeze the search while it coordinates and holds a trial.
  ASSERT_TRUE(wait_for(
      [&] {
        for (const WorkerRow& w : store->workers(exp)) {
          if (w.pid == search && w.leader && !w.running.empty()) return true;
        }
        return false;
      },
      30));
  kill(search, SIGSTOP);
  // Another process takes over and the workers finish the budget.
  ASSERT_TRUE(wait_for([&] { return store->counts(exp, 60).closed == "budget"; }, 120));
  kill(search, SIGCONT);
  expect_all_exit_cleanly(60);
  std::vector<TrialRow> trials = store->trials(exp);
  ASSERT_EQ(trials.size(), 30u);
  std::set<std::string> hashes;
  int64_t retried = 0;
  for (const TrialRow& t : trials) {
    EXPECT_EQ(t.state, evaluators::TrialState::kComplete) << t.number << ": " << t.message;
    hashes.insert(t.arch_hash);
    retried += t.retries;
  }
  EXPECT_EQ(hashes.size(), 30u);
  EXPECT_GE(retried, 1);  // the frozen search's trial ran again elsewhere
}

TEST_F(ClusterTest, ASearchWithNoWorkersOfItsOwnCoordinatesWhileWorkersEvaluate) {
  const std::string db = dir_ + "/s.db";
  spawn("search --name c --db " + db + " --evaluator stub --stub-delay-ms 50 --trials 12 " +
            "--workers 0 --strategy evolution --seed 4",
        "search.log");
  ASSERT_TRUE(wait_for([&] { return access(db.c_str(), F_OK) == 0; }, 30));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  spawn("worker --name c --db " + db + " --workers 2", "w0.log");
  spawn("worker --name c --db " + db, "w1.log");
  expect_all_exit_cleanly(120);
  auto store = Store::open(db).value();
  const int64_t exp = store->find_experiment("c").value().id;
  std::set<std::string> evaluated_by;
  for (const TrialRow& t : store->trials(exp)) {
    EXPECT_EQ(t.state, evaluators::TrialState::kComplete);
    evaluated_by.insert(t.worker);
  }
  EXPECT_EQ(store->trials(exp).size(), 12u);
  std::string search_label;
  for (const WorkerRow& w : store->workers(exp)) {
    if (w.slots == 0) search_label = w.label;
  }
  ASSERT_FALSE(search_label.empty());
  EXPECT_EQ(evaluated_by.count(search_label), 0u);
  EXPECT_GE(evaluated_by.size(), 1u);
}

struct Output {
  int code = -1;
  std::string err;
};

// Runs sylva with `args`; stdout is dropped, stderr kept.
Output run(const std::string& args) {
  FILE* p = popen((kSylva + " " + args + " 2>&1 >/dev/null").c_str(), "r");
  Output o;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) o.err.append(buf, n);
  const int status = pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

// One line on stderr holding `fragment`; exit status `code` (1: a runtime
// error; 2: a name on the command line that is not there).
void expect_one_line(const Output& o, const std::string& fragment, int code = 1) {
  EXPECT_EQ(o.code, code) << o.err;
  EXPECT_NE(o.err.find(fragment), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
}

TEST(ClusterInput, BadDatabasesAndNamesAreOneClearLine) {
  testing::PgServer pg("s3cret");
  ASSERT_TRUE(pg.ok()) << pg.error();
  const std::string url = pg.create_database();
  ASSERT_FALSE(url.empty());
  // Unreachable server.
  expect_one_line(
      run("worker --name c --db postgresql://sylva@/db?host=/nonexistent"),
      "sylva: cannot connect to PostgreSQL at postgresql://sylva@/db?host=/nonexistent: "
      "connection to server on socket \"/nonexistent/.s.PGSQL.5432\" failed");
  // Wrong password: named, and not echoed.
  std::string wrong = url;
  wrong.replace(wrong.find("s3cret"), 6, "guess1");
  Output o = run("search --name c --evaluator stub --db " + wrong);
  expect_one_line(o, "password authentication failed for user \"sylva\"");
  EXPECT_EQ(o.err.find("guess1"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("postgresql://sylva:***@/"), std::string::npos) << o.err;
  // No such experiment (the message lists those there are).
  ASSERT_EQ(run("search --name there --evaluator stub --trials 2 --db " + url).code, 0);
  o = run("worker --name nope --db " + url);
  expect_one_line(o, "no experiment named 'nope' in ", 2);
  EXPECT_NE(o.err.find("(experiments: there)"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("s3cret"), std::string::npos) << o.err;
  // A database of a newer schema is refused, not misread.
  {
    auto store = Store::open(url).value();  // at the current version
  }
  {
    PGconn* conn = PQconnectdb(url.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PGresult* r = PQexec(conn, "UPDATE schema_version SET version = 99");
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(conn);
    PQclear(r);
    PQfinish(conn);
  }
  expect_one_line(run("status --db " + url), "has schema version 99, newer than this sylva's " +
                                                 std::to_string(experiments::kSchemaVersion) +
                                                 "; upgrade sylva");
}

}  // namespace
}  // namespace sylva
