#include "evaluators/proxy/proxies.h"

#include <cmath>
#include <limits>

#include "evaluators/proxy/op_tap.h"

namespace sylva::evaluators {
namespace {

namespace F = torch::nn::functional;

constexpr double kJacobEpsilon = 1e-5;

// Batch norm as the identity (NASLib's synflow replaces its forward with a
// no-op): evaluation mode on statistics 0 and 1 - eps, weight 1, bias 0.
template <typename BatchNorm>
bool set_identity(torch::nn::Module& m) {
  auto* bn = dynamic_cast<BatchNorm*>(&m);
  if (bn == nullptr) return false;
  torch::NoGradGuard no_grad;
  bn->eval();
  const double eps = bn->options.eps();
  if (bn->running_mean.defined()) bn->running_mean.zero_();
  if (bn->running_var.defined()) bn->running_var.fill_(1 - eps);
  if (bn->weight.defined()) bn->weight.fill_(1);
  if (bn->bias.defined()) bn->bias.zero_();
  return true;
}

void batch_norm_as_identity(torch::nn::Module& net) {
  for (const auto& m : net.modules()) {
    set_identity<torch::nn::BatchNorm1dImpl>(*m) || set_identity<torch::nn::BatchNorm2dImpl>(*m) ||
        set_identity<torch::nn::BatchNorm3dImpl>(*m);
  }
}

// Gradients of `output` with respect to `inputs`; undefined where unused.
std::vector<at::Tensor> gradients(const at::Tensor& output, const std::vector<at::Tensor>& inputs,
                                  const at::Tensor& grad_output = {}) {
  if (inputs.empty()) return {};
  return torch::autograd::grad(
      {output}, inputs,
      grad_output.defined() ? std::vector<at::Tensor>{grad_output} : std::vector<at::Tensor>{},
      /*retain_graph=*/false, /*create_graph=*/false,
      /*allow_unused=*/true);
}

// Sum over layer weights of f(weight, gradient of the loss) on the batch.
template <typename PerWeight>
double loss_gradient_sum(torch::nn::Module& net, const Forward& forward, const ProxyBatch& batch,
                         PerWeight per_weight) {
  net.train();
  OpTap tap;
  const at::Tensor out = forward(batch.x);
  tap.stop();
  const at::Tensor loss = F::cross_entropy(out, batch.y);
  const std::vector<at::Tensor> weights = layer_weights(tap, net);
  const std::vector<at::Tensor> grads = gradients(loss, weights);
  double score = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!grads[i].defined()) continue;
    score += per_weight(weights[i].detach().to(torch::kDouble), grads[i].to(torch::kDouble));
  }
  return score;
}

}  // namespace

double synflow_score(torch::nn::Module& net, const Forward& forward,
                     const std::vector<int64_t>& sample_shape) {
  net.train();
  net.to(torch::kDouble);
  {
    torch::NoGradGuard no_grad;
    for (at::Tensor& p : net.parameters()) p.abs_();
    for (at::Tensor& b : net.buffers()) {
      if (b.is_floating_point()) b.abs_();
    }
  }
  batch_norm_as_identity(net);
  std::vector<int64_t> shape = {1};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  OpTap tap;
  const at::Tensor out = forward(torch::ones(shape, torch::kDouble));
  tap.stop();
  const std::vector<at::Tensor> weights = layer_weights(tap, net);
  const std::vector<at::Tensor> grads = gradients(out.sum(), weights);
  double score = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (grads[i].defined()) score += (weights[i].detach() * grads[i]).abs().sum().item<double>();
  }
  return score;
}

double naswot_score(torch::nn::Module& net, const Forward& forward, const at::Tensor& x) {
  net.train();
  torch::NoGradGuard no_grad;
  OpTap tap;
  forward(x);
  tap.stop();
  const int64_t n = x.size(0);
  at::Tensor k = torch::zeros({n, n}, torch::kDouble);
  for (const at::Tensor& r : tap.rectified()) {
    if (r.dim() == 0 || r.size(0) != n) continue;
    const at::Tensor c = r.reshape({n, -1}).gt(0).to(torch::kDouble);
    const at::Tensor not_c = 1 - c;
    k += c.mm(c.t()) + not_c.mm(not_c.t());
  }
  return std::get<1>(at::linalg_slogdet(k)).item<double>();
}

