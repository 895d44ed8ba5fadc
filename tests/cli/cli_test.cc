// End-to-end tests of the sylva binary: a search logged to SQLite, reports,
// kill -9 and resume, export, and one clear stderr line for bad input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "experiments/store.h"

namespace {

const std::string kSylva = SYLVA_BINARY;
const std::string kTable =
    std::string(SYLVA_SOURCE_DIR) + "/../shared/benchmarks/nas-bench-macro-cifar10.csv";

struct Output {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sylva-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    db_ = dir_ + "/s.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  Output run(const std::string& args) {
    std::string err = dir_ + "/stderr.txt";
    FILE* p = popen((kSylva + " " + args + " 2>" + err).c_str(), "r");
    Output o;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) o.out.append(buf, n);
    int status = pclose(p);
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.err = slurp(err);
    return o;
  }

  // CSV of `sylva trials` as rows of column -> value.
  std::vector<std::map<std::string, std::string>> trials(const std::string& name) {
    Output o = run("trials --name " + name + " --db " + db_ + " -f csv");
    EXPECT_EQ(o.code, 0) << o.err;
    std::istringstream in(o.out);
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header;
    std::stringstream hs(line);
    for (std::string c; std::getline(hs, c, ',');) header.push_back(c);
    std::vector<std::map<std::string, std::string>> rows;
    while (std::getline(in, line)) {
      std::map<std::string, std::string> row;
      std::stringstream ls(line);
      size_t i = 0;
      for (std::string c; std::getline(ls, c, ',') && i < header.size(); ++i) row[header[i]] = c;
      rows.push_back(row);
    }
    return rows;
  }

  // Runs sylva with `args` in the background and kills it with SIGKILL once
  // experiment `name` has `complete` COMPLETE or PRUNED trials.
  // Returns the wait status; stderr goes to dir_/killed.err.
  int start_and_kill(const std::vector<std::string>& args, const std::string& name, size_t complete,
                     int signal = SIGKILL) {
    return start_and_kill_when(
        args,
        [&] {
          // Not trials(): it asserts, and the experiment may not exist yet.
          Output o = run("trials --name " + name + " --db " + db_ + " -f csv");
          if (o.code != 0) return false;
          size_t done = 0;
          for (const char* state : {",COMPLETE,", ",PRUNED,"}) {
            for (size_t at = 0; (at = o.out.find(state, at)) != std::string::npos; ++at) ++done;
          }
          return done >= complete;
        },
        signal);
  }

  // Runs sylva with `args` in the background and kills it with `signal` once
  // `ready()` holds (checked every 50 ms, for at most 20 s).
  int start_and_kill_when(const std::vector<std::string>& args, const std::function<bool()>& ready,
                          int signal = SIGKILL) {
    const std::string err = dir_ + "/killed.err";
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      int errfd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(devnull, 1);
      dup2(errfd, 2);
      std::vector<char*> argv = {const_cast<char*>("sylva")};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(kSylva.c_str(), argv.data());
      _exit(127);
    }
    for (int i = 0; i < 400 && !ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid, signal);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  }

  std::string dir_, db_;
};

// One line on stderr, naming the problem; non-zero exit.
void expect_one_line_error(const Output& o, const std::string& fragment) {
  EXPECT_NE(o.code, 0);
  EXPECT_NE(o.err.find(fragment), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
}

TEST_F(CliTest, TableSearchLogsEveryTrialAndReportsReadTheDatabase) {
  Output o =
      run("search --name t --db " + db_ + " --space nas-bench-macro --evaluator table --table " +
          kTable + " --metric test_acc_mean --trials 60 --seed 3");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("60 finished trial(s) of 60: 60 complete, 0 failed"), std::string::npos)
      << o.out;
  auto rows = trials("t");
  ASSERT_EQ(rows.size(), 60u);
  std::set<std::string> keys;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["number"], std::to_string(i));
    EXPECT_EQ(rows[i]["state"], "COMPLETE");
    keys.insert(rows[i]["key"]);
    EXPECT_GT(std::stod(rows[i]["test_acc_mean"]), 40.0);
    EXPECT_GT(std::stod(rows[i]["params"]), 387000.0);
  }
  EXPECT_EQ(keys.size(), 60u);
  // The best by the table's own column, from the database.
  double best = 0;
  std::string best_key;
  for (auto& r : rows) {
    if (std::stod(r["test_acc_mean"]) > best)
      best = std::stod(r["test_acc_mean"]), best_key = r["key"];
  }
  Output b = run("best --name t --db " + db_ + " -f json");
  ASSERT_EQ(b.code, 0) << b.err;
  auto j = nlohmann::json::parse(b.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["key"], best_key);
  EXPECT_DOUBLE_EQ(j[0]["test_acc_mean"].get<double>(), best);
  EXPECT_EQ(j[0]["rank"], 1);
  // The same seed gives the same trial sequence in a second experiment.
  ASSERT_EQ(run("search --name t2 --db " + db_ + " --evaluator table --table " + kTable +
                " --metric test_acc_mean --trials 60 --seed 3")
                .code,
            0);
  auto again = trials("t2");
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(again[i]["key"], rows[i]["key"]);
  Output s = run("status --db " + db_ + " -f csv");
  EXPECT_NE(s.out.find("t,"), std::string::npos);
  EXPECT_NE(s.out.find("test_acc_mean:max"), std::string::npos);
}

