// einspace networks built from canonical bracket forms: hand-counted
// parameters and MACs, both head modes, routed linears fused into
// convolutions with the same function and size, branches with copied and
// distinct modules, attention from dot products, errors that name the node
// and shapes, training, and TorchScript export that Python runs to the same
// outputs.
#include "spaces/einspace/network.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "tests/spaces/python_torch.h"

namespace sylva {
namespace {

// Tree builders, so that the larger trees below read as their structure.
std::string op(const std::string& label) { return "[M [C " + label + "]]"; }
std::string seq(const std::string& a, const std::string& b) { return "[M " + a + " " + b + "]"; }
std::string route(const std::string& p, const std::string& m, const std::string& r) {
  return "[M [P " + p + "] " + m + " [R " + r + "]]";
}
std::string branch(const std::string& b, const std::string& ms, const std::string& a) {
  return "[M [B " + b + "] " + ms + " [A " + a + "]]";
}
// The root rule is S: the same forms as M.
std::string root(const std::string& m) { return "[S" + m.substr(2); }

std::shared_ptr<NetworkImpl> build(const std::string& text, const InputShape& in,
                                   bool fuse = true) {
  EinspaceBuildOptions opt;
  opt.fuse = fuse;
  auto net = build_einspace_network(text, in, opt);
  EXPECT_TRUE(net.is_ok()) << net.status().message();
  return net.is_ok() ? net.value() : nullptr;
}

torch::Tensor eval_forward(NetworkImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  net.eval();
  return net.forward(x);
}

int count_conv_weights(NetworkImpl& net) {
  int n = 0;
  for (const auto& p : net.parameters()) n += p.dim() == 4;
  return n;
}

const InputShape kMnist{1, 28, 28, 10};

// conv3x3 to 64 channels on 1x28x28: 64*9 + 64 weights and biases, head
// Linear(64, 10); MACs 28*28 positions * 64 * 9 plus the head's 640.
TEST(EinspaceNetwork, ConvolutionIsHandCountedFusedOrNot) {
  const std::string conv = "[S [P im2col3k1s1p] [M [C linear64]] [R col2im]]";
  for (bool fuse : {true, false}) {
    torch::manual_seed(1);
    auto net = build(conv, kMnist, fuse);
    ASSERT_TRUE(net);
    const Cost cost = measure_cost(*net);
    EXPECT_EQ(cost.params, 64 * 9 + 64 + 64 * 10 + 10) << "fuse " << fuse;
    EXPECT_EQ(cost.flops, 28 * 28 * 64 * 9 + 640) << "fuse " << fuse;
    EXPECT_EQ(count_conv_weights(*net), fuse ? 1 : 0);
    EXPECT_EQ(net->forward(torch::randn({2, 1, 28, 28})).sizes(), torch::IntArrayRef({2, 10}));
  }
}

// Relative widths: linear_x2 of the 9-wide columns is an 18-channel conv
// (18*9 + 18, head 18*10 + 10); linear_div4 maps W = 28 to 7 (28*7 + 7, head
// Linear(1, 10)).
TEST(EinspaceNetwork, RelativeLinearWidthsFollowTheInput) {
  auto wide = build("[S [P im2col3k1s1p] [M [C linear_x2]] [R col2im]]", kMnist);
  ASSERT_TRUE(wide);
  EXPECT_EQ(count_conv_weights(*wide), 1);
  EXPECT_EQ(measure_cost(*wide).params, 180 + 190);
  auto narrow = build("[S [M [C linear_div4]] [M [C leakyrelu]]]", kMnist);
  ASSERT_TRUE(narrow);
  EXPECT_EQ(measure_cost(*narrow).params, 203 + 20);
}

// 4x4 patches of 1x28x28: 49 tokens of 16 features -> linear32 (16*32+32)
// -> LayerNorm(32) (64) -> col head: mean over the 32 features, Linear(49, 10).
TEST(EinspaceNetwork, ColOutputAveragesFeaturesIntoTheHead) {
  const std::string text = "[S [P im2col4k4s0p] [M [M [C linear32]] [M [C norm]]] [R identity]]";
  auto net = build(text, kMnist);
  ASSERT_TRUE(net);
  const Cost cost = measure_cost(*net);
  EXPECT_EQ(cost.params, 544 + 64 + 49 * 10 + 10);
  EXPECT_EQ(cost.flops, 49 * 32 * 16 + 490);
  EXPECT_EQ(net->forward(torch::randn({3, 1, 28, 28})).sizes(), torch::IntArrayRef({3, 10}));
}

// A routed linear becomes a Conv2d of the same function and size: the same
// seed gives the same weights, outputs and cost, in training and eval mode.
TEST(EinspaceNetwork, FusedConvolutionsComputeWhatTheRoutesCompute) {
  const std::string text =
      root(seq(route("im2col3k2s1p", op("linear8"), "col2im"),
               seq(op("norm"), route("im2col1k1s0p", "[M [M [C linear4]]]", "col2im"))));
  const InputShape in{3, 9, 7, 5};
  torch::manual_seed(7);
  auto fused = build(text, in, true);
  torch::manual_seed(7);
  auto plain = build(text, in, false);
  ASSERT_TRUE(fused && plain);
  EXPECT_EQ(count_conv_weights(*fused), 2);
  EXPECT_EQ(count_conv_weights(*plain), 0);
  const Cost a = measure_cost(*fused), b = measure_cost(*plain);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.params, (27 * 8 + 8) + 16 + (8 * 4 + 4) + (4 * 5 + 5));
  EXPECT_EQ(a.flops, b.flops);

