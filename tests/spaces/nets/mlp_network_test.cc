// Proves that the mlp builder flattens any input to the classes with the
// parameters and MACs of a hand count, that every architecture of the
// built-in `mlp` space builds and costs what its layers say, and that dropout
// masks depend on the trial's generator alone: the same seed trains the same
// way twice, on any thread, another seed differently, and eval mode is the
// identity.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "base/random.h"
#include "spaces/nets/network.h"
#include "spaces/nets/vector_blocks.h"
#include "spaces/op_registry.h"

namespace sylva {
namespace {

BuildSpec mlp_spec() {
  BuildSpec spec;
  spec.builder = "mlp";
  return spec;
}

std::shared_ptr<NetworkImpl> build_mlp(const std::vector<std::string>& prims,
                                       const InputShape& input) {
  Architecture arch;
  arch.primitives = prims;
  auto net = build_network(mlp_spec(), arch, input);
  EXPECT_TRUE(net.is_ok()) << net.status().message();
  return net.is_ok() ? std::move(net).value() : nullptr;
}

std::shared_ptr<NetworkImpl> seeded(const std::vector<std::string>& prims, const InputShape& in,
                                    uint64_t seed) {
  auto net = build_mlp(prims, in);
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  init_weights(*net, g);
  return net;
}

torch::Tensor train_forward(NetworkImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  net.train();
  return net.forward(x);
}

torch::Tensor eval_forward(NetworkImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  net.eval();
  return net.forward(x);
}

const std::vector<std::string> kTwoBlocks = {"linear64",  "batchnorm", "relu", "dropout0.1",
                                             "linear128", "layernorm", "gelu", "identity"};

TEST(MlpNetworkTest, MapsTabularAndImageInputsToTheClasses) {
  torch::manual_seed(0);
  for (InputShape in :
       {InputShape{10, 1, 1, 3}, InputShape{1, 28, 28, 10}, InputShape{3, 5, 7, 2}}) {
    auto net = build_mlp(kTwoBlocks, in);
    const torch::Tensor x = torch::randn({4, in.channels, in.height, in.width});
    EXPECT_EQ(train_forward(*net, x).sizes(), torch::IntArrayRef({4, in.classes}));
    EXPECT_EQ(eval_forward(*net, x).sizes(), torch::IntArrayRef({4, in.classes}));
  }
  // No hidden layer at all: flatten and the head.
  auto head_only = build_mlp({}, InputShape{5, 1, 1, 4});
  EXPECT_EQ(eval_forward(*head_only, torch::randn({2, 5, 1, 1})).sizes(),
            torch::IntArrayRef({2, 4}));
}

// Hand count at [10, 1, 1] and 3 classes: linear 10*64 + 64, batch norm 2*64
// (its running statistics are buffers), linear 64*128 + 128, layer norm
// 2*128, head 128*3 + 3; MACs are the linear layers' weights.
TEST(MlpNetworkTest, ParamsAndFlopsEqualTheHandCount) {
  auto net = build_mlp(kTwoBlocks, InputShape{10, 1, 1, 3});
  const Cost cost = measure_cost(*net);
  EXPECT_EQ(cost.params, (640 + 64) + 128 + (8192 + 128) + 256 + (384 + 3));
  EXPECT_EQ(cost.params, 9795);
  EXPECT_EQ(cost.flops, 640 + 8192 + 384);

  // Fashion-MNIST through one block of 256: 784*256 + 256 + 256*10 + 10.
  auto image = build_mlp({"linear256", "identity", "relu", "identity"}, InputShape{1, 28, 28, 10});
  const Cost c = measure_cost(*image);
  EXPECT_EQ(c.params, 203530);
  EXPECT_EQ(c.flops, 200704 + 2560);

  // A norm before any linear normalises the input's 10 features.
  auto first_norm = build_mlp({"layernorm", "tanh", "linear64"}, InputShape{10, 1, 1, 3});
  EXPECT_EQ(measure_cost(*first_norm).params, 20 + (640 + 64) + (192 + 3));
}

// Samples the built-in space and checks each network against the count its
// leaves give: widths chain through linears, norms add 2 x width.
TEST(MlpNetworkTest, EverySampledArchitectureOfTheSpaceBuildsAndCounts) {
  auto space = make_space("mlp").value();
  ASSERT_EQ(space->build_spec().builder, "mlp");
  Rng rng(11);
  const InputShape in{7, 1, 1, 3};
  std::set<int> depths;
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<int> prefix;
    for (auto ch = space->choices(prefix); !ch.empty(); ch = space->choices(prefix)) {
      std::vector<double> w;
      for (const auto& c : ch) w.push_back(c.prior);
      prefix.push_back(static_cast<int>(sample_index(rng, w)));
    }
    const Architecture arch = space->make(prefix).value();
    depths.insert(static_cast<int>(arch.primitives.size()) / 4);
    int64_t width = in.channels, params = 0, macs = 0;
    for (const auto& p : arch.primitives) {
      const OpDef& op = *find_op(p);
      if (op.kind == OpKind::kLinear) {
        params += width * op.width + op.width;
        macs += width * op.width;
        width = op.width;
      } else if (op.kind == OpKind::kBatchNorm || op.kind == OpKind::kLayerNorm) {
        params += 2 * width;
      }
    }
    params += width * in.classes + in.classes;
    macs += width * in.classes;
    auto net = build_network(space->build_spec(), arch, in);
    ASSERT_TRUE(net.is_ok()) << arch.key << ": " << net.status().message();
    const Cost cost = measure_cost(*net.value());
    EXPECT_EQ(cost.params, params) << arch.key;
    EXPECT_EQ(cost.flops, macs) << arch.key;
    EXPECT_EQ(eval_forward(*net.value(), torch::randn({3, 7, 1, 1})).sizes(),
              torch::IntArrayRef({3, 3}));
  }
  EXPECT_EQ(depths, (std::set<int>{1, 2, 3, 4}));
}

TEST(MlpNetworkTest, OpsOfOtherBuildersAreErrorsNamingThem) {
  Architecture arch;
  arch.primitives = {"linear64", "conv3x3"};
  auto net = build_network(mlp_spec(), arch, InputShape{10, 1, 1, 3});
  ASSERT_FALSE(net.is_ok());
  EXPECT_EQ(net.status().message(),
            "layer 1: op 'conv3x3' maps feature maps [C, H, W] (an op of %builder chain or cell), "
            "not feature vectors [D]");
  arch.primitives = {"linear1024"};
  net = build_network(mlp_spec(), arch, InputShape{10, 1, 1, 3});
  ASSERT_FALSE(net.is_ok());
  EXPECT_EQ(net.status().message().rfind("layer 0: unknown op 'linear1024' (known: batchnorm, ", 0),
            0u)
      << net.status().message();
  // The chain builder refuses the mlp's ops the same way.
  arch.primitives = std::vector<std::string>(3, "identity");
  arch.primitives[1] = "gelu";
  BuildSpec chain;
  chain.stem_channels = 4;
  net = build_network(chain, arch, InputShape{1, 8, 8, 3});
  ASSERT_FALSE(net.is_ok());
  EXPECT_EQ(net.status().message(),
            "layer 1: op 'gelu' maps feature vectors [D] (an op of %builder mlp), not feature "
            "maps [C, H, W]");
}

// Same seed: the same weights and the same masks, step after step; another
// seed: other masks. Trials run concurrently, so the masks must not come
// from LibTorch's process-wide generator, which this test leaves untouched.
TEST(MlpDropoutTest, MasksFollowTheTrialSeedAlone) {
  const std::vector<std::string> ops = {"linear128", "dropout0.3", "relu", "linear64",
                                        "dropout0.1"};
  const InputShape in{10, 1, 1, 3};
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({16, 10, 1, 1});
  auto a = seeded(ops, in, 42), b = seeded(ops, in, 42), c = seeded(ops, in, 43);

  torch::manual_seed(123);
  const torch::Tensor expected_draw = torch::rand({4});
  torch::manual_seed(123);
  const torch::Tensor a1 = train_forward(*a, x), a2 = train_forward(*a, x);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected_draw)) << "global generator was used";

  EXPECT_TRUE(torch::equal(a1, train_forward(*b, x)));
  EXPECT_TRUE(torch::equal(a2, train_forward(*b, x)));
  EXPECT_FALSE(torch::equal(a1, a2)) << "the second step drew the same masks";

  // Seed 43's weights differ too; same weights with other masks show that
  // the masks themselves follow the seed: reseed b's dropouts only.
  EXPECT_FALSE(torch::allclose(a1, train_forward(*c, x)));
  auto d = seeded(ops, in, 42);
  at::Generator other = at::make_generator<at::CPUGeneratorImpl>(7);
  d->apply([&](torch::nn::Module& m) {
    if (auto* dropout = dynamic_cast<DropoutImpl*>(&m)) dropout->reseed(draw_seed(other));
  });
  EXPECT_TRUE(torch::equal(eval_forward(*a, x), eval_forward(*d, x)));
  EXPECT_FALSE(torch::equal(a1, train_forward(*d, x)));

  // The same seed on four threads at once: the same outputs as alone.
  const torch::Tensor alone = train_forward(*seeded(ops, in, 99), x);
  std::vector<torch::Tensor> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto net = seeded(ops, in, 99);
      got[t] = train_forward(*net, x);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(torch::equal(got[t], alone)) << "thread " << t;
}

