#include "spaces/op_registry.h"

#include <algorithm>
#include <iterator>

namespace sylva {
namespace {

constexpr OpDef of_both_domains(const char* name, OpKind kind) {
  OpDef op{name, kind};
  op.vector_too = true;
  return op;
}

constexpr OpDef linear(const char* name, int width) {
  OpDef op{name, OpKind::kLinear};
  op.width = width;
  return op;
}

constexpr OpDef activation(const char* name, OpActivation f) {
  OpDef op{name, OpKind::kActivation};
  op.activation = f;
  return op;
}

constexpr OpDef dropout(const char* name, double rate) {
  OpDef op{name, OpKind::kDropout};
  op.rate = rate;
  return op;
}

// Every primitive, by name. Aliases (none/zero, identity/skip/skip_connect)
// follow the names the benchmarks use. Constant-initialised, so that ops are
// found during static initialisation too.
constexpr OpDef kOps[] = {
    // Image ops.
    {"avg_pool_3x3", OpKind::kPool, 3, 0, OpRelu::kNone, /*average=*/true},
    {"conv1x1", OpKind::kConv, 1, 0, OpRelu::kAfter},
    {"conv3x3", OpKind::kConv, 3, 0, OpRelu::kAfter},
    {"conv5x5", OpKind::kConv, 5, 0, OpRelu::kAfter},
    {"dwsep_conv_3x3", OpKind::kDwsep, 3},
    of_both_domains("identity", OpKind::kIdentity),
    {"max_pool_3x3", OpKind::kPool, 3, 0, OpRelu::kNone, /*average=*/false},
    {"mbconv_e3_k3", OpKind::kMbconv, 3, 3},
    {"mbconv_e6_k5", OpKind::kMbconv, 5, 6},
    {"none", OpKind::kZero},
    {"nor_conv_1x1", OpKind::kConv, 1, 0, OpRelu::kBefore},
    {"nor_conv_3x3", OpKind::kConv, 3, 0, OpRelu::kBefore},
    {"skip", OpKind::kIdentity},
    {"skip_connect", OpKind::kIdentity},
    {"zero", OpKind::kZero},
    // Vector ops (the mlp builder); "identity" is theirs too.
    linear("linear64", 64),
    linear("linear128", 128),
    linear("linear256", 256),
    linear("linear512", 512),
    {"batchnorm", OpKind::kBatchNorm},
    {"layernorm", OpKind::kLayerNorm},
    activation("relu", OpActivation::kRelu),
    activation("gelu", OpActivation::kGelu),
    activation("tanh", OpActivation::kTanh),
    activation("silu", OpActivation::kSilu),
    dropout("dropout0.1", 0.1),
    dropout("dropout0.3", 0.3),
};

}  // namespace

const OpDef* find_op(const std::string& name) {
  for (const OpDef& op : kOps) {
    if (name == op.name) return &op;
  }
  return nullptr;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const OpDef& op : kOps) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> op_names(OpDomain domain) {
  std::vector<std::string> names;
  for (const OpDef& op : kOps) {
    if (op_in_domain(op, domain)) names.push_back(op.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool is_op(const std::string& name) { return find_op(name) != nullptr; }

bool op_in_domain(const OpDef& op, OpDomain domain) {
  switch (op.kind) {
    case OpKind::kZero:
    case OpKind::kIdentity:
    case OpKind::kConv:
    case OpKind::kDwsep:
    case OpKind::kMbconv:
    case OpKind::kPool:
      return domain == OpDomain::kImage || op.vector_too;
    case OpKind::kLinear:
    case OpKind::kBatchNorm:
    case OpKind::kLayerNorm:
    case OpKind::kActivation:
    case OpKind::kDropout:
      return domain == OpDomain::kVector;
  }
  return false;
}

const char* domain_name(OpDomain domain) {
  return domain == OpDomain::kImage ? "feature maps [C, H, W]" : "feature vectors [D]";
}

}  // namespace sylva
