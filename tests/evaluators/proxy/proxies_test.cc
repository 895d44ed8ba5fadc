// Each zero-cost proxy on fixed tiny networks equals its value worked out
// by hand (synflow, naswot, the Jacobians of jacob_cov) or by the closed
// forms of a two-layer net's forward and backward pass written out here in
// plain arithmetic, not with the code under test: a 3-3-2 linear/ReLU
// net on three samples, and a 1x1 convolution for fisher's spatial sums.
// Also: batch norm is the identity for synflow, the op tap sees
// torch::nn::Linear (addmm) and torch::linear alike, and params.
#include "evaluators/proxy/proxies.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

#include "evaluators/proxy/op_tap.h"

namespace sylva::evaluators {
namespace {

using Mat = std::vector<std::vector<double>>;

const Mat kW1 = {{1, -2, 0.5}, {-1, 1, 2}, {0.5, 0.5, -1}};
const std::vector<double> kB1 = {0.1, -0.2, 0.3};
const Mat kW2 = {{1, -1, 2}, {-0.5, 1.5, 1}};
const std::vector<double> kB2 = {0.2, -0.1};
// One-hot samples: the pre-activations are columns of W1 plus b1, so the
// ReLU codes are [1,0,1], [0,1,1], [1,1,0].
const Mat kX = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
const std::vector<int64_t> kY = {0, 1, 0};

at::Tensor tensor(const Mat& m) {
  std::vector<double> flat;
  for (const auto& row : m) flat.insert(flat.end(), row.begin(), row.end());
  return torch::tensor(flat, torch::kDouble)
      .reshape({static_cast<int64_t>(m.size()), static_cast<int64_t>(m[0].size())})
      .to(torch::kFloat);
}

at::Tensor tensor(const std::vector<double>& v) {
  return torch::tensor(v, torch::kDouble).to(torch::kFloat);
}

// fc2(relu(bn(fc1(x)))), bn optional; fc1 through torch::nn::Linear (addmm
// on a batch), fc2 through torch::linear (aten::linear).
struct TinyNetImpl : torch::nn::Module {
  explicit TinyNetImpl(bool batch_norm) {
    fc1 = register_module("fc1", torch::nn::Linear(3, 3));
    if (batch_norm) bn = register_module("bn", torch::nn::BatchNorm1d(3));
    w2 = register_parameter("w2", tensor(kW2));
    b2 = register_parameter("b2", tensor(kB2));
    torch::NoGradGuard no_grad;
    fc1->weight.copy_(tensor(kW1));
    fc1->bias.copy_(tensor(kB1));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = fc1->forward(x);
    if (bn) h = bn->forward(h);
    return torch::linear(torch::relu(h), w2, b2);
  }
  torch::nn::Linear fc1{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  at::Tensor w2, b2;
};
TORCH_MODULE(TinyNet);

Forward forward_of(TinyNet& net) {
  return [&net](const at::Tensor& x) { return net->forward(x); };
}

ProxyBatch batch() { return {tensor(kX), torch::tensor(kY, torch::kLong)}; }

// The tiny net's forward and backward pass for the mean cross-entropy, by
// the chain rule in plain arithmetic.
struct HandPass {
  Mat z1, z2, dz1, dz2;  // per sample: pre-activations and dL/d(them)
  Mat dw1, dw2;
};

HandPass hand_pass() {
  HandPass p;
  const size_t n = kX.size();
  p.dw1.assign(3, std::vector<double>(3, 0));
  p.dw2.assign(2, std::vector<double>(3, 0));
  for (size_t s = 0; s < n; ++s) {
    std::vector<double> z1(3), h(3), z2(2);
    for (int j = 0; j < 3; ++j) {
      z1[j] = kB1[j];
      for (int k = 0; k < 3; ++k) z1[j] += kW1[j][k] * kX[s][k];
      h[j] = z1[j] > 0 ? z1[j] : 0;
    }
    for (int i = 0; i < 2; ++i) {
      z2[i] = kB2[i];
      for (int j = 0; j < 3; ++j) z2[i] += kW2[i][j] * h[j];
    }
    const double e0 = std::exp(z2[0]), e1 = std::exp(z2[1]);
    std::vector<double> dz2 = {e0 / (e0 + e1), e1 / (e0 + e1)};
    dz2[kY[s]] -= 1;
    for (double& d : dz2) d /= static_cast<double>(n);  // the mean over the batch
    std::vector<double> dz1(3);
    for (int j = 0; j < 3; ++j) {
      double dh = 0;
      for (int i = 0; i < 2; ++i) dh += kW2[i][j] * dz2[i];
      dz1[j] = z1[j] > 0 ? dh : 0;
    }
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 3; ++j) p.dw2[i][j] += dz2[i] * h[j];
    }
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 3; ++k) p.dw1[j][k] += dz1[j] * kX[s][k];
    }
    p.z1.push_back(z1);
    p.z2.push_back(z2);
    p.dz1.push_back(dz1);
    p.dz2.push_back(dz2);
  }
  return p;
}

