#include "spaces/nets/blocks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

namespace sylva {

namespace {
thread_local MacCounter* active_counter = nullptr;

// Output size of a kernel-k, padding-k/2 window at stride s: ceil(n / s).
std::string strided(const std::string& size, int64_t stride) {
  if (stride == 1) return size;
  return fmt::format("({} + {}) // {}", size, stride - 1, stride);
}
}  // namespace

// Shortest text that reads back as the same double.
std::string script_float(double v) { return fmt::format("{}", v); }

namespace {

// Batch norm of `x` into `y`, batch statistics and running-stat updates in
// training mode (self.training: a script that trains the exported module
// calls .train()), running statistics in eval mode, the mode it is saved in.
// Tensors are registered one statement at a time so their names follow the
// order weight, bias, mean, var whatever the compiler's argument order.
template <typename BatchNorm>
void emit_any_batch_norm(ScriptEmitter& e, BatchNorm& bn, const std::string& x,
                         const std::string& y) {
  const std::string w = e.param("bn_w", bn.weight);
  const std::string b = e.param("bn_b", bn.bias);
  const std::string mean = e.buffer("bn_mean", bn.running_mean);
  const std::string var = e.buffer("bn_var", bn.running_var);
  e.line(fmt::format("{} = torch.batch_norm({}, {}, {}, {}, {}, self.training, {}, {}, False)", y,
                     x, w, b, mean, var, script_float(bn.options.momentum().value_or(0.1)),
                     script_float(bn.options.eps())));
}

}  // namespace

void emit_batch_norm(ScriptEmitter& e, torch::nn::BatchNorm2dImpl& bn, const std::string& x,
                     const std::string& y) {
  emit_any_batch_norm(e, bn, x, y);
}

void emit_batch_norm(ScriptEmitter& e, torch::nn::BatchNorm1dImpl& bn, const std::string& x,
                     const std::string& y) {
  emit_any_batch_norm(e, bn, x, y);
}

MacCounter::MacCounter() : previous_(active_counter) { active_counter = this; }
MacCounter::~MacCounter() { active_counter = previous_; }

void count_macs(int64_t macs) {
  if (active_counter != nullptr) active_counter->macs_ += macs;
}

ConvBnImpl::ConvBnImpl(int64_t cin, int64_t cout, int64_t kernel, int64_t stride, Relu relu,
                       int64_t groups, bool batch_norm)
    : kernel_(kernel), stride_(stride), groups_(groups), relu_(relu) {
  conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(cin, cout, kernel)
                                                        .stride(stride)
                                                        .padding(kernel / 2)
                                                        .groups(groups)
                                                        .bias(false)));
  if (batch_norm) {
    bn_ = register_module(
        "bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(cout).eps(1e-5).momentum(0.1)));
  }
}

torch::Tensor ConvBnImpl::forward(torch::Tensor x) {
  if (relu_ == Relu::kBefore) x = torch::relu(x);
  x = conv_->forward(x);
  count_macs(x.numel() / x.size(0) * (conv_->weight.numel() / conv_->weight.size(0)));
  if (bn_) x = bn_->forward(x);
  if (relu_ == Relu::kAfter) x = torch::relu(x);
  return x;
}

std::string ConvBnImpl::emit(ScriptEmitter& e, const std::string& x) {
  std::string in = x;
  if (relu_ == Relu::kBefore) {
    in = e.var();
    e.line(fmt::format("{} = torch.relu({})", in, x));
  }
  const std::string w = e.param("conv_w", conv_->weight);
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.conv2d({}, {}, None, [{s}, {s}], [{p}, {p}], [1, 1], {})", y, in,
                     w, groups_, fmt::arg("s", stride_), fmt::arg("p", kernel_ / 2)));
  if (bn_) emit_batch_norm(e, *bn_, y, y);
  if (relu_ == Relu::kAfter) e.line(fmt::format("{} = torch.relu({})", y, y));
  return y;
}

SequenceImpl::SequenceImpl(std::vector<std::shared_ptr<BlockImpl>> blocks, bool residual)
    : blocks_(std::move(blocks)), residual_(residual) {
  for (size_t i = 0; i < blocks_.size(); ++i) register_module(std::to_string(i), blocks_[i]);
}

torch::Tensor SequenceImpl::forward(torch::Tensor x) {
  torch::Tensor y = x;
  for (auto& b : blocks_) y = b->forward(y);
  return residual_ ? y + x : y;
}

std::string SequenceImpl::emit(ScriptEmitter& e, const std::string& x) {
  std::string y = x;
  for (auto& b : blocks_) y = b->emit(e, y);
  if (!residual_) return y;
  const std::string out = e.var();
  e.line(fmt::format("{} = {} + {}", out, y, x));
  return out;
}

torch::Tensor ZeroImpl::forward(torch::Tensor x) {
  const int64_t s = stride_;
  return x.new_zeros({x.size(0), cout_, (x.size(2) + s - 1) / s, (x.size(3) + s - 1) / s});
}

std::string ZeroImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  e.line(fmt::format("{} = {}.new_zeros([{}.size(0), {}, {}, {}])", y, x, x, cout_,
                     strided(x + ".size(2)", stride_), strided(x + ".size(3)", stride_)));
  return y;
}