  const torch::Tensor x = torch::randn({4, 3, 9, 7});
  fused->train();
  plain->train();
  const torch::Tensor yf = fused->forward(x), yp = plain->forward(x);
  EXPECT_EQ(yf.sizes(), torch::IntArrayRef({4, 5}));
  EXPECT_TRUE(torch::allclose(yf, yp, 1e-4, 1e-5)) << (yf - yp).abs().max();
  // Re-seeded weights too: init_weights draws the same values for both.
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(3);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(3);
  init_weights(*fused, g1);
  init_weights(*plain, g2);
  const torch::Tensor ef = eval_forward(*fused, x), ep = eval_forward(*plain, x);
  EXPECT_TRUE(torch::allclose(ef, ep, 1e-4, 1e-5)) << (ef - ep).abs().max();
}

// linear16 on the last axis (W = 28) costs 28*16 + 16 = 464 per branch; the
// im head averages [1, 28, 16] to one channel: Linear(1, 10) = 20.
TEST(EinspaceNetwork, OneModuleIsCopiedPerBranchWithItsOwnWeights) {
  auto four = build(root(branch("clone4", op("linear16"), "add")), kMnist);
  ASSERT_TRUE(four);
  EXPECT_EQ(measure_cost(*four).params, 4 * 464 + 20);
  auto params = four->named_parameters();
  for (int i = 1; i < 4; ++i) {
    const std::string name = "0.b" + std::to_string(i) + ".weight";
    ASSERT_NE(params.find(name), nullptr) << name;
    EXPECT_FALSE(torch::equal(*params.find("0.b0.weight"), *params.find(name))) << name;
  }
  // Two branches, two different modules: 464 + (28*8 + 8) + 20.
  auto two =
      build(root(branch("clone2", op("linear16") + " " + op("linear8"), "concat_dim3")), kMnist);
  ASSERT_TRUE(two);
  EXPECT_EQ(measure_cost(*two).params, 464 + 232 + 20);
  // Four groups of 7 rows, each through linear16, stacked back to 28 rows.
  auto groups = build(root(branch("group4_dim2", op("linear16"), "concat_dim2")), kMnist);
  ASSERT_TRUE(groups);
  EXPECT_EQ(measure_cost(*groups).params, 4 * 464 + 20);
  EXPECT_EQ(groups->forward(torch::randn({2, 1, 28, 28})).sizes(), torch::IntArrayRef({2, 10}));
}

// Tokens [49, 32]; q = linear16, k^T = permute21(linear16); q @ k^T is
// [49, 49]. Params 544 + 2 * 528 + Linear(49, 10); MACs 3 linears of
// 49*16*32, the product 49*49*16, the head 490.
TEST(EinspaceNetwork, DotProductsScoreTokensAndTheScaledOneDividesBySqrtD) {
  const std::string tokens = route("im2col4k4s0p", op("linear32"), "identity");
  const std::string qk = op("linear16") + " " + seq(op("linear16"), op("permute21"));
  torch::Tensor logits[2], bias;
  const char* aggregations[] = {"dot_product", "scaled_dot_product"};
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  for (int i = 0; i < 2; ++i) {
    torch::manual_seed(5);
    auto net = build(root(seq(tokens, branch("clone2", qk, aggregations[i]))), kMnist);
    ASSERT_TRUE(net);
    const Cost cost = measure_cost(*net);
    EXPECT_EQ(cost.params, 544 + 2 * 528 + 500);
    EXPECT_EQ(cost.flops, 3 * 49 * 16 * 32 + 49 * 49 * 16 + 490);
    logits[i] = eval_forward(*net, x);
    bias = net->named_parameters()["1.fc.bias"].detach();
  }
  EXPECT_EQ(logits[0].sizes(), torch::IntArrayRef({2, 10}));
  // The head is linear: scaling the scores by 1/sqrt(16) scales logits - bias.
  EXPECT_TRUE(torch::allclose((logits[1] - bias) * 4, logits[0] - bias, 1e-4, 1e-5));
}

TEST(EinspaceNetwork, InvalidTreesAreErrorsNamingTheNodeAndShapes) {
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {"[S [M [C norm]]", {"column 16", "expected ']'"}},
      {"[S [M [C conv3x3]] [M [C norm]]]", {"'C' at column 7", "unknown einspace op 'conv3x3'"}},
      {"[S [M [C linear0]] [M [C norm]]]", {"unknown einspace op 'linear0'"}},
      {"[S [M [C linear_div8]] [M [C norm]]]",
       {"linear_div8 does not apply to shape [1, 28, 28]", "divide by 8"}},
      {"[S [P identity] [M [C linear8]] [R col2im]]",
       {"'R' at column 33", "col2im only closes a route", "im2col"}},
      {"[S [M [C col2im]] [M [C norm]]]", {"col2im only closes a route"}},
      {"[S [M [C permute21]] [M [C norm]]]",
       {"permute21 does not apply to shape [1, 28, 28]", "col [S, D] takes permute21"}},
      {root(seq(route("im2col4k4s0p", op("identity"), "identity"), op("im2col3k1s1p"))),
       {"im2col3k1s1p does not apply to shape [49, 16]", "im input"}},
      // [16, 49] @ [49, 16] leaves 256 elements: no whole 7 x 7 planes.
      {root(route("im2col4k4s0p",
                  branch("clone2", op("permute21") + " " + op("identity"), "dot_product"),
                  "col2im")),
       {"col2im does not apply to shape [16, 16]", "7 x 7"}},
      {root(branch("group8_dim2", op("norm"), "add")),
       {"'B' at column 4", "group8_dim2 needs axis 2", "[1, 28, 28]", "divide by 8"}},
      {root(branch("clone2", op("linear16") + " " + op("linear8"), "add")),
       {"'A' at column", "add needs equal branch shapes", "[1, 28, 16], [1, 28, 8]"}},
      {root(branch("clone2", op("linear16") + " " + op("linear8"), "dot_product")),
       {"dot_product needs a @ b", "[1, 28, 16], [1, 28, 8]"}},
      {root(branch("clone4", op("identity"), "scaled_dot_product")),
       {"scaled_dot_product takes exactly 2 branches"}},
      {root(branch("clone4", op("norm") + " " + op("norm"), "add")),
       {"clone4 opens 4 branches", "got 2"}},
      {root(branch("clone2", op("norm"), "norm")), {"a branch ends with an aggregation"}},
      {"[S [M [C clone2]] [M [C norm]]]", {"'clone2' is a branching op"}},
      {"[S [M [C add]] [M [C norm]]]", {"'add' is an aggregation op"}},
      {"[S norm leakyrelu]", {"op 'norm' must sit alone"}},
      {"[S " + op("norm") + " " + op("norm") + " " + op("norm") + " " + op("norm") + "]",
       {"got 4 children"}},
  };
  for (const auto& [text, parts] : cases) {
    auto net = build_einspace_network(text, kMnist);
    ASSERT_FALSE(net.is_ok()) << text;
    for (const std::string& part : parts) {
      EXPECT_NE(net.status().message().find(part), std::string::npos)
          << text << "\n  -> " << net.status().message() << "\n  lacks: " << part;
    }
  }
  EXPECT_FALSE(build_einspace_network(op("norm"), InputShape{0, 28, 28, 10}).is_ok());
}

