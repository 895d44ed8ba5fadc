// Hyperparameters through the sylva binary: `--hparam` searched with the
// architecture, a column per hyperparameter in `trials` and `best`, the
// values in `export` JSON, a resume rebuilt from the stored space alone;
// `%hparam` errors at FILE:LINE:COL with exit 2; names the train evaluator
// does not know refused before the first trial; and a joint search on
// Fashion-MNIST where the learning rate matters finds the good one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/cli/cli_fixture.h"
#include "tests/cli/small_grammar.h"

namespace {

using sylva::testing::CliTest;
using sylva::testing::expect_one_line_error;
using sylva::testing::Output;
using sylva::testing::slurp;

TEST_F(CliTest, HparamSearchHasAColumnPerHyperparameterAndExportsTheValues) {
  Output o = run("search --name h --db " + db_ +
                 " --space nas-bench-macro --hparam lr=0.01,0.1 --hparam opt=sgd,adamw"
                 " --evaluator stub --trials 6 --seed 1");
  ASSERT_EQ(o.code, 0) << o.err;
  auto rows = trials("h");
  ASSERT_EQ(rows.size(), 6u);
  std::set<std::string> lrs;
  for (auto& r : rows) {
    EXPECT_EQ(r["state"], "COMPLETE");
    ASSERT_TRUE(r.count("lr") && r.count("opt")) << "no lr/opt column";
    EXPECT_TRUE(r["lr"] == "0.01" || r["lr"] == "0.1") << r["lr"];
    EXPECT_TRUE(r["opt"] == "sgd" || r["opt"] == "adamw") << r["opt"];
    EXPECT_EQ(r["key"].rfind("lr=" + r["lr"] + "/opt=" + r["opt"] + "/", 0), 0u) << r["key"];
    lrs.insert(r["lr"]);
  }
  EXPECT_EQ(lrs.size(), 2u);
  // The columns sit after the key, in declaration order.
  Output csv = run("trials --name h --db " + db_ + " -f csv");
  EXPECT_EQ(csv.out.rfind("number,state,key,lr,opt,", 0), 0u) << csv.out;

  Output b = run("best --name h --db " + db_ + " -f json");
  ASSERT_EQ(b.code, 0) << b.err;
  auto best = nlohmann::json::parse(b.out);
  ASSERT_EQ(best.size(), 1u);
  const std::string best_lr = best[0]["lr"].get<std::string>();
  const std::string best_key = best[0]["key"].get<std::string>();
  EXPECT_EQ(best_key.rfind("lr=" + best_lr + "/", 0), 0u);

  ASSERT_EQ(run("export --name h --db " + db_ + " --out " + dir_ + "/best.json").code, 0);
  auto j = nlohmann::json::parse(slurp(dir_ + "/best.json"));
  ASSERT_TRUE(j.contains("hyperparameters")) << j.dump();
  EXPECT_DOUBLE_EQ(j["hyperparameters"]["lr"].get<double>(), std::stod(best_lr));
  EXPECT_EQ(j["hyperparameters"]["opt"], best[0]["opt"]);
  EXPECT_EQ(j["key"], best_key);  // the full key, hyperparameters included
  EXPECT_EQ(j["canonical"].get<std::string>().rfind("lr=" + best_lr + "/opt=", 0), 0u);
  EXPECT_EQ(j["decisions"].size(), 10u);  // two hyperparameters, eight layers

  // Resume rebuilds the space, hyperparameters included, from the database.
  Output r = run("resume --name h --db " + db_ + " --trials 9");
  ASSERT_EQ(r.code, 0) << r.err;
  auto more = trials("h");
  ASSERT_EQ(more.size(), 9u);
  for (auto& row : more) EXPECT_FALSE(row["lr"].empty()) << row["key"];
  expect_one_line_error(run("resume --name h --db " + db_ + " --hparam lr=1"),
                        "resume: --hparam is fixed when the experiment is created");

  Output s = run("sample --space nb201 --hparam 'lr=log(1e-3,1e-1,3)' -n 3 --seed 2 -f csv");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find("\nlr="), std::string::npos) << s.out;
}

