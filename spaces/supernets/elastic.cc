#include "spaces/supernets/elastic.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sylva::elastic {
namespace {

void check_size(const char* layer, const char* what, int64_t value, int64_t max) {
  if (value < 1 || value > max) {
    throw std::invalid_argument(fmt::format("{}: {} {} is outside 1..{}", layer, what, value, max));
  }
}

// torch.nn's default initialisation of Linear and Conv2d weights and biases.
void default_init(torch::Tensor& weight, torch::Tensor& bias, int64_t fan_in) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    bias.uniform_(-bound, bound);
  }
}

}  // namespace

ElasticLinearImpl::ElasticLinearImpl(int64_t in_max, int64_t out_max, bool bias) {
  check_size("elastic linear", "input width", in_max, in_max);
  check_size("elastic linear", "output width", out_max, out_max);
  weight_ = register_parameter("weight", torch::empty({out_max, in_max}));
  if (bias) bias_ = register_parameter("bias", torch::empty({out_max}));
  default_init(weight_, bias_, in_max);
}

torch::Tensor ElasticLinearImpl::forward(const torch::Tensor& x, int64_t out) {
  const int64_t in = x.size(-1);
  check_size("elastic linear", "input width", in, in_max());
  check_size("elastic linear", "output width", out, out_max());
  return torch::linear(x, weight_.narrow(0, 0, out).narrow(1, 0, in),
                       bias_.defined() ? bias_.narrow(0, 0, out) : torch::Tensor());
}

torch::nn::Linear ElasticLinearImpl::extract(int64_t in, int64_t out) const {
  check_size("elastic linear", "input width", in, in_max());
  check_size("elastic linear", "output width", out, out_max());
  torch::nn::Linear m(torch::nn::LinearOptions(in, out).bias(bias_.defined()));
  torch::NoGradGuard no_grad;
  m->weight.copy_(weight_.narrow(0, 0, out).narrow(1, 0, in));
  if (bias_.defined()) m->bias.copy_(bias_.narrow(0, 0, out));
  return m;
}

int64_t ElasticLinearImpl::params(int64_t in, int64_t out) const {
  return in * out + (bias_.defined() ? out : 0);
}

ElasticConv2dImpl::ElasticConv2dImpl(int64_t in_max, int64_t out_max, std::vector<int64_t> kernels,
                                     int64_t stride, bool depthwise, bool bias)
    : kernels_(std::move(kernels)), stride_(stride), depthwise_(depthwise) {
  if (kernels_.empty()) throw std::invalid_argument("elastic conv: no kernel sizes");
  std::sort(kernels_.rbegin(), kernels_.rend());
  kernels_.erase(std::unique(kernels_.begin(), kernels_.end()), kernels_.end());
  for (int64_t k : kernels_) {
    if (k < 1 || k % 2 == 0) {
      throw std::invalid_argument(fmt::format("elastic conv: kernel {} is not odd", k));
    }
  }
  if (depthwise && in_max != out_max) {
    throw std::invalid_argument(fmt::format(
        "elastic conv: a depthwise convolution keeps its channels, got {} in and {} out", in_max,
        out_max));
  }
  const int64_t kmax = kernels_.front();
  weight_ =
      register_parameter("weight", torch::empty({out_max, depthwise ? 1 : in_max, kmax, kmax}));
  if (bias) bias_ = register_parameter("bias", torch::empty({out_max}));
  default_init(weight_, bias_, (depthwise ? 1 : in_max) * kmax * kmax);
  for (size_t i = 1; i < kernels_.size(); ++i) {
    const int64_t k = kernels_[i];
    transforms_[k] = register_parameter(fmt::format("transform_{}", k), torch::eye(k * k));
  }
}

