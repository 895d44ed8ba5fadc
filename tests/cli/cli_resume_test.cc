// End-to-end tests of stopping and resuming a search: killed with kill -9 and
// resumed, it finishes its budget with the uninterrupted run's trials, nothing
// lost or repeated, for every strategy, with several workers and with
// successive halving; a larger budget continues it; Ctrl-C hands running
// trials back and says how to resume; an experiment stored before newer
// options existed still resumes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "experiments/store.h"
#include "tests/cli/cli_fixture.h"

namespace {

using sylva::testing::CliTest;
using sylva::testing::expect_one_line_error;
using sylva::testing::kTable;
using sylva::testing::Output;
using sylva::testing::slurp;

TEST_F(CliTest, KillDashNineThenResumeFinishesTheBudgetWithNothingLostOrRepeated) {
  // Reference: an uninterrupted run.
  ASSERT_EQ(
      run("search --name ref --db " + db_ + " --evaluator stub --trials 16 --workers 2 --seed 9")
          .code,
      0);
  auto ref = trials("ref");
  ASSERT_EQ(ref.size(), 16u);

  // Killed once 5 trials finished and a trial started since the previous look
  // (50 ms ago at most) is running: with 400 ms trials, it is still running
  // when the signal lands, however loaded the machine.
  std::set<int64_t> seen_running;
  start_and_kill_when({"search", "--name", "k", "--db", db_, "--evaluator", "stub",
                       "--stub-delay-ms", "400", "--trials", "16", "--workers", "2", "--seed", "9"},
                      [&] {
                        if (access(db_.c_str(), F_OK) != 0) return false;
                        auto store = sylva::experiments::Store::open(db_);
                        if (!store.is_ok()) return false;
                        auto e = store.value()->find_experiment("k");
                        if (!e.is_ok()) return false;
                        size_t done = 0;
                        bool fresh = false;
                        std::set<int64_t> now_running;
                        for (const auto& t : store.value()->trials(e.value().id)) {
                          done += t.state == sylva::experiments::TrialState::kComplete;
                          if (t.state == sylva::experiments::TrialState::kRunning) {
                            now_running.insert(t.number);
                            fresh |= seen_running.count(t.number) == 0;
                          }
                        }
                        seen_running = now_running;
                        return done >= 5 && fresh;
                      });
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
  EXPECT_EQ(nlohmann::json::parse(st.out)[0]["budget"], 20);
  ASSERT_EQ(run("resume --name k --db " + db_).code, 0);
  EXPECT_EQ(trials("k").size(), 20u);
}

TEST_F(CliTest, TenKillsAtRandomMomentsCostNoTrialItsRetries) {
  // search, then resume after resume, each SIGKILLed at a random moment
  // (seeded): a killed process is not the trials' fault, so all 40 finish,
  // each architecture once, the uninterrupted run's sequence.
  const std::string common = " --space nas-bench-macro --evaluator table --table " + kTable +
                             " --metric test_acc_mean --trials 40 --workers 2 --seed 5";
  ASSERT_EQ(run("search --name ref --db " + db_ + common).code, 0);
  auto ref = trials("ref");
  ASSERT_EQ(ref.size(), 40u);
  std::mt19937 rng(14);
  std::uniform_int_distribution<int> moment_ms(300, 1500);
  int kills = 0;
  for (; kills < 10; ++kills) {
    std::vector<std::string> args = {"resume", "--name", "k", "--db", db_};
    if (kills == 0) {
      args = {"search",
              "--name",
              "k",
              "--db",
              db_,
              "--space",
              "nas-bench-macro",
              "--evaluator",
              "table",
              "--table",
              kTable,
              "--metric",
              "test_acc_mean",
              "--trials",
              "40",
              "--workers",
              "2",
              "--seed",
              "5",
              "--stub-delay-ms",
              "200"};
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(moment_ms(rng));
    // The first search is killed once its experiment holds a finished trial
    // (on a loaded machine it may take longer than the moment to make it);
    // odd resumes at their moments, at any stage of their start; even ones
    // the moment they are seen running a trial they started (200 ms
    // trials, looked at every 50 ms), however slowly the machine starts them.
    std::set<int64_t> seen_running;
    auto running_a_new_trial = [&] {
      if (access(db_.c_str(), F_OK) != 0) return false;
      auto store = sylva::experiments::Store::open(db_);
      if (!store.is_ok()) return false;
      auto e = store.value()->find_experiment("k");
      if (!e.is_ok()) return false;
      bool fresh = false;
      std::set<int64_t> now_running;
      for (const auto& t : store.value()->trials(e.value().id)) {
        if (t.state != sylva::experiments::TrialState::kRunning) continue;
        now_running.insert(t.number);
        fresh |= seen_running.count(t.number) == 0;
      }
      seen_running = now_running;
      return fresh && !now_running.empty();
    };
    int status = 0;
    if (kills == 0) {
      status = start_and_kill(args, "k", 1);
    } else if (kills % 2 == 0) {
      // Trials running at the last run's kill were handed back on start.
      seen_running.clear();
      status = start_and_kill_when(args, running_a_new_trial);
    } else {
      status = start_and_kill_when(args, [&] { return std::chrono::steady_clock::now() >= until; });
    }
    if (!WIFSIGNALED(status)) {  // it finished first
      EXPECT_EQ(WEXITSTATUS(status), 0) << slurp(dir_ + "/killed.err");
      break;
    }
  }
  EXPECT_GE(kills, 6) << "the runs finished before most kills";
  Output o = run("resume --name k --db " + db_);
  ASSERT_EQ(o.code, 0) << o.err;
  auto after = trials("k");
  ASSERT_EQ(after.size(), 40u);
  std::set<std::string> keys;
  int requeued = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i]["state"], "COMPLETE") << i << ": " << after[i]["message"];
    EXPECT_EQ(after[i]["key"], ref[i]["key"]) << i;
    keys.insert(after[i]["key"]);
  }
  EXPECT_EQ(keys.size(), 40u);
  auto store = sylva::experiments::Store::open(db_);
  ASSERT_TRUE(store.is_ok());
  for (const auto& t : store.value()->trials(store.value()->find_experiment("k").value().id)) {
    requeued += t.retries;
  }
  EXPECT_GE(requeued, 3) << "the kills hit few running trials";
}

