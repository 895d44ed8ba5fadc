// The once-for-all supernet: every configuration runs on the shared weights,
// its extracted standalone network computes the same outputs, the analytic
// cost equals the extracted network's parameter count, and configurations
// outside the space are errors naming the dimension.
#include "spaces/supernets/ofa/ofa.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "spaces/supernets/supernet.h"
#include "tests/spaces/python_torch.h"

namespace sylva::ofa {
namespace {

int64_t count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

TEST(Ofa, ExtractedSubnetsComputeWhatTheSupernetComputes) {
  torch::manual_seed(0);
  OfaSpec spec;
  OfaNet net(spec);
  // Batch-norm statistics that are not the identity, so that copying them matters.
  net->train();
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) {
      net->activate(largest(spec));
      net->forward(torch::randn({8, 1, 28, 28}) * 2 + 1);
    }
  }
  net->eval();
  std::mt19937_64 rng(3);
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  std::vector<OfaConfig> configs = {largest(spec), smallest(spec)};
  for (int i = 0; i < 5; ++i) configs.push_back(random_config(spec, rng));
  for (const OfaConfig& c : configs) {
    net->activate(c);
    torch::NoGradGuard no_grad;
    const torch::Tensor y = net->forward(x);
    EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 10}));
    auto sub = net->extract(c);
    sub->eval();
    EXPECT_LT((sub->forward(x) - y).abs().max().item<double>(), 1e-4);
    EXPECT_EQ(net->cost(c).params, count(*sub));
  }
}

TEST(Ofa, CostsSpanTheSpaceAndFollowTheConfiguration) {
  OfaSpec spec;
  OfaNet net(spec);
  const OfaCost big = net->cost(largest(spec));
  const OfaCost small = net->cost(smallest(spec));
  EXPECT_GT(big.macs, 4 * small.macs);
  EXPECT_GT(big.params, small.params);
  // Hand count of the smallest: stem 1*16*9 + BN 32; stage blocks of depth 2,
  // kernel 3, expand 3, widths 24 40 80 96 (strides 1 2 2 1), head 96*10+10.
  int64_t params = 16 * 9 + 32, in = 16;
  for (int64_t out : {24, 24, 40, 40, 80, 80, 96, 96}) {
    const int64_t hidden = 3 * in;
    params += in * hidden + hidden * 9 + hidden * out + 2 * (2 * hidden + out);
    in = out;
  }
  params += 96 * 10 + 10;
  EXPECT_EQ(small.params, params);
}

TEST(Ofa, ConfigurationsOutsideTheSpaceNameTheDimension) {
  OfaSpec spec;
  OfaConfig c = largest(spec);
  c.kernel[1][2] = 9;
  EXPECT_EQ(check_config(spec, c).message(), "kernel of stage 2 block 3 is 9, not one of 3, 5, 7");
  c = largest(spec);
  c.resolution = 32;
  EXPECT_EQ(check_config(spec, c).message(), "resolution is 32, not one of 20, 24, 28");
  c = largest(spec);
  c.depth[0] = 2;
  EXPECT_EQ(check_config(spec, c).message(),
            "stage 1 has depth 2 but 4 kernels and 4 expand ratios");
  OfaNet net(spec);
  c.depth[0] = 5;
  EXPECT_THROW(net->activate(c), std::invalid_argument);
}

TEST(Ofa, TrainingASubnetTrainsOnlyItsShare) {
  torch::manual_seed(1);
  OfaSpec spec;
  OfaNet net(spec);
  net->train();
  net->activate(smallest(spec));
  auto loss = torch::nn::functional::cross_entropy(net->forward(torch::randn({4, 1, 28, 28})),
                                                   torch::tensor({1, 2, 3, 4}));
  loss.backward();
  auto params = net->named_parameters();
  // Blocks past the active depth get no gradient; the 3x3 kernels of active
  // blocks reach only the centre of the 7x7 weights.
  EXPECT_FALSE(params["s1b3_expand.weight"].grad().defined());
  const torch::Tensor dw = params["s1b1_depthwise.weight"].grad();
  ASSERT_TRUE(dw.defined());
  EXPECT_EQ(dw.slice(2, 0, 2).abs().sum().item<double>(), 0);
  EXPECT_GT(dw.slice(2, 2, 5).slice(3, 2, 5).abs().sum().item<double>(), 0);
}

// A two-stage supernet whose batch-norm statistics are not the defaults.
OfaSpec two_stages() {
  OfaSpec spec;
  spec.widths = {8, 16};
  spec.strides = {1, 2};
  return spec;
}