TEST_F(CliTest, ExistingNameIsRefusedWithAPointerToResume) {
  std::string args = "search --name dup --db " + db_ + " --evaluator stub --trials 3";
  ASSERT_EQ(run(args).code, 0);
  Output o = run(args);
  expect_one_line_error(o, "experiment 'dup' already exists");
  EXPECT_NE(o.err.find("sylva resume --name dup --db " + db_), std::string::npos);
  EXPECT_EQ(trials("dup").size(), 3u);
}

TEST_F(CliTest, KillDashNineThenResumeFinishesTheBudgetWithNothingLostOrRepeated) {
  // Reference: an uninterrupted run.
  ASSERT_EQ(
      run("search --name ref --db " + db_ + " --evaluator stub --trials 16 --workers 2 --seed 9")
          .code,
      0);
  auto ref = trials("ref");
  ASSERT_EQ(ref.size(), 16u);

  start_and_kill({"search", "--name", "k", "--db", db_, "--evaluator", "stub", "--stub-delay-ms",
                  "200", "--trials", "16", "--workers", "2", "--seed", "9"},
                 "k", 5);
  auto before = trials("k");
  std::map<std::string, std::string> finished_before;
  int running = 0;
  for (auto& r : before) {
    if (r["state"] == "COMPLETE") finished_before[r["number"]] = r["val_acc"];
    running += r["state"] == "RUNNING";
  }
  ASSERT_GE(finished_before.size(), 5u);
  ASSERT_LT(finished_before.size(), 16u);
  EXPECT_GE(running, 1);  // killed while trials were running

  Output o = run("resume --name k --db " + db_);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("re-queued"), std::string::npos) << o.out;
  auto after = trials("k");
  ASSERT_EQ(after.size(), 16u);
  std::set<std::string> keys;
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i]["state"], "COMPLETE");
    EXPECT_EQ(after[i]["number"], std::to_string(i));
    EXPECT_EQ(after[i]["key"], ref[i]["key"]) << "trial " << i;  // same sequence as uninterrupted
    keys.insert(after[i]["key"]);
    if (finished_before.count(after[i]["number"])) {
      EXPECT_EQ(after[i]["val_acc"], finished_before[after[i]["number"]]);
    }
  }
  EXPECT_EQ(keys.size(), 16u);
  // Resuming a finished experiment does nothing more.
  ASSERT_EQ(run("resume --name k --db " + db_).code, 0);
  EXPECT_EQ(trials("k").size(), 16u);
  // A larger budget continues it.
  ASSERT_EQ(run("resume --name k --db " + db_ + " --trials 20").code, 0);
  auto more = trials("k");
  ASSERT_EQ(more.size(), 20u);
  ASSERT_EQ(run("search --name ref20 --db " + db_ + " --evaluator stub --trials 20 --seed 9").code,
            0);
  auto ref20 = trials("ref20");
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(more[i]["key"], ref20[i]["key"]);
  // The new budget is stored: the next plain resume keeps it.
  Output st = run("status --name k --db " + db_ + " -f json");
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_EQ(nlohmann::json::parse(st.out)[0]["budget"], "20");
  ASSERT_EQ(run("resume --name k --db " + db_).code, 0);
  EXPECT_EQ(trials("k").size(), 20u);
}

TEST_F(CliTest, EveryEngineResumesAKilledRunToTheUninterruptedSequence) {
  for (const std::string engine : {"evolution", "mcts", "nsga2"}) {
    const std::string args = "--strategy " + engine + " --evaluator stub --trials 30 --seed 4";
    ASSERT_EQ(run("search --name ref-" + engine + " --db " + db_ + " " + args).code, 0);
    auto ref = trials("ref-" + engine);
    ASSERT_EQ(ref.size(), 30u);
    // One worker: the resumed run proposes exactly the uninterrupted sequence.
    start_and_kill({"search", "--name", engine, "--db", db_, "--strategy", engine, "--evaluator",
                    "stub", "--stub-delay-ms", "120", "--trials", "30", "--seed", "4"},
                   engine, 10);
    size_t finished = 0;
    for (auto& r : trials(engine)) finished += r["state"] == "COMPLETE";
    ASSERT_LT(finished, 30u) << engine;
    Output o = run("resume --name " + engine + " --db " + db_);
    ASSERT_EQ(o.code, 0) << o.err;
    auto after = trials(engine);
    ASSERT_EQ(after.size(), 30u) << engine;
    for (size_t i = 0; i < 30; ++i) {
      EXPECT_EQ(after[i]["state"], "COMPLETE");
      EXPECT_EQ(after[i]["key"], ref[i]["key"]) << engine << " trial " << i;
    }
    // Three workers: killed and resumed, every trial once, none lost.
    start_and_kill(
        {"search", "--name", engine + "3", "--db", db_, "--strategy", engine, "--evaluator", "stub",
         "--stub-delay-ms", "60", "--trials", "30", "--workers", "3", "--seed", "4"},
        engine + "3", 12);
    ASSERT_EQ(run("resume --name " + engine + "3 --db " + db_).code, 0);
    auto parallel = trials(engine + "3");
    ASSERT_EQ(parallel.size(), 30u) << engine;
    std::set<std::string> keys;
    for (auto& r : parallel) {
      EXPECT_EQ(r["state"], "COMPLETE");
      keys.insert(r["key"]);
    }
    EXPECT_EQ(keys.size(), 30u) << engine;
  }
}

