// The primitive operations a grammar may name (`"conv3x3"`), declared once in
// a torch-free table (op_registry.cc) so that grammars parse and validate
// without LibTorch; spaces/nets/ops.cc builds each kind as a LibTorch block.
// A new primitive of an existing kind is one line of the table; a new kind
// adds its case to make_op in spaces/nets/ops.cc.
#pragma once

#include <string>
#include <vector>

namespace sylva {

// What a primitive is made of; the numbers in OpDef parameterise it.
enum class OpKind {
  kZero,      // zeros of the output shape
  kIdentity,  // the input; a 1x1 conv + BN where the shape changes
  kConv,      // conv + BN with ReLU (before or after)
  kDwsep,     // depthwise 3x3 + pointwise 1x1, each conv + BN + ReLU
  kMbconv,    // inverted residual: 1x1 expand, k x k depthwise, 1x1 project
  kPool,      // 3x3 pooling (average or max), a 1x1 conv + BN where the width changes
};

enum class OpRelu { kNone, kBefore, kAfter };

struct OpDef {
  const char* name;
  OpKind kind;
  int kernel = 0;               // kConv, kMbconv
  int expand = 0;               // kMbconv: hidden = expand x cin
  OpRelu relu = OpRelu::kNone;  // kConv
  bool average = false;         // kPool
};

// The definition registered as `name`, or nullptr.
const OpDef* find_op(const std::string& name);

// All registered op names, sorted.
std::vector<std::string> op_names();

bool is_op(const std::string& name);

}  // namespace sylva
