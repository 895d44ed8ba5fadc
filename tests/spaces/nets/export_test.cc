// Proves that the generated TorchScript computes the eval-mode forward: per
// op, and for whole chain, cell and mlp networks reloaded from disk in
// LibTorch and in Debian's Python torch (plain torch.jit.load, no Sylva code).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "spaces/nets/network.h"
#include "spaces/op_registry.h"
#include "tests/spaces/python_torch.h"

namespace sylva {
namespace {

namespace fs = std::filesystem;

template <typename M>
torch::Tensor eval_forward(M& block, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  block.eval();
  return block.forward(x);
}

torch::Tensor input_for(const InputShape& in) {
  return python_case_input(in.channels, in.height, in.width);
}

// Non-trivial batch-norm statistics and affine parameters, so that a mix-up of
// running mean/var or weight/bias in the export shows.
void train_batch_norm(torch::nn::Module& m, const std::function<void(torch::Tensor)>& forward,
                      std::vector<int64_t> shape) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) {
    if (p.dim() == 1) p.uniform_(0.5, 1.5);
  }
  m.train();
  for (int i = 0; i < 3; ++i) forward(torch::randn(shape) * 1.5 + 0.3);
  m.eval();
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

fs::path temp_dir() {
  fs::path dir = fs::temp_directory_path() / ("sylva_export_test_" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir;
}

TEST(ExportTest, EveryOpEmitsItsEvalForward) {
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({2, 4, 7, 9});
  for (const auto& name : op_names(OpDomain::kImage)) {
    for (auto [cout, stride] : {std::pair<int64_t, int64_t>{4, 1}, {4, 2}, {8, 1}, {8, 2}}) {
      auto op = make_op(name, 4, cout, stride).value();
      train_batch_norm(*op, [&](torch::Tensor t) { op->forward(t); }, {8, 4, 7, 9});
      ScriptEmitter e;
      const std::string y = op->emit(e, "x");
      torch::jit::Module module = e.finish("x", y);
      const torch::Tensor expected = eval_forward(*op, x);
      const torch::Tensor got = module.forward({x}).toTensor();
      ASSERT_EQ(got.sizes(), expected.sizes()) << name;
      EXPECT_LE(max_abs_diff(got, expected), 1e-5) << name << " cout=" << cout << " s=" << stride;
    }
  }
}

TEST(ExportTest, EveryVectorOpEmitsItsEvalForward) {
  torch::manual_seed(4);
  const torch::Tensor x = torch::randn({3, 6}) * 2 + 0.5;
  for (const auto& name : op_names(OpDomain::kVector)) {
    VectorOp op = make_vector_op(name, 6).value();
    if (!op.block) {
      EXPECT_EQ(name, "identity");
      continue;
    }
    train_batch_norm(*op.block, [&](torch::Tensor t) { op.block->forward(t); }, {8, 6});
    ScriptEmitter e;
    const std::string y = op.block->emit(e, "x");
    torch::jit::Module module = e.finish("x", y);
    const torch::Tensor expected = eval_forward(*op.block, x);
    const torch::Tensor got = module.forward({x}).toTensor();
    ASSERT_EQ(got.sizes(), torch::IntArrayRef({3, op.features})) << name;
    ASSERT_EQ(got.sizes(), expected.sizes()) << name;
    EXPECT_LE(max_abs_diff(got, expected), 1e-6) << name;
  }
}

struct Exported {
  std::string label;
  InputShape input;
  fs::path path;
  torch::Tensor expected;  // LibTorch eval forward on input_for(input)
};

// Builds, perturbs and exports a network; checks the C++ reload on the way.
Exported export_network(const std::string& label, const BuildSpec& spec,
                        const std::vector<std::string>& prims, const InputShape& in) {
  Architecture arch;
  arch.primitives = prims;
  auto built = build_network(spec, arch, in);
  EXPECT_TRUE(built.is_ok()) << built.status().message();
  auto net = std::move(built).value();
  train_batch_norm(*net, [&](torch::Tensor t) { net->forward(t); },
                   {8, in.channels, in.height, in.width});
  Exported ex{label, in, temp_dir() / (label + ".pt"), {}};
  to_torchscript(*net).save(ex.path.string());
  ex.expected = eval_forward(*net, input_for(in));

  torch::jit::Module loaded = torch::jit::load(ex.path.string());
  for (const auto& p : loaded.named_parameters()) {
    EXPECT_EQ(p.name.find('.'), std::string::npos) << p.name;
  }
  const torch::Tensor got = loaded.forward({input_for(in)}).toTensor();
  EXPECT_EQ(got.sizes(), ex.expected.sizes()) << label;
  EXPECT_LE(max_abs_diff(got, ex.expected), 1e-5) << label;
  return ex;
}

std::vector<Exported> export_all() {
  BuildSpec chain;
  chain.stem_channels = 8;
  chain.stages = {2, 3, 3};
  chain.head_channels = 24;
  // Layers 0, 2 and 5 reduce: identity becomes conv1x1 + BN, the pool gets a 1x1 conv.
  const std::vector<std::string> chain_ops = {"identity",       "mbconv_e3_k3", "avg_pool_3x3",
                                              "dwsep_conv_3x3", "conv3x3",      "max_pool_3x3",
                                              "mbconv_e6_k5",   "identity"};
  std::vector<std::string> with_zero = {"conv5x5", "nor_conv_1x1", "skip", "zero"};
  BuildSpec chain_no_stages;
  chain_no_stages.stem_channels = 4;

  BuildSpec cell;
  cell.builder = "cell";
  cell.stem_channels = 8;
  cell.cells_per_stage = 2;
  const std::vector<std::string> cell_ops = {"nor_conv_3x3", "avg_pool_3x3", "skip_connect",
                                             "none",         "nor_conv_1x1", "nor_conv_3x3"};

  BuildSpec mlp;
  mlp.builder = "mlp";
  // Every vector op, a norm before the first linear among them.
  const std::vector<std::string> mlp_ops = {
      "batchnorm", "linear64",  "layernorm",  "gelu", "dropout0.3", "linear128", "batchnorm",
      "silu",      "linear256", "dropout0.1", "tanh", "identity",   "linear512", "relu"};
  const std::vector<std::string> mlp_small = {"linear64", "batchnorm", "relu", "dropout0.1"};
  return {export_network("chain", chain, chain_ops, {1, 28, 28, 10}),
          export_network("chain_zero", chain_no_stages, with_zero, {1, 28, 28, 10}),
          export_network("cell", cell, cell_ops, {3, 17, 23, 10}),
          // Tabular features [F, 1, 1], and an image flattened.
          export_network("mlp_tabular", mlp, mlp_ops, {12, 1, 1, 3}),
          export_network("mlp_image", mlp, mlp_small, {1, 28, 28, 10})};
}

TEST(ExportTest, NetworksReloadInLibTorch) {
  torch::manual_seed(2);
  const auto exported = export_all();
  EXPECT_EQ(exported.size(), 5u);
  fs::remove_all(temp_dir());
}

TEST(ExportTest, NetworksRunInPlainPythonTorch) {
  torch::manual_seed(3);
  std::vector<PythonCase> cases;
  for (const auto& ex : export_all()) {
    cases.push_back({ex.path.string(), ex.input.channels, ex.input.height, ex.input.width,
                     ex.expected, ex.label});
  }
  expect_python_outputs(cases, 1e-4);
  fs::remove_all(temp_dir());
}

}  // namespace
}  // namespace sylva