TEST_F(CliTest, Nsga2ParetoFrontIsNonDominatedAndCoversTheRest) {
  Output o = run("search --name n --db " + db_ + " --evaluator table --table " + kTable +
                 " --metric test_acc_mean --strategy nsga2 --objective test_acc_mean:max"
                 " --objective params:min --trials 120 --seed 2");
  ASSERT_EQ(o.code, 0) << o.err;
  Output s = run("status --name n --db " + db_ + " -f csv");
  EXPECT_NE(s.out.find("test_acc_mean:max,params:min"), std::string::npos) << s.out;
  auto all = trials("n");
  ASSERT_EQ(all.size(), 120u);
  Output p = run("best --name n --db " + db_ + " --pareto -f json");
  ASSERT_EQ(p.code, 0) << p.err;
  auto front = nlohmann::json::parse(p.out);
  ASSERT_GE(front.size(), 3u);
  auto dominates = [](double acc_a, double par_a, double acc_b, double par_b) {
    return acc_a >= acc_b && par_a <= par_b && (acc_a > acc_b || par_a < par_b);
  };
  std::set<std::string> on_front;
  for (const auto& f : front) on_front.insert(f["key"].get<std::string>());
  for (auto& r : all) {
    const double acc = std::stod(r["test_acc_mean"]), par = std::stod(r["params"]);
    bool dominated = false;
    for (const auto& f : front) {
      dominated |= dominates(f["test_acc_mean"].get<double>(), f["params"].get<double>(), acc, par);
    }
    // Front members are dominated by nobody; everyone else by a front member.
    EXPECT_EQ(dominated, !on_front.count(r["key"])) << r["key"];
  }
  // Best accuracy first.
  for (size_t i = 1; i < front.size(); ++i) {
    EXPECT_GE(front[i - 1]["test_acc_mean"].get<double>(), front[i]["test_acc_mean"].get<double>());
  }
}

TEST_F(CliTest, SuccessiveHalvingPromotesTheBestThirdAndResumesExactly) {
  const std::string args =
      " --evaluator stub --fidelity epochs --min-epochs 1 --max-epochs 9 --eta 3 --trials 27"
      " --seed 6";
  ASSERT_EQ(run("search --name ref --db " + db_ + args).code, 0);
  auto ref = trials("ref");
  ASSERT_EQ(ref.size(), 27u);
  // The stub's learning curve acc(e) = a * (1 - 0.5 / e) keeps the order of
  // the architectures, so every rung ranks them by a.
  std::vector<std::pair<double, int>> by_a;  // (a, epochs reached)
  for (auto& r : ref) {
    const double epochs = std::stod(r["epochs"]);
    EXPECT_EQ(r["state"], epochs == 9 ? "COMPLETE" : "PRUNED") << r["number"];
    by_a.push_back({std::stod(r["val_acc"]) / (1 - 0.5 / epochs), static_cast<int>(epochs)});
  }
  std::sort(by_a.rbegin(), by_a.rend());
  // Once every first-rung result is in, its best third (9) has been promoted;
  // asynchronous promotions of early leaders may add a few more.
  int promoted = 0, top = 0;
  for (size_t i = 0; i < by_a.size(); ++i) {
    if (i < 9) {
      EXPECT_GE(by_a[i].second, 3) << "rank " << i;
    }
    promoted += by_a[i].second >= 3;
    top += by_a[i].second == 9;
  }
  EXPECT_GE(promoted, 9);
  EXPECT_LE(promoted, 12);
  // The same at the second rung: the best third of those that reached it.
  EXPECT_GE(top, promoted / 3);
  int seen = 0;
  for (const auto& [a, epochs] : by_a) {
    if (epochs < 3) continue;
    if (seen++ < promoted / 3) {
      EXPECT_EQ(epochs, 9) << a;
    }
  }
  // Killed half way and resumed: the same trials, states and budgets.
  start_and_kill({"search", "--name",          "k",  "--db",       db_,      "--evaluator",
                  "stub",   "--stub-delay-ms", "50", "--fidelity", "epochs", "--min-epochs",
                  "1",      "--max-epochs",    "9",  "--eta",      "3",      "--trials",
                  "27",     "--seed",          "6"},
                 "k", 14);
  Output o = run("resume --name k --db " + db_);
  ASSERT_EQ(o.code, 0) << o.err;
  auto after = trials("k");
  ASSERT_EQ(after.size(), 27u);
  for (size_t i = 0; i < 27; ++i) {
    EXPECT_EQ(after[i]["key"], ref[i]["key"]) << i;
    EXPECT_EQ(after[i]["state"], ref[i]["state"]) << i;
    EXPECT_EQ(after[i]["epochs"], ref[i]["epochs"]) << i;
  }
  expect_one_line_error(run("search --name x --db " + db_ +
                            " --evaluator stub --fidelity epochs --min-epochs 4 --max-epochs 2"),
                        "--max-epochs (2) must be >= --min-epochs (4)");
  expect_one_line_error(run("search --name x --db " + db_ + " --evaluator table --table " + kTable +
                            " --metric test_acc_mean --fidelity epochs"),
                        "--fidelity epochs needs an evaluator that trains");
}