TEST_F(CliTest, EveryStrategyResumesAKilledRunToTheUninterruptedSequence) {
  for (const std::string strategy : {"evolution", "mcts", "nsga2"}) {
    const std::string args = "--strategy " + strategy + " --evaluator stub --trials 30 --seed 4";
    ASSERT_EQ(run("search --name ref-" + strategy + " --db " + db_ + " " + args).code, 0);
    auto ref = trials("ref-" + strategy);
    ASSERT_EQ(ref.size(), 30u);
    // One worker: the resumed run proposes exactly the uninterrupted sequence.
    start_and_kill(
        {"search", "--name", strategy, "--db", db_, "--strategy", strategy, "--evaluator", "stub",
         "--stub-delay-ms", "120", "--trials", "30", "--seed", "4"},
        strategy, 10);
    size_t finished = 0;
    for (auto& r : trials(strategy)) finished += r["state"] == "COMPLETE";
    ASSERT_LT(finished, 30u) << strategy;
    Output o = run("resume --name " + strategy + " --db " + db_);
    ASSERT_EQ(o.code, 0) << o.err;
    auto after = trials(strategy);
    ASSERT_EQ(after.size(), 30u) << strategy;
    for (size_t i = 0; i < 30; ++i) {
      EXPECT_EQ(after[i]["state"], "COMPLETE");
      EXPECT_EQ(after[i]["key"], ref[i]["key"]) << strategy << " trial " << i;
    }
    // Three workers: killed and resumed, every trial once, none lost.
    start_and_kill(
        {"search", "--name", strategy + "3", "--db", db_, "--strategy", strategy, "--evaluator",
         "stub", "--stub-delay-ms", "60", "--trials", "30", "--workers", "3", "--seed", "4"},
        strategy + "3", 12);
    ASSERT_EQ(run("resume --name " + strategy + "3 --db " + db_).code, 0);
    auto parallel = trials(strategy + "3");
    ASSERT_EQ(parallel.size(), 30u) << strategy;
    std::set<std::string> keys;
    for (auto& r : parallel) {
      EXPECT_EQ(r["state"], "COMPLETE");
      keys.insert(r["key"]);
    }
    EXPECT_EQ(keys.size(), 30u) << strategy;
  }
}

TEST_F(CliTest, SuccessiveHalvingPromotesTheBestThirdAndResumesExactly) {
  // Random proposals, and tpe's (with halving, that pairing is BOHB).
  for (const std::string strategy : {"random", "tpe"}) {
    SCOPED_TRACE(strategy);
    const std::string ref_name = "ref-" + strategy, killed = "k-" + strategy;
    const std::string args =
        " --evaluator stub --fidelity epochs --min-epochs 1 --max-epochs 9 --eta 3 --trials 27"
        " --seed 6 --strategy " +
        strategy;
    ASSERT_EQ(run("search --name " + ref_name + " --db " + db_ + args).code, 0);
    auto ref = trials(ref_name);
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
    start_and_kill({"search", "--name",          killed, "--db",       db_,      "--evaluator",
                    "stub",   "--stub-delay-ms", "50",   "--fidelity", "epochs", "--min-epochs",
                    "1",      "--max-epochs",    "9",    "--eta",      "3",      "--trials",
                    "27",     "--seed",          "6",    "--strategy", strategy},
                   killed, 14);
    Output o = run("resume --name " + killed + " --db " + db_);
    ASSERT_EQ(o.code, 0) << o.err;
    auto after = trials(killed);
    ASSERT_EQ(after.size(), 27u);
    for (size_t i = 0; i < 27; ++i) {
      EXPECT_EQ(after[i]["key"], ref[i]["key"]) << i;
      EXPECT_EQ(after[i]["state"], ref[i]["state"]) << i;
      EXPECT_EQ(after[i]["epochs"], ref[i]["epochs"]) << i;
    }
    expect_one_line_error(run("search --name x --db " + db_ +
                              " --evaluator stub --fidelity epochs --min-epochs 4 --max-epochs 2"),
                          "--max-epochs (2) must be >= --min-epochs (4)");
    expect_one_line_error(run("search --name x --db " + db_ + " --evaluator table --table " +
                              kTable + " --metric test_acc_mean --fidelity epochs"),
                          "--fidelity epochs needs an evaluator that trains");
  }
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
  // The stub takes 2 s a trial: the process stops long before its trial
  // ends (the trial is found WAITING, not COMPLETE, below).
  const int status = start_and_kill_when(
      {"search", "--name", "c", "--db", db_, "--evaluator", "stub", "--stub-delay-ms", "2000",
       "--trials", "3", "--seed", "1"},
      [&] {
        // The database itself, not `sylva trials`: a process spends about a
        // second in LibTorch's start-up here, which is not what is measured.
        if (access(db_.c_str(), F_OK) != 0) return false;
        auto store = sylva::experiments::Store::open(db_);
        if (!store.is_ok()) return false;
        auto experiment = store.value()->find_experiment("c");
        if (!experiment.is_ok()) return false;
        for (const auto& t : store.value()->trials(experiment.value().id)) {
          if (t.state == sylva::evaluators::TrialState::kRunning) return true;
        }
        return false;
      },
      SIGINT);
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

}  // namespace