TEST(EinspaceNetwork, BuildNetworkReadsTheCanonicalForm) {
  BuildSpec spec;
  spec.builder = "einspace";
  Architecture arch;
  arch.canonical = "[S [P im2col3k1s1p] [M [C linear64]] [R col2im]]";
  auto net = build_network(spec, arch, kMnist);
  ASSERT_TRUE(net.is_ok()) << net.status().message();
  EXPECT_EQ(measure_cost(*net.value()).params, 1290);
  arch.canonical = "[S [M [C col2im]] [M [C norm]]]";
  EXPECT_FALSE(build_network(spec, arch, kMnist).is_ok());
}

// An image body: a fused conv, BatchNorm, grouped channels with positional
// encodings and a permute, an unfused routed linear with a LayerNorm inside,
// and a scaled dot product of image branches; the head averages H, W.
std::string image_tree() {
  const std::string groups =
      branch("group2_dim1", seq(op("pos_enc"), op("permute132")), "concat_dim1");
  const std::string patches = route("im2col2k2s0p", seq(op("linear16"), op("norm")), "col2im");
  const std::string attend =
      branch("clone2", op("softmax") + " " + op("identity"), "scaled_dot_product");
  return root(seq(route("im2col3k1s1p", op("linear8"), "col2im"),
                  seq(op("norm"), seq(op("leakyrelu"), seq(groups, seq(patches, attend))))));
}

