// einspace's operations as LibTorch blocks: composed into a convolution by
// routing (im2col, linear, col2im), an attention head by branching and dot
// products, and grouped/concatenated branches, they produce the shapes the
// analytic rules predict, and their generated TorchScript computes exactly
// their eval-mode forward.
#include "spaces/einspace/blocks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "spaces/nets/network.h"
#include "tests/spaces/python_torch.h"

namespace sylva::einspace {
namespace {

template <typename T, typename... Args>
BlockPtr make(Args&&... args) {
  return std::make_shared<T>(std::forward<Args>(args)...);
}

BlockPtr seq(std::vector<BlockPtr> blocks) {
  return std::make_shared<SequenceImpl>(std::move(blocks));
}

Shape unbatched(const torch::Tensor& t) { return Shape(t.sizes().begin() + 1, t.sizes().end()); }

// Runs `block` in eval mode, through its generated TorchScript in LibTorch,
// and saved and reloaded by Debian's python3-torch with torch.jit.load alone,
// on python_case_input() of the shape of `like`.
void expect_script_matches(const BlockPtr& block, const torch::Tensor& like) {
  const torch::Tensor x = python_case_input(like.size(1), like.size(2), like.size(3));
  NetworkImpl net({block}, InputShape{x.size(1), x.size(2), x.size(3), 10});
  net.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = net.forward(x);
  torch::jit::Module script = to_torchscript(net);
  const torch::Tensor got = script.forward({x}).toTensor();
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LE((got - expected).abs().max().item<double>(), 1e-6);
  // One file per test process: ctest runs tests in parallel processes.
  const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const std::string path =
      ::testing::TempDir() + "einspace_block_" + std::to_string(getpid()) + "_" + name + ".pt";
  script.save(path);
  expect_python_outputs({{path, x.size(1), x.size(2), x.size(3), expected, name}}, 1e-5);
  std::remove(path.c_str());
}

TEST(EinspaceBlocks, RoutedLinearIsAConvolutionWithThePredictedShape) {
  torch::manual_seed(1);
  const Shape in = {3, 9, 7};
  auto [cols, fold] = *im2col(in, {3, 2, 1});
  const Shape mid = *linear(cols, 16);
  const Shape out = *col2im(mid, fold);
  EXPECT_EQ(out, (Shape{16, 5, 4}));
  auto conv = seq({make<Im2colImpl>(Im2col{3, 2, 1}), make<LinearImpl>(cols.back(), 16),
                   make<Col2imImpl>(fold), make<NormImpl>(out),
                   make<ActivationImpl>(Activation::kLeakyRelu)});
  const torch::Tensor x = torch::randn({2, 3, 9, 7});
  conv->train();
  EXPECT_EQ(unbatched(conv->forward(x)), out);
  expect_script_matches(conv, x);
}

TEST(EinspaceBlocks, AttentionHeadFromBranchesAndDotProducts) {
  torch::manual_seed(2);
  // Patches of 4x4 -> 4 tokens of 16 features -> 32-d embedding.
  const Shape in = {1, 8, 8};
  auto [tokens, fold] = *im2col(in, {4, 4, 0});
  const Shape embedded = *linear(tokens, 32);
  // scores = softmax(q k^T / sqrt(d)), with k^T a permute of a linear.
  const Shape q = *linear(embedded, 16);
  const Shape kt = *permute(*linear(embedded, 16), "21");
  const Shape scores = *dot_product(q, kt);
  const Shape v = *linear(embedded, 16);
  const Shape attended = *dot_product(scores, v);
  EXPECT_EQ(attended, (Shape{4, 16}));
  auto scores_block =
      seq({make<BranchImpl>(
               Branching{true, 2, 1},
               std::vector<BlockPtr>{make<LinearImpl>(32, 16),
                                     seq({make<LinearImpl>(32, 16), make<PermuteImpl>("21")})},
               Aggregation{Aggregation::kScaledDotProduct, 0}),
           make<ActivationImpl>(Activation::kSoftmax)});
  auto head = make<BranchImpl>(Branching{true, 2, 1},
                               std::vector<BlockPtr>{scores_block, make<LinearImpl>(32, 16)},
                               Aggregation{Aggregation::kDotProduct, 0});
  // Grouped feature halves, mixed and concatenated back, then back to an image.
  const Shape halves = (*group(attended, 2, 2))[0];
  auto mix = make<BranchImpl>(Branching{false, 2, 2},
                              std::vector<BlockPtr>{make<LinearImpl>(halves.back(), 8),
                                                    make<ActivationImpl>(Activation::kLeakyRelu)},
                              Aggregation{Aggregation::kConcat, 2});
  auto net = seq({make<Im2colImpl>(Im2col{4, 4, 0}), make<LinearImpl>(16, 32),
                  make<PositionalImpl>(embedded), head, make<NormImpl>(attended), mix,
                  make<Col2imImpl>(fold)});
  const torch::Tensor x = torch::randn({3, 1, 8, 8});
  EXPECT_EQ(unbatched(net->forward(x)), *col2im(attended, fold));
  expect_script_matches(net, x);
}

TEST(EinspaceBlocks, ImageBranchesGroupAddAndPermute) {
  torch::manual_seed(3);
  const Shape in = {4, 6, 6};
  auto body = make<BranchImpl>(
      Branching{false, 2, 1},
      std::vector<BlockPtr>{seq({make<NormImpl>(Shape{2, 6, 6}), make<PermuteImpl>("132")}),
                            make<PermuteImpl>("132")},
      Aggregation{Aggregation::kAdd, 0});
  auto net = seq({body, make<LinearImpl>(6, 5), make<PermuteImpl>("312")});
  const Shape out = *permute(*linear(*permute((*group(in, 2, 1))[0], "132"), 5), "312");
  const torch::Tensor x = torch::randn({2, 4, 6, 6});
  EXPECT_EQ(unbatched(net->forward(x)), out);
  expect_script_matches(net, x);
  EXPECT_THROW(BranchImpl(Branching{true, 4, 1},
                          std::vector<BlockPtr>(4, make<ActivationImpl>(Activation::kSoftmax)),
                          Aggregation{Aggregation::kDotProduct, 0}),
               std::invalid_argument);
}

}  // namespace
}  // namespace sylva::einspace
