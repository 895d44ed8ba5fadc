// Elastic layers: a smaller size is a prefix of the largest one's weights
// (its gradient touches nothing else), a smaller kernel is the transformed
// centre crop, batch norm keeps statistics per channel prefix, and every
// extracted layer computes exactly what the elastic one computes.
#include "spaces/supernets/elastic.h"

#include <gtest/gtest.h>

namespace sylva::elastic {
namespace {

void expect_close(const torch::Tensor& a, const torch::Tensor& b) {
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5);
}

TEST(ElasticLinear, ASmallerLayerIsAPrefixOfTheWeights) {
  torch::manual_seed(1);
  ElasticLinear fc(8, 6);
  const torch::Tensor x = torch::randn({3, 5});
  const torch::Tensor y = fc->forward(x, 4);
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({3, 4}));
  expect_close(y, torch::matmul(x, fc->weight().slice(0, 0, 4).slice(1, 0, 5).t()) +
                      fc->bias().slice(0, 0, 4));
  expect_close(fc->extract(5, 4)->forward(x), y);
  EXPECT_EQ(fc->params(5, 4), 5 * 4 + 4);
  // Only the prefix learns from this sub-network.
  y.sum().backward();
  const torch::Tensor g = fc->weight().grad();
  EXPECT_GT(g.slice(0, 0, 4).slice(1, 0, 5).abs().sum().item<double>(), 0);
  EXPECT_EQ(g.slice(0, 4).abs().sum().item<double>(), 0);
  EXPECT_EQ(g.slice(1, 5).abs().sum().item<double>(), 0);
  EXPECT_THROW(fc->forward(torch::randn({1, 9}), 4), std::invalid_argument);
  EXPECT_THROW(fc->forward(x, 7), std::invalid_argument);
}

TEST(ElasticConv, SmallerKernelsAreTransformedCentreCrops) {
  torch::manual_seed(2);
  ElasticConv2d conv(4, 6, std::vector<int64_t>{3, 7, 5});
  EXPECT_EQ(conv->kernels(), (std::vector<int64_t>{7, 5, 3}));
  // Identity transforms: a 5x5 kernel is the centre of the 7x7, a 3x3 the
  // centre of that.
  const torch::Tensor w7 = conv->active_weight(4, 6, 7);
  expect_close(conv->active_weight(4, 6, 5), w7.slice(2, 1, 6).slice(3, 1, 6));
  expect_close(conv->active_weight(3, 2, 3),
               w7.slice(0, 0, 2).slice(1, 0, 3).slice(2, 2, 5).slice(3, 2, 5));
  // A learned transform mixes the 9 positions of every 3x3 filter alike.
  {
    torch::NoGradGuard no_grad;
    conv->transform(3).copy_(torch::randn({9, 9}));
  }
  const torch::Tensor crop = conv->active_weight(4, 6, 5).slice(2, 1, 4).slice(3, 1, 4);
  expect_close(conv->active_weight(4, 6, 3),
               torch::matmul(crop.reshape({-1, 9}), conv->transform(3).t()).reshape({6, 4, 3, 3}));
  // The extracted Conv2d computes the same; "same" padding at stride 1.
  const torch::Tensor x = torch::randn({2, 3, 9, 9});
  const torch::Tensor y = conv->forward(x, 5, 3);
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 5, 9, 9}));
  expect_close(conv->extract(3, 5, 3)->forward(x), y);
  EXPECT_EQ(conv->params(3, 5, 3), 5 * 3 * 9);
  // Gradients reach the crop's source weights and the transforms.
  y.sum().backward();
  EXPECT_GT(conv->transform(3).grad().abs().sum().item<double>(), 0);
  // The kernel's weights learn only where the 3x3 of 5 out and 3 in channels was.
  torch::Tensor gw = conv->named_parameters()["weight"].grad().clone();
  torch::Tensor region = gw.slice(0, 0, 5).slice(1, 0, 3).slice(2, 2, 5).slice(3, 2, 5);
  EXPECT_GT(region.abs().sum().item<double>(), 0);
  region.zero_();
  EXPECT_EQ(gw.abs().sum().item<double>(), 0);
  EXPECT_THROW(conv->forward(x, 5, 4), std::invalid_argument);
}

TEST(ElasticConv, DepthwiseKeepsChannelsAndStrides) {
  torch::manual_seed(3);
  ElasticConv2d dw(8, 8, std::vector<int64_t>{5, 3}, /*stride=*/2, /*depthwise=*/true);
  const torch::Tensor x = torch::randn({2, 6, 10, 10});
  const torch::Tensor y = dw->forward(x, 6, 3);
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 6, 5, 5}));
  expect_close(dw->extract(6, 6, 3)->forward(x), y);
  EXPECT_EQ(dw->params(6, 6, 5), 6 * 25);
  EXPECT_THROW(ElasticConv2d(4, 6, std::vector<int64_t>{3}, 1, true), std::invalid_argument);
  EXPECT_THROW(ElasticConv2d(4, 6, std::vector<int64_t>{4}), std::invalid_argument);
}

TEST(ElasticBatchNorm, StatisticsArePerChannelPrefix) {
  torch::manual_seed(4);
  ElasticBatchNorm2d bn(8);
  bn->train();
  const torch::Tensor x = torch::randn({16, 5, 4, 4}) * 3 + 2;
  bn->forward(x);
  const torch::Tensor mean = x.mean({0, 2, 3});
  expect_close(bn->running_mean().slice(0, 0, 5), 0.1 * mean);
  EXPECT_EQ(bn->running_mean().slice(0, 5).abs().sum().item<double>(), 0);
  EXPECT_EQ(bn->running_var().slice(0, 5).sum().item<double>(), 3);
  bn->eval();
  auto plain = bn->extract(5);
  plain->eval();
  expect_close(plain->forward(x), bn->forward(x));
  EXPECT_EQ(bn->params(5), 10);
}

}  // namespace
}  // namespace sylva::elastic
