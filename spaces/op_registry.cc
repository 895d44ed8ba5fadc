#include "spaces/op_registry.h"

#include <algorithm>
#include <iterator>

namespace sylva {
namespace {

// Every primitive, by name. Aliases (none/zero, identity/skip/skip_connect)
// follow the names the benchmarks use.
const OpDef kOps[] = {
    {"avg_pool_3x3", OpKind::kPool, 3, 0, OpRelu::kNone, /*average=*/true},
    {"conv1x1", OpKind::kConv, 1, 0, OpRelu::kAfter},
    {"conv3x3", OpKind::kConv, 3, 0, OpRelu::kAfter},
    {"conv5x5", OpKind::kConv, 5, 0, OpRelu::kAfter},
    {"dwsep_conv_3x3", OpKind::kDwsep, 3},
    {"identity", OpKind::kIdentity},
    {"max_pool_3x3", OpKind::kPool, 3, 0, OpRelu::kNone, /*average=*/false},
    {"mbconv_e3_k3", OpKind::kMbconv, 3, 3},
    {"mbconv_e6_k5", OpKind::kMbconv, 5, 6},
    {"none", OpKind::kZero},
    {"nor_conv_1x1", OpKind::kConv, 1, 0, OpRelu::kBefore},
    {"nor_conv_3x3", OpKind::kConv, 3, 0, OpRelu::kBefore},
    {"skip", OpKind::kIdentity},
    {"skip_connect", OpKind::kIdentity},
    {"zero", OpKind::kZero},
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

bool is_op(const std::string& name) { return find_op(name) != nullptr; }

}  // namespace sylva