TEST_F(CliTest, MalformedHparamLineIsAnErrorAtItsLineAndColumn) {
  const std::string path = dir_ + "/bad.grammar";
  std::ofstream(path) << "net -> layer layer\n"
                         "%hparam lr = 0.1 || 0.2\n"
                         "layer -> \"conv3x3\" | \"identity\"\n";
  Output o = run("search --name x --db " + db_ + " --space " + path + " --evaluator stub");
  EXPECT_EQ(o.code, 2);
  expect_one_line_error(o, path + ":2:19: empty value");
  // Declared in the file and on the command line: both places named.
  std::ofstream(path) << "%hparam lr = 0.1 | 0.2\n"
                         "net -> layer layer\n"
                         "layer -> \"conv3x3\" | \"identity\"\n";
  Output twice =
      run("search --name x --db " + db_ + " --space " + path + " --hparam lr=1,2 --evaluator stub");
  EXPECT_EQ(twice.code, 2);
  expect_one_line_error(twice, "--hparam lr is declared by space '" + path +
                                   "' too (%hparam lr = 0.1 | 0.2); declare it in one place");
  Output bad_option = run("search --name x --db " + db_ + " --hparam lr=0.1,,0.2 --evaluator stub");
  EXPECT_EQ(bad_option.code, 2);
  expect_one_line_error(bad_option, "--hparam 'lr=0.1,,0.2': empty value");
}

TEST_F(CliTest, TrainRefusesAnUnknownHyperparameterBeforeTheFirstTrial) {
  Output o = run("search --name u --db " + db_ +
                 " --hparam foo=1,2 --evaluator train --train-samples 200 --val-samples 100"
                 " --test-samples 100 --trials 2");
  EXPECT_EQ(o.code, 2);
  expect_one_line_error(o,
                        "--evaluator train has no hyperparameter 'foo' (it knows batch_size, "
                        "epochs, label_smoothing, lr, momentum, optimizer, weight_decay)");
  Output bad = run("search --name u --db " + db_ +
                   " --hparam optimizer=sgd,rmsprop --evaluator train --train-samples 200"
                   " --val-samples 100 --test-samples 100 --trials 2");
  EXPECT_EQ(bad.code, 2);
  expect_one_line_error(bad, "hyperparameter 'optimizer': 'rmsprop' is not sgd or adamw");
  // Nothing ran: no experiment was made.
  EXPECT_NE(run("trials --name u --db " + db_).code, 0);
}

// The issue's behavioural check: "A joint search where the learning rate
// matters: on Fashion-MNIST with --hparam lr=0.0001,0.05 the best trial found
// has the good learning rate". One epoch of 2,000 images: at lr 0.0001 a
// network stays near chance (8-11% val_acc here), at 0.05 it learns (38-52%).
// About 5 s on 2 cores.
TEST_F(CliTest, JointSearchWhereTheLearningRateMattersFindsTheGoodOne) {
  const std::string grammar = dir_ + "/small.grammar";
  std::ofstream(grammar) << sylva::testing::kSmallGrammar;
  Output o = run("search --name lr --db " + db_ + " --space " + grammar +
                 " --hparam lr=0.0001,0.05 --evaluator train --strategy random --trials 4"
                 " --workers 1 --threads-per-worker 2 --epochs 1 --train-samples 2000"
                 " --val-samples 500 --test-samples 500 --batch-size 32 --seed 4");
  ASSERT_EQ(o.code, 0) << o.err;
  auto rows = trials("lr");
  ASSERT_EQ(rows.size(), 4u);
  std::set<std::string> tried;
  double good = 0, poor = 100;
  for (auto& r : rows) {
    ASSERT_EQ(r["state"], "COMPLETE") << r["message"];
    tried.insert(r["lr"]);
    const double acc = std::stod(r["val_acc"]);
    if (r["lr"] == "0.05") good = std::max(good, acc);
    if (r["lr"] == "0.0001") poor = std::min(poor, acc);
  }
  // The seed draws both learning rates, so the search has a choice to make.
  ASSERT_EQ(tried, (std::set<std::string>{"0.0001", "0.05"}));
  EXPECT_GT(good, poor + 15);
  Output b = run("best --name lr --db " + db_ + " -f csv");
  ASSERT_EQ(b.code, 0) << b.err;
  auto best = nlohmann::json::parse(run("best --name lr --db " + db_ + " -f json").out);
  ASSERT_EQ(best.size(), 1u);
  EXPECT_EQ(best[0]["lr"], "0.05");
  // The trained network exports without its hyperparameter decision.
  Output e =
      run("export --name lr --db " + db_ + " --format torchscript --out " + dir_ + "/best.pt");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_GT(std::filesystem::file_size(dir_ + "/best.pt"), 1000u);
}

}  // namespace