TEST_F(CliTest, ResumesAnExperimentStoredBeforeNewerOptionsExisted) {
  ASSERT_EQ(run("search --name old --db " + db_ + " --evaluator stub --trials 4 --seed 2").code, 0);
  // Strip the options added after the first release from the stored config.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(
      db,
      "UPDATE experiments SET config_json = json_remove(config_json, '$.options.fidelity', "
      "'$.options.min-epochs', '$.options.max-epochs', '$.options.eta', "
      "'$.options.reject-below', '$.options.reject-after', '$.options.weight-decay', "
      "'$.options.population', '$.options.init', '$.init_text')",
      nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
  Output before = run("status --name old --db " + db_ + " -f csv");
  ASSERT_EQ(before.code, 0) << before.err;
  Output o = run("resume --name old --db " + db_ + " --trials 6");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(trials("old").size(), 6u);
}

TEST_F(CliTest, CtrlCHandsRunningTrialsBackAndSaysHowToResume) {
  // The stub takes 2 s a trial: the process stops long before its trial ends.
  const auto start = std::chrono::steady_clock::now();
  const int status = start_and_kill_when(
      {"search", "--name", "c", "--db", db_, "--evaluator", "stub", "--stub-delay-ms", "2000",
       "--trials", "3", "--seed", "1"},
      [&] {
        Output o = run("trials --name c --db " + db_ + " -f csv");
        return o.code == 0 && o.out.find(",RUNNING,") != std::string::npos;
      },
      SIGINT);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1900));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_NE(slurp(dir_ + "/killed.err")
                .find("interrupted; finished trials are saved, 1 running trial(s) handed back: "
                      "the experiment's other workers take them, or `sylva resume --name c --db " +
                      db_ + "`"),
            std::string::npos)
      << slurp(dir_ + "/killed.err");
  // Handed back: waiting again, no retry counted, the event says why.
  auto held = trials("c");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]["state"], "WAITING");
  auto store = sylva::experiments::Store::open(db_).value();
  auto row = store->trial(store->find_experiment("c").value().id, 0).value();
  EXPECT_EQ(row.retries, 0);
  EXPECT_EQ(row.worker, "");
  ASSERT_EQ(run("resume --name c --db " + db_).code, 0);
  auto rows = trials("c");
  ASSERT_EQ(rows.size(), 3u);
  for (auto& r : rows) EXPECT_EQ(r["state"], "COMPLETE");
}

