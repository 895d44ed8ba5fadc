// make_op: the LibTorch block of each primitive of the op table
// (spaces/op_registry.cc), by its kind.
#include <fmt/format.h>

#include <stdexcept>

#include "spaces/nets/blocks.h"
#include "spaces/op_registry.h"

namespace sylva {

namespace {

using BlockPtr = std::shared_ptr<BlockImpl>;

Relu relu_of(OpRelu r) {
  switch (r) {
    case OpRelu::kBefore:
      return Relu::kBefore;
    case OpRelu::kAfter:
      return Relu::kAfter;
    default:
      return Relu::kNone;
  }
}

// The block of `op` mapping [cin, H, W] to [cout, H/stride, W/stride].
BlockPtr build(const OpDef& op, int64_t cin, int64_t cout, int64_t stride) {
  switch (op.kind) {
    case OpKind::kZero:
      return std::make_shared<ZeroImpl>(cout, stride);
    case OpKind::kIdentity:
      // NAS-Bench-Macro's Identity: a 1x1 conv + BN only where the shape changes.
      if (cin == cout && stride == 1) return std::make_shared<IdentityImpl>();
      return std::make_shared<ConvBnImpl>(cin, cout, 1, stride, Relu::kNone);
    case OpKind::kConv:
      return std::make_shared<ConvBnImpl>(cin, cout, op.kernel, stride, relu_of(op.relu));
    case OpKind::kDwsep:
      return std::make_shared<SequenceImpl>(std::vector<BlockPtr>{
          std::make_shared<ConvBnImpl>(cin, cin, op.kernel, stride, Relu::kAfter, /*groups=*/cin),
          std::make_shared<ConvBnImpl>(cin, cout, 1, 1, Relu::kAfter)});
    case OpKind::kMbconv: {
      // MobileNetV2 inverted residual.
      const int64_t hidden = cin * op.expand;
      return std::make_shared<SequenceImpl>(
          std::vector<BlockPtr>{
              std::make_shared<ConvBnImpl>(cin, hidden, 1, 1, Relu::kAfter),
              std::make_shared<ConvBnImpl>(hidden, hidden, op.kernel, stride, Relu::kAfter, hidden),
              std::make_shared<ConvBnImpl>(hidden, cout, 1, 1, Relu::kNone)},
          /*residual=*/cin == cout && stride == 1);
    }
    case OpKind::kPool: {
      auto p = std::make_shared<PoolImpl>(op.average, stride);
      if (cin == cout) return p;
      return std::make_shared<SequenceImpl>(
          std::vector<BlockPtr>{p, std::make_shared<ConvBnImpl>(cin, cout, 1, 1, Relu::kNone)});
    }
  }
  throw std::logic_error(std::string("op kind of '") + op.name + "' has no block");
}

}  // namespace

StatusOr<std::shared_ptr<BlockImpl>> make_op(const std::string& name, int64_t cin, int64_t cout,
                                             int64_t stride) {
  const OpDef* op = find_op(name);
  if (!op) {
    return Status::invalid_argument(
        fmt::format("unknown op '{}' (known: {})", name, join(op_names(), ", ")));
  }
  if (cin <= 0 || cout <= 0 || stride <= 0) {
    return Status::invalid_argument(
        fmt::format("op '{}': channels and stride must be positive, got cin={} "
                    "cout={} stride={}",
                    name, cin, cout, stride));
  }
  return build(*op, cin, cout, stride);
}

}  // namespace sylva
