// End-to-end tests of the sylva binary: a search logged to SQLite and the
// reports that read the database (trials, best, status, a Pareto front), a
// config file under the command line, export of a genotype to JSON, a search
// seeded from a file, `sample`, and one clear stderr line for bad input.
// Kill -9, Ctrl-C and resume are in cli_resume_test.cc, supernets in
// cli_supernet_test.cc; the CliTest fixture in cli_fixture.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "tests/cli/cli_fixture.h"

namespace {

using sylva::testing::CliTest;
using sylva::testing::expect_one_line_error;
using sylva::testing::kTable;
using sylva::testing::Output;
using sylva::testing::slurp;

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
      "--strategy 'annealing' is unknown (strategies: evolution, mcts, nsga2, random, tpe)");
  // Every strategy's options reach it and are checked there.
  expect_one_line_error(
      run("search --name x --db " + db_ + " --strategy tpe --tpe-gamma 3 --evaluator stub"),
      "--tpe-gamma must be in [1e-06, 1], got 3");
  expect_one_line_error(
      run("search --name x --db " + db_ + " --strategy evolution --rave-k 3 --evaluator stub"),
      "--rave-k does not apply to --strategy evolution");
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