TEST_F(CliTest, BadInputGetsOneClearLine) {
  expect_one_line_error(run("search --name x --db " + db_ + " --trials abc --evaluator stub"),
                        "--trials expects an integer, got 'abc'");
  expect_one_line_error(run("search --name x --db " + db_ + " --workers -1 --evaluator stub"),
                        "--workers must be >= 0, got -1");
  expect_one_line_error(run("search --name x --db " + db_ + " --colour red"), "--colour");
  expect_one_line_error(run("search --name x --db " + db_ + " --evaluator magic"),
                        "--evaluator 'magic' is unknown");
  expect_one_line_error(
      run("search --name x --db " + db_ + " --strategy annealing --evaluator stub"),
      "--strategy 'annealing' is unknown (strategies: evolution, mcts, nsga2, random)");
  expect_one_line_error(run("search --name x --db " + db_ + " --space nowhere.grammar"),
                        "--space 'nowhere.grammar' is neither a built-in space");
  std::ofstream(dir_ + "/bad.grammar") << "net -> op op\nop -> \"conv3x3\" | \"conv7x7\"\n";
  expect_one_line_error(run("search --name x --db " + db_ + " --space " + dir_ + "/bad.grammar"),
                        dir_ + "/bad.grammar:2:19: unknown op 'conv7x7'");
  expect_one_line_error(run("search --name x --db " + db_ + " --evaluator table --metric acc"),
                        "--evaluator table needs --table PATH");
  expect_one_line_error(run("search --name x --db " + db_ + " --evaluator table --table " + kTable +
                            " --metric accuracy"),
                        "accuracy");
  expect_one_line_error(run("search --name x --db " + db_ + " --evaluator train --epochs 0"),
                        "--epochs must be >= 1, got 0");
  std::ofstream(dir_ + "/run.ini") << "trials = 3\nevaluator = stub\ncolour = red\n";
  expect_one_line_error(run("search --name x --db " + db_ + " --config " + dir_ + "/run.ini"),
                        "colour");
  expect_one_line_error(
      run("search --name x --db " + db_ + " --evaluator stub --strategy evolution --uct-c 2"),
      "--uct-c does not apply to --strategy evolution");
  expect_one_line_error(
      run("search --name x --db " + db_ + " --evaluator stub --strategy mcts --uct-c -3"),
      "--uct-c must be in [0, 1e+06], got -3");
  std::ofstream(dir_ + "/seeds.txt") << "# baselines\nidentity/identity/identity/identity/"
                                        "identity/identity/identity/identity\nconv3x3\n";
  expect_one_line_error(run("search --name x --db " + db_ +
                            " --evaluator stub --strategy "
                            "evolution --init " +
                            dir_ + "/seeds.txt"),
                        dir_ + "/seeds.txt:3: ");
  expect_one_line_error(run("search --name x --db " + db_ +
                            " --evaluator stub --strategy "
                            "evolution --init " +
                            dir_ + "/none.txt"),
                        "--init: cannot read '" + dir_ + "/none.txt'");
  expect_one_line_error(run("resume --name x --db " + db_ + " --space nb201"),
                        "--space is fixed when the experiment is created");
  expect_one_line_error(run("trials --name x --db " + dir_ + "/none.db"), "does not exist");
  ASSERT_EQ(run("search --name real --db " + db_ + " --evaluator stub --trials 2").code, 0);
  expect_one_line_error(run("trials --name nobody --db " + db_), "no experiment named 'nobody'");
  expect_one_line_error(run("trials --name real --db " + db_ + " -f xml"),
                        "--format must be table, json or csv, got 'xml'");
  expect_one_line_error(
      run("export --name real --db " + db_ + " --trial 7 --out " + dir_ + "/a.json"),
      "has no trial 7");
  expect_one_line_error(
      run("export --name real --db " + db_ + " --format torchscript --out " + dir_ + "/a.pt"),
      "has no stored weights");
  // Nothing was created by the refused searches.
  Output s = run("status --db " + db_ + " -f csv");
  EXPECT_EQ(std::count(s.out.begin(), s.out.end(), '\n'), 2) << s.out;
}

TEST_F(CliTest, ConfigFileSuppliesOptionsAndTheCommandLineWins) {
  std::ofstream(dir_ + "/run.ini") << "# a search\nevaluator = stub\ntrials = 7\nseed = 4\n";
  ASSERT_EQ(run("search --name c --db " + db_ + " --config " + dir_ + "/run.ini --trials 5").code,
            0);
  auto rows = trials("c");
  EXPECT_EQ(rows.size(), 5u);
  ASSERT_EQ(run("search --name c2 --db " + db_ + " --evaluator stub --trials 5 --seed 4").code, 0);
  auto same = trials("c2");
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(rows[i]["key"], same[i]["key"]);
}

TEST_F(CliTest, ExportJsonHoldsTheGenotypeAndMetrics) {
  ASSERT_EQ(run("search --name e --db " + db_ + " --evaluator stub --trials 5 --space nb201").code,
            0);
  ASSERT_EQ(run("export --name e --db " + db_ + " --trial 2 --out " + dir_ + "/t2.json").code, 0);
  auto j = nlohmann::json::parse(slurp(dir_ + "/t2.json"));
  auto rows = trials("e");
  EXPECT_EQ(j["trial"], 2);
  EXPECT_EQ(j["key"], rows[2]["key"]);
  EXPECT_EQ(j["primitives"].size(), 6u);
  EXPECT_EQ(j["canonical"].get<std::string>().rfind("[cell [edge ", 0), 0u);
  EXPECT_NEAR(j["metrics"]["val_acc"].get<double>(), std::stod(rows[2]["val_acc"]), 1e-3);
}