torch::Tensor ElasticConv2dImpl::active_weight(int64_t in, int64_t out, int64_t kernel) const {
  check_size("elastic conv", "output channels", out, weight_.size(0));
  if (depthwise_ && in != out) {
    throw std::invalid_argument(fmt::format(
        "elastic conv: a depthwise convolution keeps its channels, got {} in and {} out", in, out));
  }
  if (std::find(kernels_.begin(), kernels_.end(), kernel) == kernels_.end()) {
    throw std::invalid_argument(
        fmt::format("elastic conv: kernel {} is not one of {}", kernel, fmt::join(kernels_, ", ")));
  }
  torch::Tensor w = weight_.narrow(0, 0, out);
  if (!depthwise_) {
    check_size("elastic conv", "input channels", in, weight_.size(1));
    w = w.narrow(1, 0, in);
  }
  // Shrink step by step: centre crop of the previous kernel, then its
  // transform (once-for-all's kernel transformation).
  int64_t current = kernels_.front();
  for (size_t i = 1; i < kernels_.size() && kernels_[i] >= kernel; ++i) {
    const int64_t k = kernels_[i];
    const int64_t start = (current - k) / 2;
    torch::Tensor crop = w.narrow(2, start, k).narrow(3, start, k);
    w = torch::linear(crop.reshape({-1, k * k}), transforms_.at(k)).reshape(crop.sizes());
    current = k;
  }
  return w;
}

torch::Tensor ElasticConv2dImpl::forward(const torch::Tensor& x, int64_t out, int64_t kernel) {
  const int64_t in = x.size(1);
  const torch::Tensor w = active_weight(in, depthwise_ ? in : out, kernel);
  const int64_t channels = w.size(0);
  return torch::conv2d(x, w, bias_.defined() ? bias_.narrow(0, 0, channels) : torch::Tensor(),
                       stride_, kernel / 2, 1, depthwise_ ? in : 1);
}

torch::nn::Conv2d ElasticConv2dImpl::extract(int64_t in, int64_t out, int64_t kernel) const {
  const torch::Tensor w = active_weight(in, out, kernel);
  torch::nn::Conv2d m(torch::nn::Conv2dOptions(in, out, kernel)
                          .stride(stride_)
                          .padding(kernel / 2)
                          .groups(depthwise_ ? in : 1)
                          .bias(bias_.defined()));
  torch::NoGradGuard no_grad;
  m->weight.copy_(w);
  if (bias_.defined()) m->bias.copy_(bias_.narrow(0, 0, out));
  return m;
}

int64_t ElasticConv2dImpl::params(int64_t in, int64_t out, int64_t kernel) const {
  return out * (depthwise_ ? 1 : in) * kernel * kernel + (bias_.defined() ? out : 0);
}

ElasticBatchNorm2dImpl::ElasticBatchNorm2dImpl(int64_t channels_max, double momentum, double eps)
    : momentum_(momentum), eps_(eps) {
  check_size("elastic batch norm", "channels", channels_max, channels_max);
  weight_ = register_parameter("weight", torch::ones({channels_max}));
  bias_ = register_parameter("bias", torch::zeros({channels_max}));
  running_mean_ = register_buffer("running_mean", torch::zeros({channels_max}));
  running_var_ = register_buffer("running_var", torch::ones({channels_max}));
}

torch::Tensor ElasticBatchNorm2dImpl::forward(const torch::Tensor& x) {
  const int64_t c = x.size(1);
  check_size("elastic batch norm", "channels", c, weight_.size(0));
  // The running statistics are views: training updates the first c in place.
  return torch::batch_norm(x, weight_.narrow(0, 0, c), bias_.narrow(0, 0, c),
                           running_mean_.narrow(0, 0, c), running_var_.narrow(0, 0, c),
                           is_training(), momentum_, eps_, /*cudnn_enabled=*/true);
}

void ElasticBatchNorm2dImpl::reset_statistics() {
  torch::NoGradGuard no_grad;
  running_mean_.zero_();
  running_var_.fill_(1);
}

torch::nn::BatchNorm2d ElasticBatchNorm2dImpl::extract(int64_t channels) const {
  check_size("elastic batch norm", "channels", channels, weight_.size(0));
  torch::nn::BatchNorm2d m(torch::nn::BatchNorm2dOptions(channels).momentum(momentum_).eps(eps_));
  torch::NoGradGuard no_grad;
  m->weight.copy_(weight_.narrow(0, 0, channels));
  m->bias.copy_(bias_.narrow(0, 0, channels));
  m->running_mean.copy_(running_mean_.narrow(0, 0, channels));
  m->running_var.copy_(running_var_.narrow(0, 0, channels));
  return m;
}

}  // namespace sylva::elastic
