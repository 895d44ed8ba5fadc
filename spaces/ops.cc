// The op registry: every primitive a grammar may name, built by make_op.
// Also implements the torch-free spaces/op_registry.h.
#include <fmt/format.h>

#include <functional>
#include <map>

#include "spaces/blocks.h"
#include "spaces/op_registry.h"

namespace sylva {

namespace {

using BlockPtr = std::shared_ptr<BlockImpl>;
using OpFactory = std::function<BlockPtr(int64_t cin, int64_t cout, int64_t stride)>;

BlockPtr zero(int64_t cin, int64_t cout, int64_t stride) {
  return std::make_shared<ZeroImpl>(cout, stride);
}

// NAS-Bench-Macro's Identity: a 1x1 conv + BN only where the shape changes.
BlockPtr identity(int64_t cin, int64_t cout, int64_t stride) {
  if (cin == cout && stride == 1) return std::make_shared<IdentityImpl>();
  return std::make_shared<ConvBnImpl>(cin, cout, 1, stride, Relu::kNone);
}

OpFactory conv(int64_t kernel, Relu relu) {
  return [=](int64_t cin, int64_t cout, int64_t stride) -> BlockPtr {
    return std::make_shared<ConvBnImpl>(cin, cout, kernel, stride, relu);
  };
}

BlockPtr dwsep_conv_3x3(int64_t cin, int64_t cout, int64_t stride) {
  return std::make_shared<SequenceImpl>(std::vector<BlockPtr>{
      std::make_shared<ConvBnImpl>(cin, cin, 3, stride, Relu::kAfter, /*groups=*/cin),
      std::make_shared<ConvBnImpl>(cin, cout, 1, 1, Relu::kAfter)});
}

// MobileNetV2 inverted residual with expansion `e` and depthwise kernel `k`.
OpFactory mbconv(int64_t e, int64_t k) {
  return [=](int64_t cin, int64_t cout, int64_t stride) -> BlockPtr {
    const int64_t hidden = cin * e;
    return std::make_shared<SequenceImpl>(
        std::vector<BlockPtr>{
            std::make_shared<ConvBnImpl>(cin, hidden, 1, 1, Relu::kAfter),
            std::make_shared<ConvBnImpl>(hidden, hidden, k, stride, Relu::kAfter, hidden),
            std::make_shared<ConvBnImpl>(hidden, cout, 1, 1, Relu::kNone)},
        /*residual=*/cin == cout && stride == 1);
  };
}

OpFactory pool(bool average) {
  return [=](int64_t cin, int64_t cout, int64_t stride) -> BlockPtr {
    auto p = std::make_shared<PoolImpl>(average, stride);
    if (cin == cout) return p;
    return std::make_shared<SequenceImpl>(
        std::vector<BlockPtr>{p, std::make_shared<ConvBnImpl>(cin, cout, 1, 1, Relu::kNone)});
  };
}

const std::map<std::string, OpFactory>& registry() {
  static const auto* ops = new std::map<std::string, OpFactory>{
      {"none", zero},
      {"zero", zero},
      {"identity", identity},
      {"skip", identity},
      {"skip_connect", identity},
      {"conv1x1", conv(1, Relu::kAfter)},
      {"conv3x3", conv(3, Relu::kAfter)},
      {"conv5x5", conv(5, Relu::kAfter)},
      {"nor_conv_1x1", conv(1, Relu::kBefore)},
      {"nor_conv_3x3", conv(3, Relu::kBefore)},
      {"dwsep_conv_3x3", dwsep_conv_3x3},
      {"mbconv_e3_k3", mbconv(3, 3)},
      {"mbconv_e6_k5", mbconv(6, 5)},
      {"avg_pool_3x3", pool(true)},
      {"max_pool_3x3", pool(false)},
  };
  return *ops;
}

}  // namespace

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;  // std::map keeps them sorted
}

bool is_op(const std::string& name) { return registry().count(name) > 0; }

StatusOr<std::shared_ptr<BlockImpl>> make_op(const std::string& name, int64_t cin, int64_t cout,
                                             int64_t stride) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : op_names()) known += (known.empty() ? "" : ", ") + n;
    return Status::error(fmt::format("unknown op '{}' (known: {})", name, known));
  }
  if (cin <= 0 || cout <= 0 || stride <= 0) {
    return Status::error(
        fmt::format("op '{}': channels and stride must be positive, got cin={} "
                    "cout={} stride={}",
                    name, cin, cout, stride));
  }
  return it->second(cin, cout, stride);
}

}  // namespace sylva