TEST_F(CliTest, EinspaceEvolutionStartsFromASeedFileAndBudgetsAreChecked) {
  const std::string seed = std::string(SYLVA_SOURCE_DIR) + "/spaces/grammar/seeds/wrn16-4.arch";
  Output o = run("search --name w --db " + db_ +
                 " --space einspace --strategy evolution --population 4 --sample-size 2 --init " +
                 seed + " --evaluator stub --trials 12 --max-params 3000000 --seed 5");
  ASSERT_EQ(o.code, 0) << o.err;
  // Trial 0 is the seed: its canonical form is the file's, comments and
  // layout aside.
  std::string text;
  std::istringstream lines(slurp(seed));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind('#', 0) != 0) text += line + " ";
  }
  std::string flat;
  for (char ch : text) {
    const bool space = std::isspace(static_cast<unsigned char>(ch));
    if (space && (flat.empty() || flat.back() == ' ')) continue;
    if (ch == ']' && !flat.empty() && flat.back() == ' ') flat.pop_back();
    flat += space ? ' ' : ch;
  }
  while (!flat.empty() && flat.back() == ' ') flat.pop_back();
  ASSERT_EQ(run("export --name w --db " + db_ + " --trial 0 --out " + dir_ + "/t0.json").code, 0);
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ + "/t0.json"))["canonical"], flat);
  auto rows = trials("w");
  ASSERT_EQ(rows.size(), 12u);
  // A budget for a space that has none is one clear line.
  expect_one_line_error(run("sample --space nb201 --max-nodes 5"),
                        "--max-nodes applies to typed grammars (%state tensor); space 'nb201' is "
                        "not one");
  expect_one_line_error(run("sample --space einspace --max-params 0"),
                        "--max-params must be >= 1, got 0");
}

TEST_F(CliTest, SupernetTrainThenSearchItsConfigurationsWithInheritedWeights) {
  const std::string out = dir_ + "/ofa.pt";
  Output o = run("supernet train --family ofa --out " + out +
                 " --epochs 1 --train-samples 128 --val-samples 128 --batch-size 32 --seed 1");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("supernet ofa, schedule sandwich, 1 epoch(s) on 128 images, 128 held out"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("largest  val_acc "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("smallest val_acc "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("(4 steps, 16 sub-network passes); wrote " + out), std::string::npos)
      << o.out;
  EXPECT_FALSE(slurp(out).empty());
  // Its configurations are a space; the supernet evaluator scores them with
  // inherited weights.
  Output s = run("search --name sn --db " + db_ + " --space supernet:" + out +
                 " --evaluator supernet --strategy evolution --trials 3 --val-samples 128 "
                 "--test-samples 128 --seed 2");
  ASSERT_EQ(s.code, 0) << s.err;
  auto rows = trials("sn");
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.at("state"), "COMPLETE");
    EXPECT_EQ(r.at("key").substr(0, 1), "r");
    EXPECT_GT(std::stod(r.at("params")), 0);
    EXPECT_GT(std::stod(r.at("flops")), 0);
    EXPECT_GE(std::stod(r.at("val_acc")), 0);
  }
  // The best configuration exports as a standalone TorchScript file.
  Output e = run("export --name sn --db " + db_ + " --trial best --format torchscript --out " +
                 dir_ + "/best.pt");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_FALSE(slurp(dir_ + "/best.pt").empty());
  // NSGA-II on accuracy against MACs, assisted by a ridge predictor: two
  // real evaluations, then one per round proposed against the predictor.
  Output p = run("search --name sp --db " + db_ + " --space supernet:" + out +
                 " --evaluator supernet --strategy nsga2 --objective val_acc:max --objective "
                 "flops:min --predictor ridge --predictor-warmup 2 --predictor-batch 1 "
                 "--predictor-steps 100 --trials 3 --val-samples 128 --test-samples 128 --seed 2");
  ASSERT_EQ(p.code, 0) << p.err;
  std::set<std::string> keys;
  for (const auto& r : trials("sp")) {
    EXPECT_EQ(r.at("state"), "COMPLETE");
    keys.insert(r.at("key"));
  }
  EXPECT_EQ(keys.size(), 3u);
  Output front = run("best --name sp --db " + db_ + " --pareto");
  ASSERT_EQ(front.code, 0) << front.err;
  expect_one_line_error(run("search --name y --db " + db_ + " --space supernet:" + out +
                            " --evaluator supernet --predictor tree"),
                        "--predictor must be ridge or mlp, got 'tree'");
  expect_one_line_error(run("search --name x --db " + db_ + " --space nb201 --evaluator supernet"),
                        "--evaluator supernet needs --space supernet:FILE (a trained supernet), "
                        "got 'nb201'");
  expect_one_line_error(run("sample --space supernet:" + dir_ + "/none.pt"),
                        "is not a readable supernet file");
  expect_one_line_error(run("supernet train --family tree --out " + out),
                        "--family must be ofa, sorted or stitch, got 'tree'");
  expect_one_line_error(
      run("supernet train --schedule once --out " + out),
      "--schedule must be progressive, sandwich, nested, deps or stitch, got 'once'");
  expect_one_line_error(run("supernet fit"),
                        "supernet: expected train, select or sweep, got 'fit'");
}

