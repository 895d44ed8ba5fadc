// `sylva` needs no LibTorch: it runs the table, stub and command evaluators
// and the reports itself, and hands every other command to sylva-torch
// beside it (cli/hand_over.h) before it has written anything.
#include <stdio.h>

#include <string>

#include "tests/cli/cli_fixture.h"

namespace sylva::testing {
namespace {

std::string command_output(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(CliTest, TheFrontLinksNoLibTorchAndHandsOverWhatNeedsIt) {
  const std::string needed = command_output(std::string("readelf -d ") + SYLVA_BINARY);
  EXPECT_NE(needed.find("NEEDED"), std::string::npos) << needed;
  EXPECT_EQ(needed.find("libtorch"), std::string::npos) << needed;
  EXPECT_EQ(needed.find("libc10"), std::string::npos) << needed;

  const std::string debug = "SYLVA_DEBUG_HAND_OVER=1 ";
  // A table search runs in the front.
  Output table = run_prefixed(debug, "search --name t --db " + db_ +
                                         " --space nas-bench-macro --evaluator table --table " +
                                         kTable + " --metric test_acc_mean --trials 3 --seed 1");
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(count(table.err, "to sylva-torch"), 0u) << table.err;
  EXPECT_EQ(trials("t").size(), 3u);

  // A training search goes to sylva-torch once (here for its training
  // options, which only sylva-torch knows), before the experiment exists
  // (else it would find its own name taken), and runs there.
  Output train = run_prefixed(
      debug, "search --name tr --db " + db_ +
                 " --space mlp --evaluator train --trials 1 --epochs 1 --train-samples 200 "
                 "--val-samples 100 --test-samples 100 --seed 1");
  EXPECT_EQ(train.code, 0) << train.err;
  EXPECT_EQ(count(train.err, "sylva: to sylva-torch: options or help"), 1u) << train.err;
  auto rows = trials("tr");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["state"], "COMPLETE");

  // A worker reads the evaluator from the database and goes the same way,
  // and so does any verb that reads a database holding such an experiment.
  Output worker = run_prefixed(debug, "worker --name tr --db " + db_);
  EXPECT_EQ(worker.code, 0) << worker.err;
  EXPECT_EQ(count(worker.err, "sylva: to sylva-torch: evaluator train (experiment 'tr')"), 1u)
      << worker.err;
  Output best = run_prefixed(debug, "best --name t --db " + db_);
  EXPECT_EQ(best.code, 0) << best.err;
  EXPECT_EQ(count(best.err, "to sylva-torch"), 1u) << best.err;

  // Options only sylva-torch knows, help and the verb list: its answers.
  Output supernet_option = run_prefixed(debug, "search --name s --db " + db_ + " --schedule x");
  EXPECT_EQ(count(supernet_option.err, "to sylva-torch: options or help"), 1u);
  EXPECT_NE(supernet_option.code, 0);
  Output help = run_prefixed(debug, "search --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--epochs"), std::string::npos);
  Output verbs = run("bogus");
  EXPECT_EQ(verbs.code, 2);
  EXPECT_NE(verbs.err.find("supernet"), std::string::npos) << verbs.err;
}

}  // namespace
}  // namespace sylva::testing
