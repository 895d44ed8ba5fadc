// Proves that networks have the shapes, costs and seeded weights they should:
// the chain builder reproduces NAS-Bench-Macro's params and FLOPs exactly.
#include "spaces/nets/network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "spaces/op_registry.h"

namespace sylva {
namespace {

// An architecture given by its leaf ops alone, all chain and cell read.
Architecture leaves(const std::vector<std::string>& prims) {
  Architecture arch;
  arch.primitives = prims;
  return arch;
}

std::shared_ptr<NetworkImpl> build(const BuildSpec& spec, const std::vector<std::string>& prims,
                                   const InputShape& input) {
  auto net = build_network(spec, leaves(prims), input);
  EXPECT_TRUE(net.is_ok()) << net.status().message();
  return std::move(net).value();
}

BuildSpec macro_spec() {
  BuildSpec spec;
  spec.builder = "chain";
  spec.stem_channels = 32;
  spec.stages = {2, 3, 3};
  spec.head_channels = 1280;
  return spec;
}

BuildSpec small_cell_spec() {
  BuildSpec spec;
  spec.builder = "cell";
  spec.stem_channels = 8;
  spec.cells_per_stage = 1;
  return spec;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  return parts;
}

TEST(OpRegistryTest, ListsEveryOpSortedByDomain) {
  const std::vector<std::string> image = {
      "avg_pool_3x3", "conv1x1",      "conv3x3",      "conv5x5",      "dwsep_conv_3x3",
      "identity",     "max_pool_3x3", "mbconv_e3_k3", "mbconv_e6_k5", "none",
      "nor_conv_1x1", "nor_conv_3x3", "skip",         "skip_connect", "zero"};
  EXPECT_EQ(op_names(OpDomain::kImage), image);
  const std::vector<std::string> vector = {
      "batchnorm", "dropout0.1", "dropout0.3", "gelu", "identity", "layernorm", "linear128",
      "linear256", "linear512",  "linear64",   "relu", "silu",     "tanh"};
  EXPECT_EQ(op_names(OpDomain::kVector), vector);
  // Every op once; identity is in both domains.
  const std::vector<std::string> all = op_names();
  EXPECT_EQ(all.size(), image.size() + vector.size() - 1);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_TRUE(is_op("mbconv_e6_k5"));
  EXPECT_TRUE(is_op("dropout0.3"));
  EXPECT_FALSE(is_op("conv7x7"));
  EXPECT_EQ(find_op("linear256")->width, 256);
  EXPECT_DOUBLE_EQ(find_op("dropout0.3")->rate, 0.3);
  EXPECT_FALSE(op_in_domain(*find_op("skip"), OpDomain::kVector));
}

TEST(OpRegistryTest, UnknownOpIsAnErrorNamingIt) {
  auto op = make_op("conv7x7", 4, 4, 1);
  ASSERT_FALSE(op.is_ok());
  EXPECT_NE(op.status().message().find("conv7x7"), std::string::npos) << op.status().message();
  EXPECT_FALSE(make_op("conv3x3", 0, 4, 1).is_ok());
  EXPECT_EQ(make_op("relu", 4, 4, 1).status().message(),
            "op 'relu' maps feature vectors [D] (an op of %builder mlp), not feature maps [C, H, "
            "W]");
}

// Every op maps [B, cin, H, W] to [B, cout, ceil(H/s), ceil(W/s)], odd sizes included.
TEST(OpRegistryTest, EveryOpMapsShapes) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({2, 4, 7, 9});
  for (const auto& name : op_names(OpDomain::kImage)) {
    for (auto [cout, stride] : {std::pair<int64_t, int64_t>{4, 1}, {4, 2}, {8, 1}, {8, 2}}) {
      auto op = make_op(name, 4, cout, stride);
      ASSERT_TRUE(op.is_ok()) << op.status().message();
      const int64_t h = stride == 1 ? 7 : 4, w = stride == 1 ? 9 : 5;
      EXPECT_EQ(op.value()->forward(x).sizes(), torch::IntArrayRef({2, cout, h, w}))
          << name << " cout=" << cout << " stride=" << stride;
    }
  }
}

TEST(BuildNetworkTest, ChainWithWrongStageSumNamesBothNumbers) {
  BuildSpec spec = macro_spec();
  auto net = build_network(spec, leaves(std::vector<std::string>(7, "identity")), InputShape{});
  ASSERT_FALSE(net.is_ok());
  const std::string& msg = net.status().message();
  EXPECT_NE(msg.find('8'), std::string::npos) << msg;
  EXPECT_NE(msg.find('7'), std::string::npos) << msg;
}

TEST(BuildNetworkTest, BadSpecsAreErrorsNamingTheValue) {
  BuildSpec spec = macro_spec();
  spec.builder = "graph";
  auto net = build_network(spec, leaves(std::vector<std::string>(8, "identity")), InputShape{});
  ASSERT_FALSE(net.is_ok());
  EXPECT_NE(net.status().message().find("graph"), std::string::npos);

  std::vector<std::string> prims(8, "identity");
  prims[5] = "conv9x9";
  net = build_network(macro_spec(), leaves(prims), InputShape{});
  ASSERT_FALSE(net.is_ok());
  EXPECT_NE(net.status().message().find("conv9x9"), std::string::npos);

  net = build_network(small_cell_spec(), leaves(std::vector<std::string>(5, "nor_conv_3x3")), {});
  ASSERT_FALSE(net.is_ok());
  EXPECT_NE(net.status().message().find('5'), std::string::npos);

  BuildSpec zero_stem = macro_spec();
  zero_stem.stem_channels = 0;
  EXPECT_FALSE(
      build_network(zero_stem, leaves(std::vector<std::string>(8, "identity")), {}).is_ok());
}

TEST(BuildNetworkTest, OutputShapesForSeveralInputs) {
  BuildSpec chain;
  chain.stem_channels = 8;
  chain.head_channels = 16;  // empty stages: reductions at layers 2 and 4
  const std::vector<std::string> chain_ops = {"conv3x3",      "identity",     "mbconv_e3_k3",
                                              "max_pool_3x3", "avg_pool_3x3", "dwsep_conv_3x3"};
  const std::vector<std::string> cell_ops = {"nor_conv_3x3", "avg_pool_3x3", "skip_connect",
                                             "none",         "nor_conv_1x1", "nor_conv_3x3"};
  for (InputShape in :
       {InputShape{1, 28, 28, 10}, InputShape{3, 32, 32, 10}, InputShape{3, 17, 23, 7}}) {
    const torch::Tensor x = torch::randn({2, in.channels, in.height, in.width});
    for (auto net : {build(chain, chain_ops, in), build(small_cell_spec(), cell_ops, in)}) {
      EXPECT_EQ(net->forward(x).sizes(), torch::IntArrayRef({2, in.classes}))
          << in.channels << "x" << in.height << "x" << in.width;
    }
  }
}

// Hand count: stem 3*9*8 + BN 16; 1x1 reductions at layers 2 (8->16 at 4x4) and
// 4 (16->32 at 2x2) with BN; linear 32*10 + 10.
TEST(BuildNetworkTest, ChainWithoutStagesReducesAtThirds) {
  BuildSpec spec;
  spec.stem_channels = 8;
  auto net = build(spec, std::vector<std::string>(6, "identity"), InputShape{3, 8, 8, 10});
  const Cost cost = measure_cost(*net);
  EXPECT_EQ(cost.params, 216 + 16 + (128 + 32) + (512 + 64) + 330);
  EXPECT_EQ(cost.flops, 216 * 64 + 128 * 16 + 512 * 4 + 320);
}

TEST(MeasureCostTest, MatchesNasBenchMacroTable) {
  std::ifstream csv(SYLVA_SOURCE_DIR "/../shared/benchmarks/nas-bench-macro-cifar10.csv");
  if (!csv) GTEST_SKIP() << "nas-bench-macro-cifar10.csv not found";
  std::string line;
  std::getline(csv, line);
  const std::vector<std::string> header = split(line, ',');
  const auto column = [&](const std::string& name) {
    return std::find(header.begin(), header.end(), name) - header.begin();
  };
  const size_t key = column("key"), params = column("params"), flops = column("flops");
  ASSERT_LT(flops, header.size());
  std::vector<std::vector<std::string>> rows;
  while (std::getline(csv, line)) rows.push_back(split(line, ','));
  ASSERT_GT(rows.size(), 40u);

  const InputShape cifar{3, 32, 32, 10};
  int checked = 0;
  for (size_t i = 0; i < rows.size(); i += rows.size() / 40) {
    const auto& row = rows[i];
    auto net = build(macro_spec(), split(row[key], '/'), cifar);
    const Cost cost = measure_cost(*net);
    EXPECT_EQ(cost.params, std::stoll(row[params])) << row[key];
    EXPECT_EQ(cost.flops, std::stoll(row[flops])) << row[key];
    ++checked;
  }
  EXPECT_GE(checked, 40);
  const Cost identity = measure_cost(*build(macro_spec(), split(rows[0][key], '/'), cifar));
  EXPECT_EQ(identity.params, 387882);
  EXPECT_EQ(identity.flops, 7713280);
}

// The largest NAS-Bench-201 network (all nor_conv_3x3, C=16, 5 cells per
// stage) has 1,531,546 parameters (NAS-Bench-201 paper / API).
TEST(MeasureCostTest, MatchesNasBench201Params) {
  BuildSpec spec;
  spec.builder = "cell";
  spec.stem_channels = 16;
  spec.cells_per_stage = 5;
  auto net = build(spec, std::vector<std::string>(6, "nor_conv_3x3"), InputShape{3, 32, 32, 10});
  EXPECT_EQ(measure_cost(*net).params, 1531546);
}

TEST(MeasureCostTest, RestoresModeAndIsThreadSafe) {
  BuildSpec spec = macro_spec();
  const InputShape cifar{3, 32, 32, 10};
  auto a = build(spec, std::vector<std::string>(8, "identity"), cifar);
  auto b = build(spec, std::vector<std::string>(8, "mbconv_e3_k3"), cifar);
  a->train();
  const Cost ca = measure_cost(*a), cb = measure_cost(*b);
  EXPECT_TRUE(a->is_training());
  EXPECT_NE(ca.flops, cb.flops);

  // Counters are per thread: concurrent measurements never mix.
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto& net = t % 2 == 0 ? a : b;
      const int64_t expected = t % 2 == 0 ? ca.flops : cb.flops;
      for (int i = 0; i < 5; ++i) ok[t] += measure_cost(*net).flops == expected;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, std::vector<int>(4, 5));
}