// Eval mode is the identity: a network with dropout computes exactly what
// the same architecture without it computes, with the same weights (the
// weights are drawn before the dropout seeds).
TEST(MlpDropoutTest, EvalModeIsTheIdentityAndWeightsIgnoreDropout) {
  std::vector<std::string> with = kTwoBlocks, without = kTwoBlocks;
  with[7] = "dropout0.3";
  without[3] = "identity";
  const InputShape in{10, 1, 1, 3};
  torch::manual_seed(6);
  const torch::Tensor x = torch::randn({8, 10, 1, 1});
  auto a = seeded(with, in, 1), b = seeded(without, in, 1);
  EXPECT_TRUE(torch::equal(eval_forward(*a, x), eval_forward(*b, x)));
  EXPECT_TRUE(torch::equal(eval_forward(*a, x), eval_forward(*a, x)));
  EXPECT_FALSE(torch::equal(train_forward(*a, x), train_forward(*b, x)));
}

// Training mode zeroes a `rate` share of the elements and scales the rest by
// 1 / (1 - rate), so the expectation is unchanged; gradients pass the mask.
TEST(MlpDropoutTest, TrainModeZeroesTheRateAndScalesTheRest) {
  DropoutImpl dropout(0.3);
  dropout.reseed(2024);
  dropout.train();
  const torch::Tensor x = torch::full({200, 500}, 2.0, torch::requires_grad());
  const torch::Tensor y = dropout.forward(x);
  const torch::Tensor zero = y == 0, kept = y != 0;
  const double zeroed = zero.to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(zeroed, 0.3, 0.005);
  EXPECT_TRUE(torch::allclose(y.masked_select(kept), torch::full({1}, 2.0 / 0.7)));
  y.sum().backward();
  EXPECT_TRUE(torch::equal(x.grad() != 0, kept));

  DropoutImpl again(0.3);
  again.reseed(2024);
  EXPECT_TRUE(torch::equal(again.forward(x.detach()), y.detach()));
  dropout.eval();
  EXPECT_TRUE(torch::equal(dropout.forward(x), x));
}

// The mask is drawn on the CPU from the same generator, so a seed gives the
// same masks on a GPU.
TEST(MlpDropoutTest, SameMasksOnTheGpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  DropoutImpl cpu(0.1), gpu(0.1);
  cpu.reseed(3);
  gpu.reseed(3);
  gpu.to(torch::kCUDA);
  const torch::Tensor x = torch::randn({64, 32});
  const torch::Tensor on_gpu = gpu.forward(x.to(torch::kCUDA));
  EXPECT_EQ(on_gpu.device().type(), torch::kCUDA);
  EXPECT_TRUE(torch::equal(on_gpu.cpu(), cpu.forward(x)));
}

}  // namespace
}  // namespace sylva
