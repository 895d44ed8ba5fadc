#include "evaluators/proxy/op_tap.h"

#include <ATen/record_function.h>

#include <cstring>
#include <memory>
#include <unordered_map>
#include <utility>

namespace sylva::evaluators {
namespace {

// The tap of this thread, and how deep the callbacks are inside a recorded
// layer (its nested ops are not layers of their own).
thread_local OpTap* active_tap = nullptr;
thread_local int layer_depth = 0;

enum class Kind { kConv, kLinear, kAddmm, kRectifier };

struct Context : at::ObserverContext {
  Kind kind = Kind::kConv;
  at::Tensor weight;
};

bool kind_of(const char* name, Kind* kind) {
  if (std::strcmp(name, "aten::conv2d") == 0) {
    *kind = Kind::kConv;
  } else if (std::strcmp(name, "aten::linear") == 0) {
    *kind = Kind::kLinear;
  } else if (std::strcmp(name, "aten::addmm") == 0) {
    *kind = Kind::kAddmm;
  } else if (std::strcmp(name, "aten::relu") == 0 || std::strcmp(name, "aten::leaky_relu") == 0) {
    *kind = Kind::kRectifier;
  } else {
    return false;
  }
  return true;
}

// A tensor argument, or undefined.
at::Tensor tensor_at(c10::ArrayRef<const c10::IValue> inputs, size_t i) {
  if (i >= inputs.size() || !inputs[i].isTensor()) return {};
  return inputs[i].toTensor();
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (active_tap == nullptr) return nullptr;
  Kind kind;
  if (!kind_of(fn.name(), &kind)) return nullptr;
  auto context = std::make_unique<Context>();
  context->kind = kind;
  if (kind != Kind::kRectifier) {
    if (layer_depth > 0) return nullptr;
    // conv2d(input, weight, ...), linear(input, weight, bias),
    // addmm(bias, input, weight^T).
    context->weight = tensor_at(fn.inputs(), kind == Kind::kAddmm ? 2 : 1);
    if (!context->weight.defined()) return nullptr;
    ++layer_depth;
  }
  return context;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* observed) {
  if (observed == nullptr) return;
  auto* context = static_cast<Context*>(observed);
  if (context->kind != Kind::kRectifier) --layer_depth;
  if (active_tap == nullptr || fn.outputs().empty() || !fn.outputs()[0].isTensor()) return;
  at::Tensor output = fn.outputs()[0].toTensor();
  if (context->kind == Kind::kRectifier) {
    active_tap->add_rectified(std::move(output));
  } else {
    active_tap->add_layer({context->weight, std::move(output), context->kind == Kind::kConv});
  }
}

// Storage address and element count of a weight as passed, to find its parameter.
std::pair<const void*, int64_t> identity_of(const at::Tensor& t) {
  return {t.data_ptr(), t.numel()};
}

struct PairHash {
  size_t operator()(const std::pair<const void*, int64_t>& p) const {
    return std::hash<const void*>()(p.first) ^ (std::hash<int64_t>()(p.second) << 1);
  }
};

}  // namespace

OpTap::OpTap() : previous_(active_tap) {
  active_tap = this;
  handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end)
                                           .needsInputs(true)
                                           .needsOutputs(true)
                                           .scopes({at::RecordScope::FUNCTION}));
}

OpTap::~OpTap() { stop(); }

void OpTap::stop() {
  if (!recording_) return;
  recording_ = false;
  at::removeCallback(handle_);
  active_tap = previous_;
}

std::vector<at::Tensor> layer_parameters(const OpTap& tap, torch::nn::Module& module) {
  std::unordered_map<std::pair<const void*, int64_t>, at::Tensor, PairHash> by_identity;
  for (const at::Tensor& p : module.parameters()) by_identity.emplace(identity_of(p), p);
  std::vector<at::Tensor> out;
  for (const OpTap::Layer& layer : tap.layers()) {
    auto it = by_identity.find(identity_of(layer.weight));
    out.push_back(it == by_identity.end() ? at::Tensor() : it->second);
  }
  return out;
}

std::vector<at::Tensor> layer_weights(const OpTap& tap, torch::nn::Module& module) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : layer_parameters(tap, module)) {
    if (!p.defined()) continue;
    bool seen = false;
    for (const at::Tensor& q : out) seen |= q.is_same(p);
    if (!seen) out.push_back(p);
  }
  return out;
}

}  // namespace sylva::evaluators