torch::Tensor eval_output(NetworkImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  net.eval();
  return net.forward(x);
}

TEST(InitWeightsTest, SameSeedSameNetworkAndGlobalGeneratorUntouched) {
  const std::vector<std::string> ops = {"nor_conv_3x3", "avg_pool_3x3", "skip_connect",
                                        "none",         "nor_conv_1x1", "nor_conv_3x3"};
  const InputShape in{1, 12, 12, 10};
  auto a = build(small_cell_spec(), ops, in);
  auto b = build(small_cell_spec(), ops, in);
  auto c = build(small_cell_spec(), ops, in);
  const torch::Tensor x = torch::randn({2, 1, 12, 12});

  torch::manual_seed(123);
  const torch::Tensor expected_draw = torch::rand({4});
  torch::manual_seed(123);
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(42);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(42);
  at::Generator g3 = at::make_generator<at::CPUGeneratorImpl>(43);
  init_weights(*a, g1);
  init_weights(*b, g2);
  init_weights(*c, g3);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected_draw)) << "global generator was used";

  const torch::Tensor ya = eval_output(*a, x);
  EXPECT_TRUE(torch::equal(ya, eval_output(*b, x)));
  EXPECT_FALSE(torch::allclose(ya, eval_output(*c, x)));
  for (const auto& p : a->named_parameters()) {
    EXPECT_TRUE(torch::isfinite(p.value()).all().item<bool>()) << p.key();
  }
}

TEST(WeightsTest, SaveLoadRoundTripIncludesBatchNormStatistics) {
  BuildSpec spec;
  spec.stem_channels = 8;
  spec.stages = {1, 2};
  const std::vector<std::string> ops = {"mbconv_e3_k3", "dwsep_conv_3x3", "conv5x5"};
  const InputShape in{1, 16, 16, 10};
  auto a = build(spec, ops, in);
  a->train();
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) a->forward(torch::randn({4, 1, 16, 16}) * 2 + 0.5);
  }
  const std::string bytes = save_weights(*a);
  auto b = build(spec, ops, in);
  const torch::Tensor x = torch::randn({2, 1, 16, 16});
  EXPECT_FALSE(torch::allclose(eval_output(*a, x), eval_output(*b, x)));
  load_weights(*b, bytes);
  EXPECT_TRUE(torch::equal(eval_output(*a, x), eval_output(*b, x)));
}

}  // namespace
}  // namespace sylva