TEST(ProxiesTest, SynflowOfTheAbsoluteNetOnOnes) {
  // |W1| 1 + |b1| = [3.6, 4.2, 2.3] = h; dR/dh = column sums of |W2| =
  // [1.5, 2.5, 3]. Layer 2: sum |W2_ij| h_j = 12.4 + 10.4 = 22.8. Layer 1:
  // sum_j dR/dh_j * (row sum of |W1|)_j = 1.5*3.5 + 2.5*4 + 3*2 = 21.25.
  TinyNet net(false);
  EXPECT_NEAR(synflow_score(*net, forward_of(net), {3}), 22.8 + 21.25, 1e-6);  // float weights
}

TEST(ProxiesTest, SynflowTakesBatchNormAsTheIdentity) {
  TinyNet net(true);
  {
    // Statistics and affine parameters that would change the flow.
    torch::NoGradGuard no_grad;
    net->bn->running_mean.fill_(5);
    net->bn->running_var.fill_(9);
    net->bn->weight.fill_(3);
  }
  EXPECT_NEAR(synflow_score(*net, forward_of(net), {3}), 44.05, 1e-6);
}

TEST(ProxiesTest, NaswotIsTheLogDeterminantOfTheCodeKernel) {
  // Codes [1,0,1], [0,1,1], [1,1,0]: each pair differs in 2 of 3 units, so
  // K = 3 - Hamming = [[3,1,1],[1,3,1],[1,1,3]], det K = 24 - 2 - 2 = 20.
  TinyNet net(false);
  EXPECT_NEAR(naswot_score(*net, forward_of(net), tensor(kX)), std::log(20.0), 1e-9);
}

TEST(ProxiesTest, NaswotWithoutRectifiersIsMinusInfinity) {
  torch::nn::Linear fc(3, 2);
  const Forward f = [&fc](const at::Tensor& x) { return fc->forward(x); };
  EXPECT_EQ(naswot_score(*fc, f, tensor(kX)), -std::numeric_limits<double>::infinity());
}

TEST(ProxiesTest, SnipAndGradNormFollowTheChainRule) {
  const HandPass p = hand_pass();
  double snip = 0, norm1 = 0, norm2 = 0;
  for (int j = 0; j < 3; ++j) {
    for (int k = 0; k < 3; ++k) {
      snip += std::abs(kW1[j][k] * p.dw1[j][k]);
      norm1 += p.dw1[j][k] * p.dw1[j][k];
    }
  }
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      snip += std::abs(kW2[i][j] * p.dw2[i][j]);
      norm2 += p.dw2[i][j] * p.dw2[i][j];
    }
  }
  TinyNet a(false), b(false);
  EXPECT_NEAR(snip_score(*a, forward_of(a), batch()), snip, 1e-6);
  EXPECT_NEAR(grad_norm_score(*b, forward_of(b), batch()), std::sqrt(norm1) + std::sqrt(norm2),
              1e-6);
  EXPECT_GT(snip, 0.01);  // not trivially zero
}

TEST(ProxiesTest, FisherOfLinearLayersIsHalfTheMeanSquareTimesFanIn) {
  // Per layer and output unit k: 0.5 * mean_n (a_nk * dL/da_nk)^2, times the
  // unit's 3 incoming weights (NASLib broadcasts it to them before summing).
  const HandPass p = hand_pass();
  double fisher = 0;
  for (int k = 0; k < 3; ++k) {
    double mean = 0;
    for (size_t n = 0; n < 3; ++n) mean += std::pow(p.z1[n][k] * p.dz1[n][k], 2) / 3;
    fisher += 0.5 * mean * 3;
  }
  for (int k = 0; k < 2; ++k) {
    double mean = 0;
    for (size_t n = 0; n < 3; ++n) mean += std::pow(p.z2[n][k] * p.dz2[n][k], 2) / 3;
    fisher += 0.5 * mean * 3;
  }
  TinyNet net(false);
  EXPECT_NEAR(fisher_score(*net, forward_of(net), batch()), fisher, 1e-7);
}