OfaNet settled(const OfaSpec& spec, uint64_t seed) {
  torch::manual_seed(seed);
  OfaNet net(spec);
  net->train();
  torch::NoGradGuard no_grad;
  net->forward(torch::randn({8, 1, 28, 28}) * 2 + 1);
  return net;
}

TEST(Ofa, ScriptedSubnetsRunInPythonLikeTheSupernet) {
  const OfaSpec spec = two_stages();
  OfaNet net = settled(spec, 6);
  net->eval();
  std::mt19937_64 rng(8);
  std::vector<PythonCase> cases;
  for (const OfaConfig& c : {largest(spec), smallest(spec), random_config(spec, rng)}) {
    net->activate(c);
    const torch::Tensor x = python_case_input(1, 28, 28);
    torch::NoGradGuard no_grad;
    const torch::Tensor expected = net->forward(x);
    torch::jit::Module script = net->script(c);
    EXPECT_LT((script.forward({x}).toTensor() - expected).abs().max().item<double>(), 1e-5);
    const std::string path = ::testing::TempDir() + "ofa_" + std::to_string(getpid()) + "_" +
                             std::to_string(cases.size()) + ".pt";
    script.save(path);
    cases.push_back({path, 1, 28, 28, expected, "resolution " + std::to_string(c.resolution)});
  }
  expect_python_outputs(cases, 1e-4);
  for (const auto& c : cases) std::remove(c.path.c_str());
}

TEST(Ofa, ChannelSortingKeepsTheLargestAndMovesImportantChannelsFirst) {
  const OfaSpec spec = two_stages();
  OfaNet net = settled(spec, 7);
  net->eval();
  const torch::Tensor x = torch::randn({4, 1, 28, 28});
  torch::NoGradGuard no_grad;
  const torch::Tensor before = net->forward(x);
  net->activate(smallest(spec));
  const torch::Tensor small_before = net->forward(x);
  const torch::Tensor importance = net->channel_importance(1, 1);
  net->sort_channels();
  // Every channel moved with its weights and statistics.
  net->activate(largest(spec));
  EXPECT_LT((net->forward(x) - before).abs().max().item<double>(), 1e-5);
  const torch::Tensor sorted = net->channel_importance(1, 1);
  EXPECT_TRUE(torch::equal(sorted, std::get<0>(importance.sort(0, true))));
  EXPECT_TRUE(torch::all(sorted.slice(0, 0, -1) >= sorted.slice(0, 1)).item<bool>());
  // The smallest expand ratio now reads other (the most important) channels.
  net->activate(smallest(spec));
  EXPECT_GT((net->forward(x) - small_before).abs().max().item<double>(), 1e-3);
}

TEST(Ofa, CopiesAreIndependentAndEqual) {
  const OfaSpec spec = two_stages();
  OfaNet net = settled(spec, 8);
  OfaNet copy = copy_supernet(net);
  net->eval();
  copy->eval();
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  torch::NoGradGuard no_grad;
  const torch::Tensor out = net->forward(x);
  EXPECT_TRUE(torch::equal(copy->forward(x), out));
  for (auto& p : net->parameters()) p.add_(1);
  EXPECT_TRUE(torch::equal(copy->forward(x), out));
}

TEST(Ofa, SupernetFilesHoldTheSpecAndEveryWeight) {
  const OfaSpec spec = two_stages();
  torch::manual_seed(5);
  auto net = make_supernet(spec_text(spec)).value();
  EXPECT_EQ(net->family(), "ofa");
  EXPECT_EQ(net->spec_text(), spec_text(spec));
  {
    torch::NoGradGuard no_grad;
    net->forward(torch::randn({8, 1, 28, 28}) * 2 + 1);  // statistics to keep
  }
  char tmpl[] = "/tmp/sylva-ofa-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/net.pt";
  ASSERT_TRUE(save_supernet(*net, path).is_ok());
  auto back = load_supernet(path);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back.value()->spec_text(), spec_text(spec));
  EXPECT_EQ(read_supernet_spec(path).value(), spec_text(spec));
  net->module().eval();
  back.value()->module().eval();
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  for (const auto& c : {net->largest(), net->smallest()}) {
    net->activate(c);
    back.value()->activate(c);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(net->forward(x), back.value()->forward(x)));
  }
  EXPECT_EQ(load_supernet(dir + "/none.pt").status().message(),
            "'" + dir + "/none.pt' is not a readable supernet file");
  EXPECT_EQ(make_supernet("fancy in=1").status().message(),
            "supernet family 'fancy' is unknown (families: ofa, sorted, stitch)");
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace sylva::ofa
