// The zero-cost proxies of a network at initialisation, as NASLib
// (naslib/predictors/utils/pruners/measures, after SamsungLabs'
// zero-cost-nas) defines them. Each scores one network on one batch; larger
// is meant to be better. The "layers" are the convolutions and linear maps
// the forward pass runs (OpTap: aten::conv2d, aten::linear, and the addmm of
// torch::nn::Linear), their weights the parameters they read; biases and
// normalisation parameters are never summed. The network is in training
// mode (batch norm on batch statistics), as a freshly built PyTorch module
// is when NASLib scores it.
//
//   synflow    Tanaka et al.: every parameter and buffer replaced by its
//              absolute value, the network in double precision, batch norm
//              an identity (NASLib's synflow has bn=False), an all-ones input
//              of one sample; R = sum of the outputs; the score is
//              sum over layer weights of |w * dR/dw|.
//   naswot     Mellor et al. (v2): per sample the binary code of every
//              rectifier's output (> 0) flattened; kernel K = sum over
//              rectifiers of c c^T + (1 - c)(1 - c)^T (N_A minus the Hamming
//              distance); score = log |det K| (slogdet). No rectifier or
//              two samples with equal codes: K singular, -inf.
//   snip       sum over layer weights of |w * dL/dw|, L the mean
//              cross-entropy of the batch.
//   grad_norm  sum over layer weights of the L2 (Frobenius) norm of dL/dw.
//   jacob_cov  Mellor et al. (v1): J = d(sum of outputs)/d(input) per sample,
//              flattened; C = the correlation matrix of J's rows (numpy's
//              corrcoef, clipped to [-1, 1]); with the eigenvalues v of C,
//              score = -sum(log(v + 1e-5) + 1 / (v + 1e-5)). NaN when a
//              row of J is constant.
//   fisher     Turner et al.: per layer output a (before any activation) and
//              g = dL/da, per channel k: del_k = 0.5 * mean over samples of
//              (sum over the other dims of a * g)^2; NASLib then broadcasts
//              each channel's value to the weights of that channel before
//              summing, so the score is sum over layers and channels of
//              del_k * (weight elements per output channel). Convolutions
//              have channels on dim 1, linear maps on the last dim.
//
// Each function may change the network (synflow takes absolute values in
// place and converts it to double): score a fresh network per proxy.
// Results may be non-finite (inf, -inf, NaN); the callers decide.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

namespace sylva::evaluators {

// The network's forward pass.
using Forward = std::function<at::Tensor(const at::Tensor&)>;

// What a proxy runs the network on: standardised inputs [N, ...] and
// labels [N] (int64).
struct ProxyBatch {
  at::Tensor x;
  at::Tensor y;
};

// `sample_shape`: one input without the batch dimension.
double synflow_score(torch::nn::Module& net, const Forward& forward,
                     const std::vector<int64_t>& sample_shape);
double naswot_score(torch::nn::Module& net, const Forward& forward, const at::Tensor& x);
double snip_score(torch::nn::Module& net, const Forward& forward, const ProxyBatch& batch);
double grad_norm_score(torch::nn::Module& net, const Forward& forward, const ProxyBatch& batch);
double jacob_cov_score(torch::nn::Module& net, const Forward& forward, const at::Tensor& x);
double fisher_score(torch::nn::Module& net, const Forward& forward, const ProxyBatch& batch);

// jacob_cov's score of a Jacobian [N, D] (double): for tests and reuse.
double jacob_cov_of(const at::Tensor& jacobian);

}  // namespace sylva::evaluators
