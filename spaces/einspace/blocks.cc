#include "spaces/einspace/blocks.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace sylva::einspace {
namespace {

std::string int_list(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

}  // namespace

LinearImpl::LinearImpl(int64_t in, int64_t out) {
  weight_ = register_parameter("weight", torch::empty({out, in}));
  bias_ = register_parameter("bias", torch::zeros({out}));
  torch::nn::init::kaiming_uniform_(weight_, std::sqrt(5.0));
}

torch::Tensor LinearImpl::forward(torch::Tensor x) {
  torch::Tensor y = torch::linear(x, weight_, bias_);
  count_macs(y.numel() / y.size(0) * weight_.size(1));
  return y;
}

std::string LinearImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string w = e.param("linear_w", weight_);
  const std::string b = e.param("linear_b", bias_);
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.linear({}, {}, {})", y, x, w, b));
  return y;
}

NormImpl::NormImpl(const Shape& in) {
  if (is_im(in)) {
    bn_ = register_module("bn", torch::nn::BatchNorm2d(in[0]));
  } else {
    ln_ = register_module("ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in.back()})));
  }
}

torch::Tensor NormImpl::forward(torch::Tensor x) { return bn_ ? bn_->forward(x) : ln_->forward(x); }

std::string NormImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  if (bn_) {
    emit_batch_norm(e, *bn_, x, y);
    return y;
  }
  const std::string w = e.param("ln_w", ln_->weight);
  const std::string b = e.param("ln_b", ln_->bias);
  e.line(fmt::format("{} = torch.layer_norm({}, {}, {}, {}, {})", y, x,
                     int_list(ln_->options.normalized_shape()), w, b,
                     script_float(ln_->options.eps())));
  return y;
}

torch::Tensor ActivationImpl::forward(torch::Tensor x) {
  return kind_ == Activation::kLeakyRelu ? torch::leaky_relu(x, 0.01) : torch::softmax(x, -1);
}

std::string ActivationImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  e.line(kind_ == Activation::kLeakyRelu ? fmt::format("{} = torch.leaky_relu({}, 0.01)", y, x)
                                         : fmt::format("{} = torch.softmax({}, -1)", y, x));
  return y;
}

PositionalImpl::PositionalImpl(const Shape& in) {
  std::vector<int64_t> shape = {1};
  shape.insert(shape.end(), in.begin(), in.end());
  weight_ = register_parameter("weight", torch::randn(shape) * 0.02);
}

torch::Tensor PositionalImpl::forward(torch::Tensor x) { return x + weight_; }

std::string PositionalImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string p = e.param("pos", weight_);
  const std::string y = e.var();
  e.line(fmt::format("{} = {} + {}", y, x, p));
  return y;
}

PermuteImpl::PermuteImpl(const std::string& code) {
  order_ = {0};
  for (char c : code) order_.push_back(c - '0');
  if (code.empty()) throw std::invalid_argument("permute: empty code");
}

torch::Tensor PermuteImpl::forward(torch::Tensor x) { return x.permute(order_); }

std::string PermuteImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  e.line(fmt::format("{} = {}.permute({})", y, x, int_list(order_)));
  return y;
}

torch::Tensor Im2colImpl::forward(torch::Tensor x) {
  return torch::im2col(x, {op_.kernel, op_.kernel}, {1, 1}, {op_.padding, op_.padding},
                       {op_.stride, op_.stride})
      .permute({0, 2, 1});
}

std::string Im2colImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  e.line(fmt::format(
      "{} = torch.im2col({}, [{k}, {k}], [1, 1], [{p}, {p}], [{s}, {s}]).permute([0, 2, 1])", y, x,
      fmt::arg("k", op_.kernel), fmt::arg("p", op_.padding), fmt::arg("s", op_.stride)));
  return y;
}

torch::Tensor Col2imImpl::forward(torch::Tensor x) {
  return x.permute({0, 2, 1}).reshape({x.size(0), -1, fold_.h, fold_.w});
}

std::string Col2imImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  e.line(fmt::format("{} = {}.permute([0, 2, 1]).reshape([{}.size(0), -1, {}, {}])", y, x, x,
                     fold_.h, fold_.w));
  return y;
}

ConvImpl::ConvImpl(int64_t cin, int64_t cout, const Im2col& op) : op_(op) {
  // Drawn as LinearImpl draws [cout, cin k k] (same fan-in, same count), so a
  // fused network starts from the weights of the unfused one.
  weight_ = register_parameter("weight", torch::empty({cout, cin, op.kernel, op.kernel}));
  bias_ = register_parameter("bias", torch::zeros({cout}));
  torch::nn::init::kaiming_uniform_(weight_, std::sqrt(5.0));
}

