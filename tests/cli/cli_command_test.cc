// `sylva search --evaluator command` end to end: the example PyTorch script
// as the evaluator, scripts that fail in every way, pruning, GPU slots, a
// SIGKILL of sylva itself and the resume after it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cli_fixture.h"
#include "experiments/store.h"
#include "small_grammar.h"

namespace sylva::testing {
namespace {

using experiments::Store;
using experiments::TrialRow;

bool gone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

// Every pid listed in `file` (one per line) is gone within two seconds.
void expect_all_gone(const std::string& file) {
  std::istringstream in(slurp(file));
  int count = 0;
  for (pid_t pid; in >> pid; ++count) {
    for (int i = 0; i < 200 && !gone(pid); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(gone(pid)) << "process " << pid << " outlived its trial";
  }
  EXPECT_GT(count, 0) << "no pid recorded in " << file;
}

bool python_has_torch() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

class CommandCliTest : public CliTest {
 protected:
  // Writes `body` as DIR/NAME.sh and returns the --command running it.
  std::string script(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name + ".sh";
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0755);
    return "--command " + path;
  }
  std::string grammar() {
    const std::string path = dir_ + "/small.grammar";
    std::ofstream(path) << kSmallGrammar;
    return path;
  }
  std::vector<TrialRow> stored_trials(const std::string& name) {
    auto store = Store::open(db_).value();
    return store->trials(store->find_experiment(name).value().id);
  }
};

// The one-line report and final line of the protocol, in shell.
constexpr const char* kReport =
    "report() { echo \"{\\\"step\\\": $1, \\\"val_acc\\\": $2}\" >> \"$SYLVA_REPORT\"; }\n"
    "finish() { echo \"{\\\"final\\\": true, \\\"val_acc\\\": $1}\" >> \"$SYLVA_REPORT\"; }\n";

TEST_F(CommandCliTest, TheExampleScriptTrainsEachTrialAndReportsEveryEpoch) {
  if (!python_has_torch()) GTEST_SKIP() << "python3-torch is not installed";
  const std::string command = std::string("--command '/usr/bin/python3 ") + SYLVA_SOURCE_DIR +
                              "/examples/train_fashion_mnist.py --train-images 1024 "
                              "--val-images 256 --epochs 2'";
  Output o =
      run("search --name py --db " + db_ + " --space " + grammar() + " --evaluator command " +
          command + " --trials 4 --workers 2 --threads-per-worker 1 --seed 2");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  auto store = Store::open(db_).value();
  const int64_t id = store->find_experiment("py").value().id;
  std::map<int64_t, std::map<int, double>> curves;
  for (const auto& v : store->intermediates(id)) {
    if (v.name == "val_acc") curves[v.trial_number][v.step] = v.value;
  }
  std::set<std::string> keys;
  for (const TrialRow& t : store->trials(id)) {
    ASSERT_EQ(t.state, experiments::TrialState::kComplete) << t.number << ": " << t.message;
    keys.insert(t.arch_key);
    // The script's own per-epoch values, and its final one is the last epoch's.
    ASSERT_EQ(curves[t.number].size(), 2u) << t.number;
    EXPECT_DOUBLE_EQ(t.metrics.at("val_acc"), curves[t.number][2]);
    EXPECT_GT(t.metrics.at("val_acc"), 10);  // better than chance on 10 classes
    EXPECT_GT(t.metrics.at("params"), 0);
    EXPECT_TRUE(std::ifstream(db_ + ".trials/py/" + std::to_string(t.number) + "/model.pt").good());
  }
  EXPECT_EQ(keys.size(), 4u);
}

TEST_F(CommandCliTest, ASigkillOfSylvaLeavesNoProcessAndResumeFinishesTheBudget) {
  const std::string pids = dir_ + "/pids";
  const std::string command = script("slow", std::string(kReport) + "echo $$ >> " + pids +
                                                 "\nsleep 0.4\nreport 1 50\nsleep 0.4\n"
                                                 "finish $SYLVA_TRIAL_NUMBER\n");
  std::vector<std::string> args = {
      "search",      "--name",  "k",        "--db", db_,         "--space", grammar(),
      "--evaluator", "command", "--trials", "7",    "--workers", "2"};
  std::istringstream words(command);
  for (std::string w; words >> w;) args.push_back(w);
  start_and_kill(args, "k", 2);
  expect_all_gone(pids);
  Output o = run("resume --name k --db " + db_);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  expect_all_gone(pids);
  std::set<std::string> keys;
  int complete = 0;
  for (const TrialRow& t : stored_trials("k")) {
    complete += t.state == experiments::TrialState::kComplete;
    keys.insert(t.arch_key);
  }
  EXPECT_EQ(complete, 7);
  EXPECT_EQ(keys.size(), 7u);  // each architecture once
}

TEST_F(CommandCliTest, EveryKindOfFailureIsATrialsFailureAndTheSearchGoesOn) {
  const std::string command =
      script("moody", std::string(kReport) +
                          "case $SYLVA_TRIAL_NUMBER in\n"
                          "0) echo 'epoch 1 {oops' >> \"$SYLVA_REPORT\"; sleep 30;;\n"
                          "1) echo 'CUDA error: out of memory' >&2; exit 3;;\n"
                          "2) sleep 30;;\n"
                          "3) kill -9 $$;;\n"
                          "*) report 1 40; finish 41;;\n"
                          "esac\n");
  const auto start = std::chrono::steady_clock::now();
  Output o = run("search --name f --db " + db_ + " --space " + grammar() + " --evaluator command " +
                 command + " --trials 6 --workers 2 --trial-timeout 1 --kill-grace 0.2");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  auto trials = stored_trials("f");
  ASSERT_EQ(trials.size(), 6u);
  using experiments::TrialState;
  EXPECT_EQ(trials[0].state, TrialState::kFail);
  EXPECT_NE(trials[0].message.find("report.jsonl:1: not a JSON object: 'epoch 1 {oops'"),
            std::string::npos)
      << trials[0].message;
  EXPECT_EQ(trials[1].state, TrialState::kFail);
  EXPECT_EQ(trials[1].message, "command failed: exit status 3; stderr: CUDA error: out of memory");
  EXPECT_EQ(trials[2].state, TrialState::kFail);
  EXPECT_NE(trials[2].message.find("trial exceeded --trial-timeout of 1 s"), std::string::npos);
  EXPECT_EQ(trials[3].state, TrialState::kFail);
  EXPECT_EQ(trials[3].message, "command failed: killed by signal 9 (SIGKILL)");
  for (int i : {4, 5}) {
    EXPECT_EQ(trials[i].state, TrialState::kComplete) << trials[i].message;
    EXPECT_EQ(trials[i].metrics.at("val_acc"), 41);
  }
  Output logs = run("logs --name f --db " + db_ + " --trial 1");
  ASSERT_EQ(logs.code, 0) << logs.err;
  EXPECT_NE(logs.out.find("== stderr (26 bytes) ==\nCUDA error: out of memory\n"),
            std::string::npos)
      << logs.out;
}

TEST_F(CommandCliTest, RejectionStopsLowStartsAndKeepsTheirValues) {
  const std::string pids = dir_ + "/pids";
  const std::string command = script(
      "reject", std::string(kReport) + "echo $$ >> " + pids +
                    "\nif [ $((SYLVA_TRIAL_NUMBER % 2)) = 1 ]; then report 1 10; sleep 30; fi\n"
                    "report 1 90; finish 91\n");
  Output o =
      run("search --name r --db " + db_ + " --space " + grammar() + " --evaluator command " +
          command + " --trials 4 --workers 2 --reject-after 1 --reject-below 50 --kill-grace 0.2");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  for (const TrialRow& t : stored_trials("r")) {
    if (t.number % 2) {
      EXPECT_EQ(t.state, experiments::TrialState::kPruned);
      EXPECT_EQ(t.message, "rejected at step 1: val_acc 10 is below --reject-below 50");
      EXPECT_EQ(t.metrics.at("val_acc"), 10);
    } else {
      EXPECT_EQ(t.state, experiments::TrialState::kComplete);
      EXPECT_EQ(t.metrics.at("val_acc"), 91);
    }
  }
  expect_all_gone(pids);
}

TEST_F(CommandCliTest, TheMedianRuleStopsTrialsBelowTheCompletedOnes) {
  const std::string pids = dir_ + "/pids";
  // Trials 0 and 1 complete with 80 and 84 at steps 1-2; trial 2 reports 30
  // at step 1 and would then sleep; trial 3 reports 95 and completes.
  const std::string command = script("median", std::string(kReport) + "echo $$ >> " + pids +
                                                   "\ncase $SYLVA_TRIAL_NUMBER in\n"
                                                   "0) report 1 80; report 2 80; finish 80;;\n"
                                                   "1) report 1 84; report 2 84; finish 84;;\n"
                                                   "2) report 1 30; sleep 30; finish 30;;\n"
                                                   "*) report 1 95; report 2 95; finish 95;;\n"
                                                   "esac\n");
  Output o =
      run("search --name m --db " + db_ + " --space " + grammar() + " --evaluator command " +
          command + " --trials 4 --workers 1 --prune median --prune-startup 2 --kill-grace 0.2");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  auto trials = stored_trials("m");
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(trials[2].state, experiments::TrialState::kPruned);
  EXPECT_EQ(trials[2].message,
            "pruned at step 1: best val_acc so far 30 is below the median 82 of 2 completed "
            "trial(s) at that step");
  EXPECT_EQ(trials[2].metrics.at("val_acc"), 30);
  for (int i : {0, 1, 3}) EXPECT_EQ(trials[i].state, experiments::TrialState::kComplete);
  expect_all_gone(pids);
}

TEST_F(CommandCliTest, TwoConcurrentTrialsNeverShareAGpu) {
  const std::string log = dir_ + "/gpu.log";
  // Each trial holds its GPU for a while and records when, to the nanosecond.
  const std::string command = script(
      "gpu", std::string(kReport) + "echo \"start $CUDA_VISIBLE_DEVICES $(date +%s%N)\" >> " + log +
                 "\nsleep 0.3\necho \"end $CUDA_VISIBLE_DEVICES $(date +%s%N)\" >> " + log +
                 "\nfinish 1\n");
  Output o = run("search --name g --db " + db_ + " --space " + grammar() + " --evaluator command " +
                 command + " --trials 6 --gpus 0,1");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("2 worker(s)"), std::string::npos) << o.out;  // one per GPU slot
  std::istringstream in(slurp(log));
  std::map<std::string, int> holders;  // GPU -> trials holding it now
  std::set<std::string> used;
  std::vector<std::tuple<long long, int, std::string>> events;
  for (std::string what, gpu; in >> what >> gpu;) {
    long long at;
    in >> at;
    events.emplace_back(at, what == "start" ? 1 : 0, gpu);  // ends sort before starts
    used.insert(gpu);
  }
  std::sort(events.begin(), events.end());
  ASSERT_EQ(events.size(), 12u);
  for (const auto& [at, start, gpu] : events) {
    holders[gpu] += start ? 1 : -1;
    EXPECT_LE(holders[gpu], 1) << "GPU " << gpu << " shared at " << at;
  }
  EXPECT_EQ(used, (std::set<std::string>{"0", "1"}));
}

TEST_F(CommandCliTest, MistakesAreRefusedBeforeTheFirstTrial) {
  const std::string base = "search --name bad --db " + db_ + " --space " + grammar() +
                           " --evaluator command --trials 2 ";
  Output missing = run(base + "--command 'pyhton3 train.py'");
  expect_one_line_error(missing, "--command: 'pyhton3' is not found on PATH");
  EXPECT_EQ(missing.code, 2);
  Output none = run(base);
  expect_one_line_error(none, "--evaluator command needs --command");
  Output twice = run(base + "--command true --gpus 0,1,0");
  expect_one_line_error(twice, "--gpus names GPU 0 twice in '0,1,0'");
  EXPECT_EQ(twice.code, 2);
  Output crowded = run(base + "--command true --gpus 0,1 --workers 3");
  expect_one_line_error(
      crowded, "--workers 3 is more than the GPU slots: --gpus 0,1 x --trials-per-gpu 1 = 2");
  Output exclusive = run("search --name bad --db " + db_ + " --evaluator stub --gpus 0");
  expect_one_line_error(exclusive, "--gpus applies to --evaluator command");
  // Nothing was made.
  EXPECT_EQ(run("status --db " + db_).out.find("bad"), std::string::npos);
}

}  // namespace
}  // namespace sylva::testing

