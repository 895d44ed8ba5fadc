// Runs that cannot succeed and commands that cannot mean what they say
// (issue list "Nothing slips through", 5 and 8): refused before the first
// trial with one line and nothing made; a run in which nothing completed
// fails; resume keeps its budget above what is finished and says which
// values are stored; --config serves every verb; one exit-code rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/cli_fixture.h"

namespace sylva::testing {
namespace {

namespace fs = std::filesystem;

TEST_F(CliTest, RunsThatCannotSucceedAreRefusedBeforeTheFirstTrial) {
  const std::string grammar = dir_ + "/stages.txt";
  std::ofstream(grammar) << "%builder chain\n%stem 8\n%stages 1 1 1\nnet -> layer layer\n"
                            "layer -> \"conv3x3\" | \"identity\"\n";
  Output stages = run("search --name s --db " + db_ + " --space " + grammar +
                      " --trials 2 --epochs 1 --train-samples 64 --val-samples 32 "
                      "--test-samples 32");
  expect_one_line_error(stages, "no architecture of space " + grammar +
                                    " can be evaluated (3 sampled before the first trial): "
                                    "chain: stages {1 1 1} sum to 3 layers but the "
                                    "architecture has 2 primitives");
  EXPECT_EQ(stages.code, 2);
  Output objective =
      run("search --name o --db " + db_ + " --evaluator stub --objective acc --trials 2");
  expect_one_line_error(objective,
                        "--objective acc: evaluator stub never reports it (it reports val_acc "
                        "and depth)");
  EXPECT_EQ(objective.code, 2);
  // Another evaluator's option would be stored and never read.
  Output lr = run("search --name l --db " + db_ + " --evaluator stub --lr 0.1 --trials 2");
  expect_one_line_error(lr, "--lr applies to --evaluator train, got --evaluator stub");
  EXPECT_EQ(lr.code, 2);
  Output shared = run("search --name v --db " + db_ + " --evaluator stub --val-samples 5");
  expect_one_line_error(shared,
                        "--val-samples applies to --evaluator supernet and --evaluator train, "
                        "got --evaluator stub");
  EXPECT_FALSE(fs::exists(db_)) << "a refused run made the database";
  // Nothing completes: the run fails, naming the first failure.
  Output none = run("search --name f --db " + db_ +
                    " --evaluator command --command false --model-file no --trials 2");
  EXPECT_EQ(none.code, 1) << none.err;
  EXPECT_NE(none.err.find("sylva: no trial of experiment 'f' completed (trial 0: command failed: "
                          "exit status 1"),
            std::string::npos)
      << none.err;
  EXPECT_EQ(std::count(none.err.begin(), none.err.end(), '\n'), 1) << none.err;
}

TEST_F(CliTest, ResumeKeepsItsBudgetAboveTheFinishedTrialsAndSaysWhatIsStored) {
  ASSERT_EQ(run("search --name e --db " + db_ + " --evaluator stub --trials 10").code, 0);
  Output lower = run("resume --name e --db " + db_ + " --trials 5");
  expect_one_line_error(lower,
                        "resume: --trials 5 is below the 10 trial(s) experiment 'e' has "
                        "finished; the budget counts them, so give 10 or more");
  EXPECT_EQ(lower.code, 2);
  Output st = run("status --db " + db_ + " -f json");
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_EQ(nlohmann::json::parse(st.out)[0]["budget"], 10);
  Output help = run("resume --help");
  ASSERT_EQ(help.code, 0);
  for (const std::string option : {"--trials", "--workers"}) {
    const size_t at = help.out.find(option + " arg");
    ASSERT_NE(at, std::string::npos) << help.out;
    // Its help, wrapped over lines, up to the next option.
    const std::string line = help.out.substr(at, help.out.find("\n  --", at) - at);
    EXPECT_NE(line.find("[stored]"), std::string::npos) << line;
  }
  EXPECT_EQ(help.out.find("[20]"), std::string::npos) << help.out;
}

TEST_F(CliTest, OneConfigFileServesEveryVerb) {
  const std::string ini = dir_ + "/e.ini";
  std::ofstream(ini) << "name = e\ndb = " << db_ << "\nevaluator = stub\ntrials = 4\nseed = 3\n"
                     << "format = csv\n";
  ASSERT_EQ(run("search --config " + ini).code, 0);
  Output rows = run("trials --config " + ini);
  ASSERT_EQ(rows.code, 0) << rows.err;
  EXPECT_EQ(std::count(rows.out.begin(), rows.out.end(), '\n'), 1 + 4) << rows.out;
  EXPECT_EQ(run("best --config " + ini).code, 0);
  EXPECT_EQ(run("status --config " + ini).code, 0);
  Output exported =
      run("export --config " + ini + " --trial best --format json --out " + dir_ + "/b.json");
  EXPECT_EQ(exported.code, 0) << exported.err;
  EXPECT_TRUE(fs::exists(dir_ + "/b.json"));
  // A key that is no option of sylva at all is still an error.
  std::ofstream(ini, std::ios::app) << "trails = 9\n";
  Output typo = run("trials --config " + ini);
  expect_one_line_error(typo, ini + ": unrecognised option 'trails'");
  EXPECT_EQ(typo.code, 2);
}

TEST_F(CliTest, EveryVerbGivesTheSameExitCodeForTheSameMistake) {
  ASSERT_EQ(run("search --name e --db " + db_ + " --evaluator stub --trials 2").code, 0);
  const std::string missing = dir_ + "/missing.db";
  for (const std::string verb : {"status", "trials", "best", "resume", "worker"}) {
    // A database or an experiment named that is not there: the user's to fix.
    Output no_db = run(verb + " --name e --db " + missing);
    expect_one_line_error(no_db, verb + ": database '" + missing + "' does not exist");
    EXPECT_EQ(no_db.code, 2) << verb;
    if (verb == "status") continue;
    Output no_name = run(verb + " --name nope --db " + db_);
    expect_one_line_error(no_name, "no experiment named 'nope'");
    EXPECT_EQ(no_name.code, 2) << verb;
  }
  Output trial = run("export --name e --db " + db_ + " --trial 7 --format json --out x.json");
  expect_one_line_error(trial, "export: experiment 'e' has no trial 7 (it has 2)");
  EXPECT_EQ(trial.code, 2);
  Output logs = run("logs --name e --db " + db_ + " --trial 7");
  expect_one_line_error(logs, "logs: experiment 'e' has no trial 7");
  EXPECT_EQ(logs.code, 2);
  Output taken = run("search --name e --db " + db_ + " --evaluator stub --trials 2");
  expect_one_line_error(taken, "experiment 'e' already exists");
  EXPECT_EQ(taken.code, 2);
}

}  // namespace
}  // namespace sylva::testing
