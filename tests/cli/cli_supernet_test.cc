// End-to-end tests of supernets: `sylva supernet train` for each family (ofa,
// sorted, stitch), searches over its configurations scored with inherited
// weights (evolution, NSGA-II with a predictor, two workers agreeing with
// one), `supernet select` within a budget, the stitch `supernet sweep`, the
// best configuration exported as TorchScript, a killed training resumed
// from its checkpoint to the uninterrupted run's network, and the device
// and dataset options of the supernet verbs.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/cli_fixture.h"

namespace {

using sylva::testing::CliTest;
using sylva::testing::expect_one_line_error;
using sylva::testing::Output;
using sylva::testing::slurp;

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

// --device and the dataset options of the supernet verbs and evaluator:
// a device the machine lacks is one line and exit 2 before anything loads,
// --device auto trains, sweeps and searches wherever it lands (the CPU
// here), a named format is read as such and a table is refused.
TEST_F(CliTest, SupernetVerbsTakeTheDeviceAndTheDatasetOptions) {
  const std::string out = dir_ + "/sorted.pt";
  Output tpu = run("supernet train --family sorted --out " + out + " --device tpu");
  EXPECT_EQ(tpu.code, 2);
  expect_one_line_error(tpu, "--device must be cpu, cuda, cuda:N or auto, got 'tpu'");
  Output o = run("supernet train --family sorted --out " + out +
                 " --epochs 1 --train-samples 64 --val-samples 64 --batch-size 32 --seed 1 "
                 "--dataset-format idx --device auto");
  ASSERT_EQ(o.code, 0) << o.err;
  const std::string where = torch::cuda::is_available() ? ", on cuda:0" : "";
  EXPECT_NE(o.out.find("1 epoch(s) on 64 images, 64 held out" + where + "\n"), std::string::npos)
      << o.out;
  Output sw = run("supernet sweep --space supernet:" + out +
                  " --val-samples 64 --test-samples 64 --calibration-samples 64 -f csv "
                  "--dataset-format idx --device auto");
  ASSERT_EQ(sw.code, 0) << sw.err;
  EXPECT_EQ(std::count(sw.out.begin(), sw.out.end(), '\n'), 1 + 20) << sw.out;
  Output s = run("search --name dev --db " + db_ + " --space supernet:" + out +
                 " --evaluator supernet --trials 2 --val-samples 64 --test-samples 64 "
                 "--calibration-samples 64 --dataset-format idx --device auto --seed 2");
  ASSERT_EQ(s.code, 0) << s.err;
  for (const auto& r : trials("dev")) EXPECT_EQ(r.at("state"), "COMPLETE");
  expect_one_line_error(run("supernet train --family sorted --out " + out +
                            " --dataset-format cifar10 --val-samples 64"),
                        "no CIFAR-10 training file (data_batch_1.bin)");
  // --precision is for training; the sweep scores in float32.
  expect_one_line_error(run("supernet sweep --space supernet:" + out + " --precision bf16"),
                        "precision");
  {
    std::ofstream csv(dir_ + "/table.csv");
    csv << "a,b,label\n";
    for (int i = 0; i < 40; ++i) csv << i << "," << i % 7 << "," << i % 2 << "\n";
  }
  Output table = run("supernet train --family sorted --out " + out + " --dataset " + dir_ +
                     "/table.csv --val-samples 4");
  EXPECT_EQ(table.code, 2);
  expect_one_line_error(
      table, "--dataset " + dir_ + "/table.csv is a csv table; supernets are networks of images");
  if (torch::cuda::is_available()) return;
  // No GPU here: every verb says so in one line, before reading anything.
  for (const std::string& args :
       {"supernet train --family sorted --out " + dir_ + "/g.pt --device cuda",
        "supernet sweep --space supernet:" + dir_ + "/none.pt --device cuda",
        "search --name g --db " + db_ + " --space supernet:" + out +
            " --evaluator supernet --trials 1 --device cuda"}) {
    SCOPED_TRACE(args);
    Output g = run(args);
    EXPECT_EQ(g.code, 2);
    expect_one_line_error(g, "--device cuda: no CUDA GPU is available (");
  }
}

}  // namespace