torch::Tensor PoolImpl::forward(torch::Tensor x) {
  if (average_) {
    return torch::avg_pool2d(x, {3, 3}, {stride_, stride_}, {1, 1}, /*ceil_mode=*/false,
                             /*count_include_pad=*/false);
  }
  return torch::max_pool2d(x, {3, 3}, {stride_, stride_}, {1, 1});
}

std::string PoolImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  if (average_) {
    e.line(fmt::format("{} = torch.avg_pool2d({}, [3, 3], [{s}, {s}], [1, 1], False, False)", y, x,
                       fmt::arg("s", stride_)));
  } else {
    e.line(fmt::format("{} = torch.max_pool2d({}, [3, 3], [{s}, {s}], [1, 1], [1, 1], False)", y, x,
                       fmt::arg("s", stride_)));
  }
  return y;
}

BnReluImpl::BnReluImpl(int64_t channels) {
  bn_ = register_module("bn", torch::nn::BatchNorm2d(
                                  torch::nn::BatchNorm2dOptions(channels).eps(1e-5).momentum(0.1)));
}

torch::Tensor BnReluImpl::forward(torch::Tensor x) { return torch::relu(bn_->forward(x)); }

std::string BnReluImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string y = e.var();
  emit_batch_norm(e, *bn_, x, y);
  e.line(fmt::format("{} = torch.relu({})", y, y));
  return y;
}

ClassifierImpl::ClassifierImpl(int64_t cin, int64_t classes, std::vector<int64_t> pool_dims)
    : pool_dims_(std::move(pool_dims)) {
  fc_ = register_module("fc", torch::nn::Linear(cin, classes));
}

torch::Tensor ClassifierImpl::forward(torch::Tensor x) {
  count_macs(fc_->weight.numel());
  return fc_->forward(x.mean(pool_dims_));
}

std::string ClassifierImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string pooled = e.var();
  e.line(fmt::format("{} = torch.mean({}, [{}])", pooled, x, fmt::join(pool_dims_, ", ")));
  // addmm is what linear runs for a 2-D input, so the result is bit-identical.
  const std::string w = e.param("fc_w", fc_->weight);
  const std::string b = e.param("fc_b", fc_->bias);
  const std::string y = e.var();
  e.line(fmt::format("{} = torch.addmm({}, {}, {}.t())", y, b, pooled, w));
  return y;
}

ReductionImpl::ReductionImpl(int64_t cin, int64_t cout) {
  conv_a_ = register_module("conv_a", std::make_shared<ConvBnImpl>(cin, cout, 3, 2, Relu::kBefore));
  conv_b_ =
      register_module("conv_b", std::make_shared<ConvBnImpl>(cout, cout, 3, 1, Relu::kBefore));
  shortcut_ = register_module("shortcut",
                              std::make_shared<ConvBnImpl>(cin, cout, 1, 1, Relu::kNone, 1, false));
}

torch::Tensor ReductionImpl::forward(torch::Tensor x) {
  torch::Tensor residual = shortcut_->forward(
      torch::avg_pool2d(x, {2, 2}, {2, 2}, {0, 0}, /*ceil_mode=*/true, /*count_include_pad=*/true));
  return residual + conv_b_->forward(conv_a_->forward(x));
}

std::string ReductionImpl::emit(ScriptEmitter& e, const std::string& x) {
  const std::string pooled = e.var();
  e.line(fmt::format("{} = torch.avg_pool2d({}, [2, 2], [2, 2], [0, 0], True, True)", pooled, x));
  const std::string residual = shortcut_->emit(e, pooled);
  const std::string branch = conv_b_->emit(e, conv_a_->emit(e, x));
  const std::string y = e.var();
  e.line(fmt::format("{} = {} + {}", y, residual, branch));
  return y;
}

CellImpl::CellImpl(std::vector<std::shared_ptr<BlockImpl>> edges) : edges_(std::move(edges)) {
  TORCH_CHECK(edges_.size() == 6, "a cell has 6 edges, got ", edges_.size());
  for (size_t i = 0; i < edges_.size(); ++i) register_module("edge" + std::to_string(i), edges_[i]);
}

torch::Tensor CellImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> nodes = {x};
  size_t edge = 0;
  for (int j = 1; j < 4; ++j) {
    torch::Tensor sum = edges_[edge++]->forward(nodes[0]);
    for (int i = 1; i < j; ++i) sum = sum + edges_[edge++]->forward(nodes[i]);
    nodes.push_back(sum);
  }
  return nodes[3];
}

std::string CellImpl::emit(ScriptEmitter& e, const std::string& x) {
  std::vector<std::string> nodes = {x};
  size_t edge = 0;
  for (int j = 1; j < 4; ++j) {
    std::string sum = edges_[edge++]->emit(e, nodes[0]);
    for (int i = 1; i < j; ++i) {
      const std::string term = edges_[edge++]->emit(e, nodes[i]);
      const std::string next = e.var();
      e.line(fmt::format("{} = {} + {}", next, sum, term));
      sum = next;
    }
    nodes.push_back(sum);
  }
  return nodes[3];
}

}  // namespace sylva