torch::Tensor ConvImpl::forward(torch::Tensor x) {
  torch::Tensor y =
      torch::conv2d(x, weight_, bias_, {op_.stride, op_.stride}, {op_.padding, op_.padding});
  count_macs(y.numel() / y.size(0) * (weight_.numel() / weight_.size(0)));
  return y;
}

std::string ConvImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string w = e.param("conv_w", weight_);
  const std::string b = e.param("conv_b", bias_);
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.conv2d({}, {}, {}, [{s}, {s}], [{p}, {p}], [1, 1], 1)", y, x, w, b,
                     fmt::arg("s", op_.stride), fmt::arg("p", op_.padding)));
  return y;
}

BranchImpl::BranchImpl(const Branching& branching, std::vector<BlockPtr> inner,
                       const Aggregation& aggregation)
    : branching_(branching), inner_(std::move(inner)), aggregation_(aggregation) {
  if (static_cast<int64_t>(inner_.size()) != branching_.branches) {
    throw std::invalid_argument(
        fmt::format("branch: {} branches but {} inner blocks", branching_.branches, inner_.size()));
  }
  const bool dot = aggregation_.kind == Aggregation::kDotProduct ||
                   aggregation_.kind == Aggregation::kScaledDotProduct;
  if (dot && branching_.branches != 2) {
    throw std::invalid_argument("branch: a dot product aggregates exactly 2 branches");
  }
  for (size_t i = 0; i < inner_.size(); ++i) register_module("b" + std::to_string(i), inner_[i]);
}

torch::Tensor BranchImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> in;
  if (branching_.clone) {
    in.assign(static_cast<size_t>(branching_.branches), x);
  } else {
    in = torch::split(x, x.size(branching_.dim) / branching_.branches, branching_.dim);
  }
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < inner_.size(); ++i) out.push_back(inner_[i]->forward(in[i]));
  if (aggregation_.kind == Aggregation::kDotProduct ||
      aggregation_.kind == Aggregation::kScaledDotProduct) {
    // [B, .., m, k] @ [B, .., k, n]: k MACs for each of the product's elements.
    const int64_t k = out[0].size(-1);
    const int64_t elements = out[0].numel() / k * out[1].size(-1);
    count_macs(elements / out[0].size(0) * k);
  }
  switch (aggregation_.kind) {
    case Aggregation::kAdd: {
      torch::Tensor sum = out[0];
      for (size_t i = 1; i < out.size(); ++i) sum = sum + out[i];
      return sum;
    }
    case Aggregation::kConcat:
      return torch::cat(out, aggregation_.dim);
    case Aggregation::kDotProduct:
      return torch::matmul(out[0], out[1]);
    case Aggregation::kScaledDotProduct:
      // pow(n, 0.5), as TorchScript's float ** float, so export matches exactly.
      return torch::matmul(out[0], out[1]) / std::pow(static_cast<double>(out[0].size(-1)), 0.5);
  }
  throw std::logic_error("branch: unknown aggregation");
}

std::string BranchImpl::emit(ScriptEmitter& e, const std::string& x) {
  std::vector<std::string> in;
  if (branching_.clone) {
    in.assign(static_cast<size_t>(branching_.branches), x);
  } else {
    const std::string parts = e.var();
    e.line(fmt::format("{} = torch.split({}, {}.size({}) // {}, {})", parts, x, x, branching_.dim,
                       branching_.branches, branching_.dim));
    for (int64_t i = 0; i < branching_.branches; ++i) {
      in.push_back(e.var());
      e.line(fmt::format("{} = {}[{}]", in.back(), parts, i));
    }
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < inner_.size(); ++i) out.push_back(inner_[i]->emit(e, in[i]));
  const std::string y = e.var();
  switch (aggregation_.kind) {
    case Aggregation::kAdd: {
      std::string sum = out[0];
      for (size_t i = 1; i < out.size(); ++i) sum += " + " + out[i];
      e.line(fmt::format("{} = {}", y, sum));
      break;
    }
    case Aggregation::kConcat: {
      std::string list;
      for (size_t i = 0; i < out.size(); ++i) list += (i ? ", " : "") + out[i];
      e.line(fmt::format("{} = torch.cat([{}], {})", y, list, aggregation_.dim));
      break;
    }
    case Aggregation::kDotProduct:
      e.line(fmt::format("{} = torch.matmul({}, {})", y, out[0], out[1]));
      break;
    case Aggregation::kScaledDotProduct:
      e.line(fmt::format("{} = torch.matmul({}, {}) / (float({}.size(-1)) ** 0.5)", y, out[0],
                         out[1], out[0]));
      break;
  }
  return y;
}

}  // namespace sylva::einspace
