#include "spaces/nets/vector_blocks.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <mutex>
#include <stdexcept>

#include "spaces/nets/blocks.h"

namespace sylva {

std::string FlattenImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.flatten({}, 1)", y, x));
  return y;
}

LinearImpl::LinearImpl(int64_t cin, int64_t cout) {
  fc_ = register_module("fc", torch::nn::Linear(cin, cout));
}

torch::Tensor LinearImpl::forward(torch::Tensor x) {
  count_macs(fc_->weight.numel());
  return fc_->forward(x);
}

std::string LinearImpl::emit(ScriptEmitter& e, const std::string& x) {
  // addmm is what linear runs for a 2-D input, so the result is bit-identical.
  const std::string w = e.param("fc_w", fc_->weight);
  const std::string b = e.param("fc_b", fc_->bias);
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.addmm({}, {}, {}.t())", y, b, x, w));
  return y;
}

VectorBatchNormImpl::VectorBatchNormImpl(int64_t features) {
  bn_ = register_module("bn", torch::nn::BatchNorm1d(
                                  torch::nn::BatchNorm1dOptions(features).eps(1e-5).momentum(0.1)));
}

std::string VectorBatchNormImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  emit_batch_norm(e, *bn_, x, y);
  return y;
}

LayerNormImpl::LayerNormImpl(int64_t features) {
  ln_ = register_module("ln",
                        torch::nn::LayerNorm(torch::nn::LayerNormOptions({features}).eps(1e-5)));
}

std::string LayerNormImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string w = e.param("ln_w", ln_->weight);
  const std::string b = e.param("ln_b", ln_->bias);
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.layer_norm({}, [{}], {}, {}, {})", y, x,
                     ln_->options.normalized_shape()[0], w, b, script_float(ln_->options.eps())));
  return y;
}

torch::Tensor ActivationImpl::forward(torch::Tensor x) {
  switch (f_) {
    case OpActivation::kRelu:
      return torch::relu(x);
    case OpActivation::kGelu:
      return torch::gelu(x);
    case OpActivation::kTanh:
      return torch::tanh(x);
    case OpActivation::kSilu:
      return torch::silu(x);
  }
  throw std::logic_error("unknown activation");
}

std::string ActivationImpl::emit(ScriptEmitter& e, const std::string& x) {
  const char* f = f_ == OpActivation::kRelu   ? "relu"
                  : f_ == OpActivation::kGelu ? "gelu"
                  : f_ == OpActivation::kTanh ? "tanh"
                                              : "silu";
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.{}({})", y, f, x));
  return y;
}

uint64_t draw_seed(at::Generator g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(g)->random64();
}

DropoutImpl::DropoutImpl(double rate)
    : rate_(rate),
      generator_(at::make_generator<at::CPUGeneratorImpl>(
          draw_seed(at::detail::getDefaultCPUGenerator()))) {
  TORCH_CHECK(rate >= 0 && rate < 1, "dropout rate must be in [0, 1), got ", rate);
}

void DropoutImpl::reseed(uint64_t seed) {
  generator_ = at::make_generator<at::CPUGeneratorImpl>(seed);
}

torch::Tensor DropoutImpl::forward(torch::Tensor x) {
  if (!is_training() || rate_ == 0) return x;
  torch::Tensor mask = torch::empty(x.sizes(), torch::dtype(torch::kFloat));
  mask.bernoulli_(1 - rate_, generator_).div_(1 - rate_);
  return x * mask.to(x.options());
}

std::string DropoutImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.dropout({}, {}, self.training)", y, x, script_float(rate_)));
  return y;
}

}  // namespace sylva