// A token body: 4x4 patches, positional encoding, LayerNorm, attention
// scores, a 4-way copied linear, grouped features; the head averages D.
std::string token_tree() {
  const std::string qk = op("linear8") + " " + seq(op("linear8"), op("permute21"));
  return root(seq(
      route("im2col4k4s0p", op("linear16"), "identity"),
      seq(seq(op("pos_enc"), op("norm")),
          seq(branch("clone2", qk, "scaled_dot_product"),
              seq(op("softmax"), seq(branch("clone4", op("linear6"), "add"),
                                     branch("group2_dim2", op("leakyrelu"), "concat_dim2")))))));
}

// Moves BatchNorm statistics away from their defaults, so that export must
// carry them.
void settle_batch_norm(NetworkImpl& net, const InputShape& in) {
  torch::NoGradGuard no_grad;
  net.train();
  for (int i = 0; i < 3; ++i)
    net.forward(torch::randn({8, in.channels, in.height, in.width}) + 0.5);
  net.eval();
}

TEST(EinspaceNetwork, ExportedTorchScriptMatchesLibTorchInPython) {
  const std::pair<std::string, InputShape> trees[] = {{image_tree(), {3, 8, 8, 10}},
                                                      {token_tree(), {1, 8, 8, 7}}};
  std::vector<PythonCase> cases;
  for (const auto& [text, in] : trees) {
    torch::manual_seed(11);
    auto net = build(text, in);
    ASSERT_TRUE(net);
    settle_batch_norm(*net, in);
    const torch::Tensor x = python_case_input(in.channels, in.height, in.width);
    const torch::Tensor expected = eval_forward(*net, x);
    ASSERT_EQ(expected.sizes(), torch::IntArrayRef({2, in.classes}));
    torch::jit::Module script = to_torchscript(*net);
    const torch::Tensor got = script.forward({x}).toTensor();
    EXPECT_LE((got - expected).abs().max().item<double>(), 1e-6) << text;
    // One file per test process: ctest runs tests in parallel processes.
    const std::string path = ::testing::TempDir() + "einspace_network_" + std::to_string(getpid()) +
                             "_" + std::to_string(cases.size()) + ".pt";
    script.save(path);
    cases.push_back({path, in.channels, in.height, in.width, expected, text});
  }
  expect_python_outputs(cases, 1e-5);
  for (const auto& c : cases) std::remove(c.path.c_str());
}

TEST(EinspaceNetwork, TrainsWithForwardAndBackward) {
  torch::manual_seed(13);
  auto net = build(image_tree(), {3, 8, 8, 10});
  ASSERT_TRUE(net);
  const torch::Tensor x = torch::randn({8, 3, 8, 8});
  const torch::Tensor y = torch::randint(0, 10, {8});
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  net->train();
  std::vector<double> losses;
  for (int step = 0; step < 30; ++step) {
    sgd.zero_grad();
    torch::Tensor loss = torch::cross_entropy_loss(net->forward(x), y);
    loss.backward();
    if (step == 0) {
      for (const auto& p : net->named_parameters()) {
        ASSERT_TRUE(p.value().grad().defined()) << p.key();
        EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
      }
    }
    sgd.step();
    losses.push_back(loss.item<double>());
  }
  EXPECT_TRUE(std::isfinite(losses.back()));
  EXPECT_LT(losses.back(), losses.front() * 0.5) << losses.front() << " -> " << losses.back();
}

}  // namespace
}  // namespace sylva