namespace sylva::testing {
namespace {

TEST_F(CommandCliTest, SuccessiveHalvingRerunsTheCommandWithTheRungsBudget) {
  const std::string log = dir_ + "/runs.log";
  // val_acc grows with the trial number: trial 2 is the one promoted.
  const std::string command =
      script("rungs", std::string(kReport) + "echo \"$SYLVA_TRIAL_NUMBER $SYLVA_BUDGET " +
                          "${SYLVA_PREVIOUS_DIR:-none} $(basename \"$PWD\")\" >> " + log +
                          "\nfinish $((SYLVA_TRIAL_NUMBER * 10 + SYLVA_BUDGET))\n");
  Output o = run("search --name h --db " + db_ + " --space " + grammar() + " --evaluator command " +
                 command + " --trials 3 --fidelity epochs --min-epochs 1 --max-epochs 3 --eta 3");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  std::istringstream in(slurp(log));
  std::multiset<std::string> runs;
  for (std::string line; std::getline(in, line);) runs.insert(line);
  const std::string trials = db_ + ".trials/h/";
  EXPECT_EQ(runs, (std::multiset<std::string>{"0 1 none 0-e1", "1 1 none 1-e1", "2 1 none 2-e1",
                                              "2 3 " + trials + "2-e1 2-e3"}));
  auto stored = stored_trials("h");
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[2].state, experiments::TrialState::kComplete);
  EXPECT_EQ(stored[2].metrics.at("val_acc"), 23);
  EXPECT_EQ(stored[0].state, experiments::TrialState::kPruned);
}

TEST_F(CommandCliTest, AWorkerElsewhereBringsItsOwnGpusAndStatusShowsWhoHoldsWhich) {
  const std::string log = dir_ + "/gpus.log";
  const std::string command =
      script("hold", std::string(kReport) + "echo $CUDA_VISIBLE_DEVICES >> " + log +
                         "\nsleep 0.6\nfinish 1\n");
  Output searched;
  std::thread search([&] {
    searched = run("search --name w --db " + db_ + " --space " + grammar() +
                   " --evaluator command " + command + " --trials 9 --gpus 0");
  });
  // Once the experiment runs, a worker joins with a GPU of its own, and the
  // status lists the GPU of each running trial.
  bool status_shows_gpu = false;
  for (int i = 0; i < 200 && !status_shows_gpu; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Output s = run("status --name w --db " + db_);
    status_shows_gpu = s.code == 0 && s.out.find("(GPU 0)") != std::string::npos;
  }
  EXPECT_TRUE(status_shows_gpu);
  Output worker = run("worker --name w --db " + db_ + " --gpus 7");
  search.join();
  ASSERT_EQ(searched.code, 0) << searched.out << searched.err;
  ASSERT_EQ(worker.code, 0) << worker.out << worker.err;
  std::istringstream in(slurp(log));
  std::multiset<std::string> gpus;
  for (std::string g; in >> g;) gpus.insert(g);
  EXPECT_EQ(gpus.size(), 9u);
  EXPECT_GT(gpus.count("0"), 0u);
  EXPECT_GT(gpus.count("7"), 0u) << "the worker evaluated nothing";
  EXPECT_EQ(gpus.count("0") + gpus.count("7"), 9u);
}

}  // namespace
}  // namespace sylva::testing
