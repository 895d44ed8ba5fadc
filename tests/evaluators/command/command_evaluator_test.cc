// The command evaluator on real processes: what a command sees (trial.json,
// environment, directory), how its reports become values, and how every way
// of ending (exit codes, signals, timeouts, rejection, a pruner's stop) is
// told apart, with no process left behind.
#include "evaluators/command/command_evaluator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "spaces/space.h"

namespace sylva::evaluators {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Whether process `pid` is gone (or a zombie nobody reaps: not ours).
bool gone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

// Polls `gone` for up to two seconds: a killed process takes a moment to die.
bool gone_soon(pid_t pid) {
  for (int i = 0; i < 200 && !gone(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return gone(pid);
}

struct Recorder : Reporter {
  void intermediate(int step, const std::string& name, double value) override {
    values.push_back({step, name, value});
    if (stop_after > 0 && static_cast<int>(values.size()) >= stop_after) stop = true;
  }
  bool should_stop() const override { return stop; }
  std::string stop_reason() const override { return "told to stop"; }
  struct Value {
    int step;
    std::string name;
    double value;
  };
  std::vector<Value> values;
  int stop_after = 0;
  std::atomic<bool> stop{false};
};

class CommandEvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("sylva-command-{}-{}", getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto space = make_space("nas-bench-macro");
    ASSERT_TRUE(space.is_ok());
    space_ = std::move(space).value();
    auto arch = space_->parse(
        "mbconv_e3_k3/identity/mbconv_e6_k5/identity/identity/mbconv_e3_k3/"
        "identity/mbconv_e6_k5");
    ASSERT_TRUE(arch.is_ok()) << arch.status().message();
    job_.arch = arch.value();
    job_.space = space_.get();
    job_.trial_number = 7;
    job_.seed = 12345;
    job_.experiment = "exp";
    job_.objective = "val_acc";
    job_.hparams = {{"lr", "0.03"}, {"optimizer", "sgd"}};
    job_.key = "lr=0.03/optimizer=sgd/" + job_.arch.key;
  }
  void TearDown() override { fs::remove_all(root_); }

  EvalResult run(const std::string& command, CommandOptions o = {}) {
    o.command = command;
    o.trial_root = root_.string();
    o.input = {1, 28, 28, 10};
    if (o.kill_grace == 10) o.kill_grace = 0.5;
    auto ev = make_command_evaluator(o);
    EXPECT_TRUE(ev.is_ok()) << ev.status().message();
    return ev.value()->evaluate(job_, reporter_);
  }
  fs::path dir() const { return root_ / "exp" / "7"; }

  fs::path root_;
  std::unique_ptr<Space> space_;
  Job job_;
  Recorder reporter_;
};

TEST_F(CommandEvaluatorTest, ReportsBecomeIntermediateAndFinalValues) {
  EvalResult r = run(
      "printf '{\"step\": 1, \"val_acc\": 50.5, \"loss\": 2}\\n{\"step\": 2, \"val_acc\": 61}\\n' "
      ">> \"$SYLVA_REPORT\"; echo 'prints do not matter {'; "
      "echo '{\"final\": true, \"val_acc\": 62.25, \"params\": 1000}' >> \"$SYLVA_REPORT\"");
  ASSERT_EQ(r.state, TrialState::kComplete) << r.message;
  EXPECT_EQ(r.metrics, (std::map<std::string, double>{{"val_acc", 62.25}, {"params", 1000}}));
  ASSERT_EQ(reporter_.values.size(), 3u);
  EXPECT_EQ(reporter_.values[0].step, 1);
  EXPECT_EQ(reporter_.values[0].name, "loss");
  EXPECT_EQ(reporter_.values[1].name, "val_acc");
  EXPECT_DOUBLE_EQ(reporter_.values[1].value, 50.5);
  EXPECT_EQ(reporter_.values[2].step, 2);
  EXPECT_DOUBLE_EQ(reporter_.values[2].value, 61);
  EXPECT_EQ(r.artifacts.at("stdout"), "prints do not matter {\n");
  EXPECT_EQ(slurp(dir() / "stdout.log"), "prints do not matter {\n");
}

TEST_F(CommandEvaluatorTest, TheCommandSeesItsTrial) {
  CommandOptions o;
  o.gpus = {3, 5};
  job_.slot = 1;
  job_.threads = 2;
  EvalResult r =
      run("pwd > cwd; env | grep -E '^(SYLVA_|CUDA_VISIBLE)' | sort > env; "
          "echo '{\"final\": true, \"val_acc\": 1}' > \"$SYLVA_REPORT\"",
          o);
  ASSERT_EQ(r.state, TrialState::kComplete) << r.message;
  EXPECT_EQ(slurp(dir() / "cwd"), dir().string() + "\n");
  const std::string env = slurp(dir() / "env");
  for (const std::string& line : std::vector<std::string>{
           "CUDA_VISIBLE_DEVICES=5", "SYLVA_TRIAL_NUMBER=7", "SYLVA_SEED=12345", "SYLVA_BUDGET=0",
           "SYLVA_THREADS=2", "SYLVA_TRIAL_DIR=" + dir().string(),
           "SYLVA_REPORT=" + (dir() / "report.jsonl").string(),
           "SYLVA_TRIAL_JSON=" + (dir() / "trial.json").string()}) {
    EXPECT_NE(env.find(line + "\n"), std::string::npos) << line << " not in\n" << env;
  }
  auto j = nlohmann::json::parse(slurp(dir() / "trial.json"));
  EXPECT_EQ(j["trial"], 7);
  EXPECT_EQ(j["seed"], 12345u);
  EXPECT_EQ(j["experiment"], "exp");
  EXPECT_EQ(j["key"], job_.key);
  EXPECT_EQ(j["hyperparameters"]["lr"], 0.03);
  EXPECT_EQ(j["hyperparameters"]["optimizer"], "sgd");
  EXPECT_EQ(j["decisions"].size(), 8u);
  EXPECT_EQ(j["input_shape"], nlohmann::json({1, 28, 28}));
  EXPECT_EQ(j["classes"], 10);
  EXPECT_EQ(j["budget"], 0);
  EXPECT_EQ(j["gpus"], "5");
  EXPECT_TRUE(j["previous_dir"].is_null());
}

TEST_F(CommandEvaluatorTest, ResultJsonServesForAFinalLine) {
  EvalResult r = run("echo '{\"val_acc\": 70, \"converged\": true}' > result.json");
  ASSERT_EQ(r.state, TrialState::kComplete) << r.message;
  EXPECT_EQ(r.metrics, (std::map<std::string, double>{{"val_acc", 70}, {"converged", 1}}));
  // The same rules as a report line: every field a number.
  EvalResult text = run("echo '{\"val_acc\": 70, \"note\": \"fine\"}' > result.json");
  EXPECT_EQ(text.state, TrialState::kFail);
  EXPECT_NE(text.message.find("result.json: not a JSON object of metrics: 'note' is not a number"),
            std::string::npos)
      << text.message;
}

TEST_F(CommandEvaluatorTest, EveryFailureSaysWhatHappened) {
  EvalResult garbage = run("echo 'not json' >> \"$SYLVA_REPORT\"; sleep 5");
  EXPECT_EQ(garbage.state, TrialState::kFail);
  EXPECT_NE(garbage.message.find("report.jsonl:1: not a JSON object: 'not json'"),
            std::string::npos)
      << garbage.message;

  EvalResult exit3 = run("echo 'loading data' >&2; echo 'out of memory' >&2; exit 3");
  EXPECT_EQ(exit3.state, TrialState::kFail);
  EXPECT_EQ(exit3.message, "command failed: exit status 3; stderr: loading data | out of memory");
  EXPECT_EQ(exit3.artifacts.at("stderr"), "loading data\nout of memory\n");

  EvalResult killed = run("kill -9 $$");
  EXPECT_EQ(killed.state, TrialState::kFail);
  EXPECT_EQ(killed.message, "command failed: killed by signal 9 (SIGKILL)");

  EvalResult silent = run("true");
  EXPECT_EQ(silent.state, TrialState::kFail);
  EXPECT_NE(silent.message.find("reported no final metrics"), std::string::npos);

  EvalResult no_step = run("echo '{\"val_acc\": 3}' >> \"$SYLVA_REPORT\"");
  EXPECT_EQ(no_step.state, TrialState::kFail);
  EXPECT_NE(no_step.message.find("report.jsonl:1: a line needs \"step\""), std::string::npos)
      << no_step.message;
}

TEST_F(CommandEvaluatorTest, TimeoutStopsTheWholeGroup) {
  job_.timeout_seconds = 0.3;
  CommandOptions o;
  o.kill_grace = 0.3;
  const auto start = std::chrono::steady_clock::now();
  // The command ignores SIGTERM and leaves a child behind: both must go.
  EvalResult r = run("trap '' TERM; sleep 60 & echo $! > child; echo $$ > pid; sleep 60; wait", o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.state, TrialState::kFail);
  EXPECT_NE(r.message.find("trial exceeded --trial-timeout of 0.3 s"), std::string::npos)
      << r.message;
  EXPECT_LT(seconds, 5);
  for (const char* f : {"pid", "child"}) {
    const pid_t pid = std::stoi(slurp(dir() / f));
    EXPECT_TRUE(gone_soon(pid)) << f << " " << pid << " survived";
  }
  EXPECT_TRUE(fs::exists(dir() / "stop"));
}

TEST_F(CommandEvaluatorTest, NothingOutlivesACompleteTrial) {
  EvalResult r = run(
      "sleep 60 & echo $! > child; echo '{\"final\": true, \"val_acc\": 1}' >> \"$SYLVA_REPORT\"");
  ASSERT_EQ(r.state, TrialState::kComplete) << r.message;
  EXPECT_TRUE(gone_soon(std::stoi(slurp(dir() / "child"))));
}

TEST_F(CommandEvaluatorTest, RejectionPrunesWithTheValuesReported) {
  CommandOptions o;
  o.reject_after = 2;
  o.reject_below = 40;
  EvalResult r =
      run("echo $$ > pid; for s in 1 2 3; do echo \"{\\\"step\\\": $s, \\\"val_acc\\\": 1$s}\" >> "
          "\"$SYLVA_REPORT\"; sleep 0.05; done; sleep 60",
          o);
  EXPECT_EQ(r.state, TrialState::kPruned) << r.message;
  EXPECT_EQ(r.message, "rejected at step 2: val_acc 12 is below --reject-below 40");
  EXPECT_DOUBLE_EQ(r.metrics.at("val_acc"), 12);
  EXPECT_TRUE(gone_soon(std::stoi(slurp(dir() / "pid"))));
}

TEST_F(CommandEvaluatorTest, APrunerStopsTheCommand) {
  reporter_.stop_after = 1;
  EvalResult r =
      run("echo $$ > pid; echo '{\"step\": 1, \"val_acc\": 9}' >> \"$SYLVA_REPORT\"; sleep 60");
  EXPECT_EQ(r.state, TrialState::kPruned);
  EXPECT_EQ(r.message, "told to stop");
  EXPECT_DOUBLE_EQ(r.metrics.at("val_acc"), 9);
  EXPECT_TRUE(gone_soon(std::stoi(slurp(dir() / "pid"))));
}

TEST_F(CommandEvaluatorTest, ARerunStartsInAFreshDirectory) {
  ASSERT_EQ(run("echo first > mark; echo '{\"final\": true, \"v\": 1}' > \"$SYLVA_REPORT\"").state,
            TrialState::kComplete);
  EvalResult again = run("ls > listing; echo '{\"final\": true, \"v\": 2}' > \"$SYLVA_REPORT\"");
  ASSERT_EQ(again.state, TrialState::kComplete);
  EXPECT_EQ(again.metrics.at("v"), 2);
  // The first run's directory is left as it was (its process may still run).
  EXPECT_EQ(slurp(dir() / "mark"), "first\n");
  const fs::path second = dir().string() + ".2";
  EXPECT_EQ(slurp(second / "listing").find("mark"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(slurp(second / "trial.json"))["trial_dir"], second.string());
}

TEST_F(CommandEvaluatorTest, AShellsChildrenGetTheWholeGraceToSaveTheirWork) {
  CommandOptions o;
  o.kill_grace = 5;
  o.reject_after = 1;
  o.reject_below = 50;
  // A compound command: sh itself dies of the SIGTERM at once; its child
  // traps it and takes 0.3 s to save a checkpoint. (Short foreground sleeps:
  // a background child forked as the SIGTERM lands may miss it, by the
  // shell's own rules, and live on to the SIGKILL.)
  const auto start = std::chrono::steady_clock::now();
  EvalResult r =
      run("sh -c 'trap \"sleep 0.3; echo saved > saved; exit 0\" TERM; "
          "echo \"{\\\"step\\\": 1, \\\"val_acc\\\": 3}\" >> \"$SYLVA_REPORT\"; while :; do sleep "
          "0.1; done'; "
          "echo unreachable",
          o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.state, TrialState::kPruned) << r.message;
  EXPECT_EQ(slurp(dir() / "saved"), "saved\n");
  EXPECT_LT(seconds, 4);  // ended by itself, not by the SIGKILL after 5 s
}

TEST_F(CommandEvaluatorTest, AssignmentsBeforeTheProgramWork) {
  EvalResult r =
      run("WHO=me sh -c 'echo \"{\\\"final\\\": true, \\\"v\\\": 1}\" > \"$SYLVA_REPORT\"'");
  EXPECT_EQ(r.state, TrialState::kComplete) << r.message;
}

TEST_F(CommandEvaluatorTest, ANullObjectiveOrARewrittenReportFails) {
  EvalResult null = run("echo '{\"final\": true, \"val_acc\": null}' > \"$SYLVA_REPORT\"");
  EXPECT_EQ(null.state, TrialState::kFail);
  EXPECT_EQ(null.message, "the final val_acc is null (not a number)");
  EvalResult shrunk =
      run("echo '{\"step\": 1, \"val_acc\": 10}' >> \"$SYLVA_REPORT\"; sleep 0.2; "
          "echo '{}' > \"$SYLVA_REPORT\"; sleep 0.2; echo '{\"final\": true, \"val_acc\": 1}' >> "
          "\"$SYLVA_REPORT\"");
  EXPECT_EQ(shrunk.state, TrialState::kFail);
  EXPECT_NE(shrunk.message.find("the report shrank: it was rewritten, not appended to (use >>)"),
            std::string::npos)
      << shrunk.message;
}

TEST_F(CommandEvaluatorTest, PromotionsNameTheirBudgetAndThePreviousRung) {
  job_.epochs = 3;
  job_.previous_epochs = 1;
  EvalResult r =
      run("echo \"$SYLVA_BUDGET $SYLVA_PREVIOUS_DIR\" > seen; echo '{\"final\": true, \"v\": 1}' > "
          "\"$SYLVA_REPORT\"");
  ASSERT_EQ(r.state, TrialState::kComplete) << r.message;
  const fs::path rung = root_ / "exp" / "7-e3";
  EXPECT_EQ(slurp(rung / "seen"), "3 " + (root_ / "exp" / "7-e1").string() + "\n");
  EXPECT_EQ(nlohmann::json::parse(slurp(rung / "trial.json"))["budget"], 3);
}

TEST_F(CommandEvaluatorTest, OutputIsKeptBounded) {
  EvalResult r = run(
      "i=0; while [ $i -lt 2000 ]; do echo \"line $i of a long log "
      "................................."
      "...........\"; i=$((i+1)); done; echo '{\"final\": true, \"v\": 1}' > \"$SYLVA_REPORT\"");
  ASSERT_EQ(r.state, TrialState::kComplete) << r.message;
  const std::string& tail = r.artifacts.at("stdout");
  EXPECT_EQ(tail.size(), kLogTail);
  EXPECT_NE(tail.find("line 1999 of a long log"), std::string::npos);
  EXPECT_EQ(tail.find("line 0 of"), std::string::npos);
  EXPECT_GT(fs::file_size(dir() / "stdout.log"), kLogTail);
}

TEST(CommandOptionsTest, GpusAreNamedOnce) {
  EXPECT_EQ(parse_gpus("0,1,3").value(), (std::vector<int>{0, 1, 3}));
  EXPECT_TRUE(parse_gpus("").value().empty());
  EXPECT_EQ(parse_gpus("0,1,0").status().message(), "--gpus names GPU 0 twice in '0,1,0'");
  EXPECT_EQ(parse_gpus("0,x").status().message(),
            "--gpus expects GPU numbers separated by commas (e.g. 0,1) or 'all', got 'x' in "
            "'0,x'");
}

TEST(CommandOptionsTest, AMissingProgramIsFoundBeforeAnyTrial) {
  EXPECT_TRUE(check_command("sh -c 'exit 0'").is_ok());
  EXPECT_TRUE(check_command("/bin/sh x.sh").is_ok());
  EXPECT_TRUE(check_command("cd /tmp && ./run").is_ok());  // the shell's business
  EXPECT_EQ(check_command("pyhton3 train.py")
                .message()
                .rfind("--command: 'pyhton3' is not found on PATH (", 0),
            0u);
  EXPECT_EQ(check_command("examples/train.sh --fast").message(),
            "--command: 'examples/train.sh' is a relative path, but the command runs in its "
            "trial directory; give an absolute path (e.g. $PWD/examples/train.sh)");
  const std::string plain = ::testing::TempDir() + "/sylva-not-executable.txt";
  std::ofstream(plain) << "echo hi\n";
  fs::permissions(plain, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(check_command(plain).message(), "--command: '" + plain + "' is not an executable file");
}

}  // namespace
}  // namespace sylva::evaluators
