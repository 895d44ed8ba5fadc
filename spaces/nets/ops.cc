// make_op and make_vector_op: the LibTorch block of each primitive of the op
// table (spaces/op_registry.cc), by its kind.
#include <fmt/format.h>

#include <stdexcept>

#include "spaces/builders.h"
#include "spaces/nets/blocks.h"
#include "spaces/nets/vector_blocks.h"
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
    default:
      break;
  }
  throw std::logic_error(std::string("op '") + op.name + "' has no block on feature maps");
}

// The block of vector op `op` on `width` features; nullptr for the identity.
BlockPtr build_vector(const OpDef& op, int64_t width) {
  switch (op.kind) {
    case OpKind::kIdentity:
      return nullptr;
    case OpKind::kLinear:
      return std::make_shared<LinearImpl>(width, op.width);
    case OpKind::kBatchNorm:
      return std::make_shared<VectorBatchNormImpl>(width);
    case OpKind::kLayerNorm:
      return std::make_shared<LayerNormImpl>(width);
    case OpKind::kActivation:
      return std::make_shared<ActivationImpl>(op.activation);
    case OpKind::kDropout:
      return std::make_shared<DropoutImpl>(op.rate);
    default:
      break;
  }
  throw std::logic_error(std::string("op '") + op.name + "' has no block on feature vectors");
}

// "op 'relu' maps feature vectors [D] (an op of %builder mlp), not feature maps [C, H, W]".
Status wrong_domain(const OpDef& op, OpDomain want) {
  const OpDomain has = want == OpDomain::kImage ? OpDomain::kVector : OpDomain::kImage;
  return Status::invalid_argument(fmt::format("op '{}' maps {} (an op of %builder {}), not {}",
                                              op.name, domain_name(has),
                                              join_words(builder_names(has)), domain_name(want)));
}

}  // namespace

StatusOr<std::shared_ptr<BlockImpl>> make_op(const std::string& name, int64_t cin, int64_t cout,
                                             int64_t stride) {
  const OpDef* op = find_op(name);
  if (!op) {
    return Status::invalid_argument(
        fmt::format("unknown op '{}' (known: {})", name, join(op_names(OpDomain::kImage), ", ")));
  }
  if (cin <= 0 || cout <= 0 || stride <= 0) {
    return Status::invalid_argument(
        fmt::format("op '{}': channels and stride must be positive, got cin={} "
                    "cout={} stride={}",
                    name, cin, cout, stride));
  }
  if (!op_in_domain(*op, OpDomain::kImage)) return wrong_domain(*op, OpDomain::kImage);
  return build(*op, cin, cout, stride);
}

StatusOr<VectorOp> make_vector_op(const std::string& name, int64_t features) {
  const OpDef* op = find_op(name);
  if (!op) {
    return Status::invalid_argument(
        fmt::format("unknown op '{}' (known: {})", name, join(op_names(OpDomain::kVector), ", ")));
  }
  if (!op_in_domain(*op, OpDomain::kVector)) return wrong_domain(*op, OpDomain::kVector);
  if (features <= 0) {
    return Status::invalid_argument(
        fmt::format("op '{}': features must be positive, got {}", name, features));
  }
  return VectorOp{build_vector(*op, features), op->kind == OpKind::kLinear ? op->width : features};
}

}  // namespace sylva