TEST(ProxiesTest, FisherOfAConvolutionSumsOverSpace) {
  // A 1x1 convolution with weights [1, -1] on two 1x2 images, then the mean
  // over the two pixels: logits l_nk = w_k * mean(x_n), and
  // sum_pixels a * dL/da = w_k x_n1 dl/2 + w_k x_n2 dl/2 = l_nk * dL/dl_nk.
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(1, 2, 1).bias(false));
  {
    torch::NoGradGuard no_grad;
    conv->weight.copy_(torch::tensor({1.0f, -1.0f}).reshape({2, 1, 1, 1}));
  }
  const Forward f = [&conv](const at::Tensor& x) { return conv->forward(x).mean({2, 3}); };
  const at::Tensor x = torch::tensor({1.0f, 3.0f, -1.0f, 0.0f}).reshape({2, 1, 1, 2});
  const ProxyBatch b{x, torch::tensor({0, 0}, torch::kLong)};
  const std::array<std::array<double, 2>, 2> logits = {{{2, -2}, {-0.5, 0.5}}};
  double fisher = 0;
  std::array<double, 2> mean = {0, 0};
  for (int n = 0; n < 2; ++n) {
    const double e0 = std::exp(logits[n][0]), e1 = std::exp(logits[n][1]);
    const std::array<double, 2> dl = {(e0 / (e0 + e1) - 1) / 2, e1 / (e0 + e1) / 2};
    for (int k = 0; k < 2; ++k) mean[k] += std::pow(logits[n][k] * dl[k], 2) / 2;
  }
  for (int k = 0; k < 2; ++k) fisher += 0.5 * mean[k] * 1;  // one weight per channel
  EXPECT_NEAR(fisher_score(*conv, f, b), fisher, 1e-7);
}

double det3(const Mat& m) {
  return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
         m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
         m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

// trace of the inverse: the sum of the diagonal cofactors over the determinant.
double trace_inverse3(const Mat& m) {
  const double c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1];
  const double c11 = m[0][0] * m[2][2] - m[0][2] * m[2][0];
  const double c22 = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  return (c00 + c11 + c22) / det3(m);
}

TEST(ProxiesTest, JacobCovScoresTheCorrelationOfTheInputJacobians) {
  // d(sum of outputs)/dx = W1^T (code * W2^T 1), W2^T 1 = [0.5, 0.5, 3]:
  //   [1,0,1]: 0.5 W1[0] + 3 W1[2] = [2, 0.5, -2.75]
  //   [0,1,1]: 0.5 W1[1] + 3 W1[2] = [1, 2, -2]
  //   [1,1,0]: 0.5 W1[0] + 0.5 W1[1] = [0, -0.5, 1.25]
  const Mat j = {{2, 0.5, -2.75}, {1, 2, -2}, {0, -0.5, 1.25}};
  // -sum(log(v + k) + 1/(v + k)) over the eigenvalues v of the correlation
  // C is -(log det(C + kI) + trace((C + kI)^-1)).
  Mat centred = j;
  for (auto& row : centred) {
    const double mean = (row[0] + row[1] + row[2]) / 3;
    for (double& v : row) v -= mean;
  }
  Mat c(3, std::vector<double>(3));
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      double ab = 0, aa = 0, bb = 0;
      for (int d = 0; d < 3; ++d) {
        ab += centred[a][d] * centred[b][d];
        aa += centred[a][d] * centred[a][d];
        bb += centred[b][d] * centred[b][d];
      }
      c[a][b] = ab / std::sqrt(aa * bb) + (a == b ? 1e-5 : 0);
    }
  }
  const double expected = -(std::log(det3(c)) + trace_inverse3(c));
  TinyNet net(false);
  EXPECT_NEAR(jacob_cov_score(*net, forward_of(net), tensor(kX)), expected,
              1e-6 * std::abs(expected));
}

TEST(ProxiesTest, JacobCovOfAConstantJacobianRowIsNan) {
  const at::Tensor j = torch::tensor({1.0, 1.0, 1.0, 1.0, 2.0, 3.0}).reshape({2, 3});
  EXPECT_TRUE(std::isnan(jacob_cov_of(j)));
}

TEST(ProxiesTest, TheTapFindsBothLinearFormsAndTheirParameters) {
  TinyNet net(false);
  OpTap tap;
  net->forward(tensor(kX));
  tap.stop();
  ASSERT_EQ(tap.layers().size(), 2u);
  ASSERT_EQ(tap.rectified().size(), 1u);
  const std::vector<at::Tensor> weights = layer_weights(tap, *net);
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_TRUE(weights[0].is_same(net->fc1->weight));
  EXPECT_TRUE(weights[1].is_same(net->w2));
  EXPECT_FALSE(tap.layers()[0].convolution);
}

}  // namespace
}  // namespace sylva::evaluators