TEST_F(CliTest, SortedSupernetSelectsForABudgetAndSearchesMixAndMatch) {
  const std::string out = dir_ + "/sorted.pt";
  Output o = run("supernet train --family sorted --out " + out +
                 " --epochs 1 --train-samples 128 --val-samples 128 --batch-size 32 --seed 1");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("supernet sorted, schedule nested, 1 epoch(s) on 128 images"),
            std::string::npos)
      << o.out;
  // 4 steps: the largest and 2 nested models each.
  EXPECT_NE(o.out.find("(4 steps, 12 sub-network passes)"), std::string::npos) << o.out;
  // Search-free selection: the largest nested model within the budget. At
  // 14x14 a block of width w costs 196 * (64 * 49 + 2 * 64 * w) MACs: five
  // of width 128 (19,129,600 + stem 112,896 + head 640) fit 20M, three of
  // 256 (21,111,552) do not.
  Output sel = run("supernet select --space supernet:" + out + " --max-flops 20000000");
  ASSERT_EQ(sel.code, 0) << sel.err;
  EXPECT_EQ(sel.out,
            "d5/w128/w128/w128/w128/w128\n[sorted d5 w128 w128 w128 w128 w128]\nparams 101514  "
            "flops 19243136  (15 of 20 nested models fit)\n");
  expect_one_line_error(run("supernet select --space supernet:" + out + " --max-flops 1000"),
                        "no nested model fits: the smallest has");
  // Mix'n'Match configurations are a space like any other.
  Output s = run("search --name mm --db " + db_ + " --space supernet:" + out +
                 " --evaluator supernet --strategy evolution --trials 3 --val-samples 128 "
                 "--test-samples 128 --max-flops 20000000 --max-latency-ms 100000 --seed 2");
  ASSERT_EQ(s.code, 0) << s.err;
  for (const auto& r : trials("mm")) {
    EXPECT_EQ(r.at("state"), "COMPLETE");
    EXPECT_EQ(r.at("key").substr(0, 1), "d");
    EXPECT_LE(std::stod(r.at("flops")), 20000000);
    EXPECT_GT(std::stod(r.at("latency_ms")), 0);
  }
  // A latency budget no network meets: every configuration fails, measured.
  Output slow = run("search --name lat --db " + db_ + " --space supernet:" + out +
                    " --evaluator supernet --trials 2 --val-samples 128 --test-samples 128 "
                    "--max-latency-ms 0.000001 --seed 2");
  EXPECT_NE(slow.out.find("is over --max-latency-ms 1e-06"), std::string::npos) << slow.out;
  for (const auto& r : trials("lat")) EXPECT_EQ(r.at("state"), "FAIL");
  expect_one_line_error(run("search --name t --db " + db_ + " --evaluator stub --max-latency-ms 5"),
                        "--max-latency-ms applies to --evaluator supernet (it measures each "
                        "configuration), got --evaluator stub");
  // Two workers evaluate in parallel, each on its own copy of the
  // supernet: the same configurations score what one worker scores.
  std::map<std::string, std::string> scores[2];
  for (int workers : {1, 2}) {
    const std::string name = "w" + std::to_string(workers);
    Output w = run("search --name " + name + " --db " + db_ + " --space supernet:" + out +
                   " --evaluator supernet --strategy random --trials 4 --val-samples 128 "
                   "--test-samples 128 --calibration-samples 256 --seed 3 --workers " +
                   std::to_string(workers));
    ASSERT_EQ(w.code, 0) << w.err;
    for (const auto& r : trials(name)) scores[workers - 1][r.at("key")] = r.at("val_acc");
  }
  EXPECT_EQ(scores[0].size(), 4u);
  EXPECT_EQ(scores[0], scores[1]);
  Output e = run("export --name mm --db " + db_ + " --trial best --format torchscript --out " +
                 dir_ + "/mm.pt");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_FALSE(slurp(dir_ + "/mm.pt").empty());
  expect_one_line_error(
      run("supernet train --family sorted --schedule progressive --out " + dir_ + "/p.pt"),
      "--schedule progressive shrinks kernels, depths and expand ratios (family ofa); family "
      "sorted has none");
  expect_one_line_error(run("supernet select --space nb201"),
                        "supernet select needs --space supernet:FILE");
}