double snip_score(torch::nn::Module& net, const Forward& forward, const ProxyBatch& batch) {
  return loss_gradient_sum(net, forward, batch, [](const at::Tensor& w, const at::Tensor& g) {
    return (w * g).abs().sum().item<double>();
  });
}

double grad_norm_score(torch::nn::Module& net, const Forward& forward, const ProxyBatch& batch) {
  return loss_gradient_sum(net, forward, batch, [](const at::Tensor&, const at::Tensor& g) {
    return g.norm().item<double>();
  });
}

double jacob_cov_of(const at::Tensor& jacobian) {
  const at::Tensor j = jacobian.to(torch::kDouble);
  const at::Tensor centred = j - j.mean(1, /*keepdim=*/true);
  const at::Tensor cov = centred.mm(centred.t());  // the scale cancels in the correlation
  const at::Tensor s = cov.diagonal().sqrt();
  const at::Tensor corr = (cov / s.unsqueeze(1) / s.unsqueeze(0)).clamp(-1, 1);
  if (!corr.isfinite().all().item<bool>()) return std::numeric_limits<double>::quiet_NaN();
  const at::Tensor v = at::linalg_eigvalsh(corr) + kJacobEpsilon;
  return -(v.log() + v.reciprocal()).sum().item<double>();
}

double jacob_cov_score(torch::nn::Module& net, const Forward& forward, const at::Tensor& x) {
  net.train();
  const at::Tensor input = x.detach().clone().set_requires_grad(true);
  const at::Tensor out = forward(input);
  std::vector<at::Tensor> grads;
  if (out.requires_grad()) grads = gradients(out, {input}, torch::ones_like(out));
  at::Tensor jacobian = grads.empty() || !grads[0].defined() ? torch::zeros_like(input) : grads[0];
  return jacob_cov_of(jacobian.reshape({x.size(0), -1}));
}

double fisher_score(torch::nn::Module& net, const Forward& forward, const ProxyBatch& batch) {
  net.train();
  OpTap tap;
  const at::Tensor out = forward(batch.x);
  tap.stop();
  const at::Tensor loss = F::cross_entropy(out, batch.y);
  const std::vector<at::Tensor> params = layer_parameters(tap, net);
  std::vector<size_t> used;  // layers whose output is in the graph
  std::vector<at::Tensor> acts;
  for (size_t i = 0; i < tap.layers().size(); ++i) {
    const at::Tensor& a = tap.layers()[i].output;
    if (!a.requires_grad() || a.dim() < 2) continue;
    used.push_back(i);
    acts.push_back(a);
  }
  const std::vector<at::Tensor> grads = gradients(loss, acts);
  double score = 0;
  for (size_t u = 0; u < used.size(); ++u) {
    if (!grads[u].defined()) continue;
    const OpTap::Layer& layer = tap.layers()[used[u]];
    const at::Tensor ag = acts[u].detach().to(torch::kDouble) * grads[u].to(torch::kDouble);
    // Per sample and channel: the sum over the other dimensions.
    at::Tensor g_nk = ag;
    if (layer.convolution) {
      std::vector<int64_t> dims;
      for (int64_t d = 2; d < ag.dim(); ++d) dims.push_back(d);
      if (!dims.empty()) g_nk = ag.sum(dims);
    } else {
      g_nk = ag.reshape({ag.size(0), -1, ag.size(-1)}).sum(1);
    }
    const at::Tensor del = g_nk.pow(2).mean(0).mul(0.5);
    const int64_t channels = g_nk.size(1);
    const at::Tensor& w = params[used[u]].defined() ? params[used[u]] : layer.weight;
    const double per_channel = static_cast<double>(w.numel()) / static_cast<double>(channels);
    score += del.abs().sum().item<double>() * per_channel;
  }
  return score;
}

}  // namespace sylva::evaluators
