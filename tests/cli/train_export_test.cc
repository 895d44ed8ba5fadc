// The path a user walks with the `train` evaluator: a real (tiny) search on
// Fashion-MNIST with two workers, every trial in the database with its
// per-epoch values, then `sylva export --format torchscript` of the best trial,
// loaded by Debian's python3-torch with torch.jit.load alone and giving the
// outputs of the trained network rebuilt in LibTorch from the stored weights.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "evaluators/train/model_tools.h"
#include "experiments/config.h"
#include "experiments/store.h"
#include "spaces/nets/network.h"
#include "tests/cli/small_grammar.h"

namespace sylva {
namespace {

namespace fs = std::filesystem;

std::string capture(const std::string& command, int* code) {
  FILE* p = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = pclose(p);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

using testing::kSmallGrammar;

TEST(TrainExport, TrainedSearchExportsATorchScriptThatPythonRunsLikeLibTorch) {
  const fs::path dir =
      fs::temp_directory_path() / ("sylva_train_export_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string db = (dir / "s.db").string();
  std::ofstream(dir / "small.grammar") << kSmallGrammar;

  int code = 0;
  std::string out = capture(std::string(SYLVA_BINARY) + " search --name tiny --db " + db +
                                " --space " + (dir / "small.grammar").string() +
                                " --evaluator train --trials 3 --workers 2 --epochs 2"
                                " --train-samples 3000 --val-samples 500 --test-samples 500"
                                " --batch-size 32 --lr 0.05 --seed 5 2>&1",
                            &code);
  ASSERT_EQ(code, 0) << out;

  auto store = experiments::Store::open(db);
  ASSERT_TRUE(store.is_ok()) << store.status().message();
  auto exp = store.value()->find_experiment("tiny");
  ASSERT_TRUE(exp.is_ok());
  auto trials = store.value()->trials(exp.value().id);
  ASSERT_EQ(trials.size(), 3u);
  for (const auto& t : trials) {
    EXPECT_EQ(t.state, evaluators::TrialState::kComplete) << t.message;
    // Ten classes: chance is 10%; two epochs on 3000 images reach far more.
    EXPECT_GT(t.metrics.at("val_acc"), 50.0) << t.arch_key;
    EXPECT_GT(t.metrics.at("test_acc"), 50.0) << t.arch_key;
    EXPECT_GT(t.metrics.at("params"), 0);
    EXPECT_GT(t.metrics.at("flops"), 0);
  }
  // Two epochs: train_loss and val_acc at steps 1 and 2 for every trial.
  EXPECT_EQ(store.value()->intermediates(exp.value().id).size(), 3u * 2 * 2);

  const std::string pt = (dir / "best.pt").string();
  out = capture(std::string(SYLVA_BINARY) + " export --name tiny --db " + db +
                    " --trial best --format torchscript --out " + pt + " 2>&1",
                &code);
  ASSERT_EQ(code, 0) << out;

  // The best trial by val_acc, rebuilt from the database in LibTorch.
  auto config = experiments::ExperimentConfig::from_json(exp.value().config_json);
  ASSERT_TRUE(config.is_ok());
  auto objective = experiments::objective_of(config.value());
  ASSERT_TRUE(objective.is_ok());
  const experiments::TrialRow* best = nullptr;
  for (const auto& t : trials) {
    if (!best || t.metrics.at("val_acc") > best->metrics.at("val_acc")) best = &t;
  }
  auto space = space_from_source("small", config.value().space_source);
  ASSERT_TRUE(space.is_ok());
  auto arch = space.value()->parse(best->arch_canonical);
  ASSERT_TRUE(arch.is_ok());
  auto artifact = store.value()->artifact(best->id, "weights");
  ASSERT_TRUE(artifact.has_value());
  auto packed = evaluators::unpack_weights(*artifact);
  ASSERT_TRUE(packed.is_ok());
  EXPECT_EQ(packed.value().shape.channels, 1);
  EXPECT_EQ(packed.value().shape.height, 28);
  auto net = build_network(space.value()->build_spec(), arch.value(), InputShape{1, 28, 28, 10});
  ASSERT_TRUE(net.is_ok());
  load_weights(*net.value(), packed.value().weights);
  net.value()->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::linspace(-2, 2, 3 * 28 * 28).reshape({3, 1, 28, 28});
  const torch::Tensor expected = net.value()->forward(x).flatten();

  std::ofstream(dir / "run.py") << "import sys, torch\n"
                                   "m = torch.jit.load(sys.argv[1])\n"
                                   "x = torch.linspace(-2, 2, 3 * 28 * 28).reshape(3, 1, 28, 28)\n"
                                   "with torch.no_grad():\n"
                                   "    y = m(x)\n"
                                   "print(tuple(y.shape))\n"
                                   "print(' '.join(repr(v) for v in y.flatten().tolist()))\n";
  out = capture("/usr/bin/python3 " + (dir / "run.py").string() + " " + pt + " 2>&1", &code);
  ASSERT_EQ(code, 0) << out;
  std::istringstream lines(out);
  std::string shape, values;
  std::getline(lines, shape);
  std::getline(lines, values);
  EXPECT_EQ(shape, "(3, 10)");
  std::istringstream in(values);
  int64_t i = 0;
  for (double v; in >> v; ++i) {
    ASSERT_LT(i, expected.numel());
    const double e = expected[i].item<double>();
    EXPECT_NEAR(v, e, 1e-4 * std::max(1.0, std::abs(e))) << "output " << i;
  }
  EXPECT_EQ(i, expected.numel());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sylva