TEST_F(CliTest, StitchSupernetSweepsEveryConfigurationIntoACurve) {
  const std::string out = dir_ + "/stitch.pt";
  Output o = run("supernet train --family stitch --out " + out +
                 " --epochs 1 --train-samples 128 --val-samples 64 --batch-size 32 --seed 1");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("supernet stitch, schedule stitch, 1 epoch(s) on 128 images"),
            std::string::npos)
      << o.out;
  // 2 steps with the three anchors, then 2 with one configuration each.
  EXPECT_NE(o.out.find("(4 steps, 8 sub-network passes)"), std::string::npos) << o.out;
  Output sw = run("supernet sweep --space supernet:" + out +
                  " --val-samples 64 --test-samples 64 --calibration-samples 64 -f csv");
  ASSERT_EQ(sw.code, 0) << sw.err;
  std::istringstream lines(sw.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "key,params,flops,val_acc,test_acc,front");
  std::vector<std::string> keys;
  int front = 0;
  while (std::getline(lines, line)) {
    keys.push_back(line.substr(0, line.find(',')));
    front += line.back() == '*';
  }
  ASSERT_EQ(keys.size(), 31u);  // 3 anchors + 2 pairs x 2 directions x 7 positions
  EXPECT_EQ(keys[0], "a0");
  EXPECT_EQ(keys[3], "s0-1/p1");
  EXPECT_EQ(keys[30], "s2-1/p7");
  EXPECT_GE(front, 1);
  Output table = run("supernet sweep --space supernet:" + out +
                     " --val-samples 64 --test-samples 64 --calibration-samples 64");
  EXPECT_NE(table.out.find("31 configurations, " + std::to_string(front) + " on the Pareto front"),
            std::string::npos)
      << table.out;
  // Budgets keep the sweep within them: under 30M MACs, anchor 0 alone
  // (15.4M) and the stitches that keep most of it (s0-1 at 6 and 7, s1-0 at
  // 1 and 2); a header and five rows.
  Output cheap = run("supernet sweep --space supernet:" + out +
                     " --val-samples 64 --test-samples 64 --calibration-samples 64 -f csv "
                     "--max-flops 30000000");
  ASSERT_EQ(cheap.code, 0) << cheap.err;
  EXPECT_EQ(std::count(cheap.out.begin(), cheap.out.end(), '\n'), 1 + 1 + 2 + 2);
  Output ofa = run("supernet train --family ofa --out " + dir_ +
                   "/ofa.pt --epochs 1 --train-samples 32 --val-samples 32 --batch-size 32");
  ASSERT_EQ(ofa.code, 0) << ofa.err;
  expect_one_line_error(run("supernet sweep --space supernet:" + dir_ + "/ofa.pt"),
                        "an ofa supernet has no sweep (too many configurations)");
}

TEST_F(CliTest, AKilledSupernetTrainingResumesFromItsCheckpoint) {
  const std::string out = dir_ + "/ofa.pt", ckpt = out + ".ckpt";
  const std::string args =
      "--family ofa --schedule progressive --epochs 1 --train-samples 256 --val-samples 128 "
      "--batch-size 16 --seed 3 --checkpoint-every 1 --out ";
  Output whole = run("supernet train " + args + dir_ + "/whole.pt");
  ASSERT_EQ(whole.code, 0) << whole.err;
  EXPECT_FALSE(std::ifstream(dir_ + "/whole.pt.ckpt").good());  // removed when done
  std::vector<std::string> argv = {"supernet", "train"};
  std::istringstream words(args + out);
  for (std::string w; words >> w;) argv.push_back(w);
  start_and_kill_when(argv, [&] { return std::ifstream(ckpt).good(); });
  ASSERT_TRUE(std::ifstream(ckpt).good());
  ASSERT_FALSE(std::ifstream(out).good());  // killed before the end
  Output resumed = run("supernet train " + args + out);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("resuming from " + ckpt), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("step 16/16  expand"), std::string::npos) << resumed.out;
  EXPECT_FALSE(std::ifstream(ckpt).good());
  // The resumed run ends with the uninterrupted run's network.
  auto accuracy_lines = [](const std::string& text) {
    std::string lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
      if (l.find("val_acc") != std::string::npos) lines += l + "\n";
    }
    return lines;
  };
  EXPECT_EQ(accuracy_lines(resumed.out), accuracy_lines(whole.out)) << whole.out << resumed.out;
  EXPECT_EQ(std::count(whole.out.begin(), whole.out.end(), '\n') > 4, true);
  // A checkpoint of another run is refused, by name.
  std::ofstream(dir_ + "/x.pt.ckpt") << "not a checkpoint";
  expect_one_line_error(run("supernet train " + args + dir_ + "/x.pt"),
                        "checkpoint '" + dir_ + "/x.pt.ckpt' is not readable");
}

TEST_F(CliTest, SampleIsSeededAndMeasuresCost) {
  Output a = run("sample --space nas-bench-macro -n 4 --seed 2 --input-shape 3,32,32 -f csv");
  Output b = run("sample --space nas-bench-macro -n 4 --seed 2 --input-shape 3,32,32 -f csv");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  // params and flops agree with the benchmark table for the same keys.
  std::map<std::string, std::string> table;
  std::istringstream t(slurp(kTable));
  std::string line;
  while (std::getline(t, line)) table[line.substr(0, line.find(','))] = line;
  std::istringstream in(a.out);
  std::getline(in, line);
  EXPECT_EQ(line, "key,canonical,params,flops");
  int rows = 0;
  while (std::getline(in, line)) {
    std::string key = line.substr(0, line.find(','));
    std::string tail = line.substr(line.rfind(']') + 2);  // params,flops
    std::string row = table.at(key);
    EXPECT_EQ(row.substr(row.size() - tail.size()), tail) << key;
    ++rows;
  }
  EXPECT_EQ(rows, 4);
}

}  // namespace
