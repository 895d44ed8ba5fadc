// The primitive operations a grammar may name (`"conv3x3"`), declared once in
// a torch-free table (op_registry.cc) so that grammars parse and validate
// without LibTorch; spaces/nets/ops.cc builds each kind as a LibTorch block.
// An op belongs to a domain, the kind of tensor it maps, and only builders of
// that domain build it (spaces/builders.h): image ops (convolutions, pools)
// on feature maps for chain and cell, vector ops (linear, norms, activations,
// dropout) on feature vectors for mlp; "identity" is in both (its aliases
// skip and skip_connect in the image domain only). A new primitive of an
// existing kind is one line of the table; a new kind adds its case to make_op
// or make_vector_op in spaces/nets/ops.cc.
#pragma once

#include <string>
#include <vector>

namespace sylva {

// What a primitive is made of; the numbers in OpDef parameterise it.
enum class OpKind {
  // Image ops, on feature maps [C, H, W].
  kZero,      // zeros of the output shape
  kIdentity,  // the input; a 1x1 conv + BN where the shape changes
  kConv,      // conv + BN with ReLU (before or after)
  kDwsep,     // depthwise 3x3 + pointwise 1x1, each conv + BN + ReLU
  kMbconv,    // inverted residual: 1x1 expand, k x k depthwise, 1x1 project
  kPool,      // 3x3 pooling (average or max), a 1x1 conv + BN where the width changes
  // Vector ops, on feature vectors [D].
  kLinear,      // fully connected D -> width, with bias
  kBatchNorm,   // batch norm over the D features (BatchNorm1d)
  kLayerNorm,   // layer norm over the D features, with affine weights
  kActivation,  // an elementwise function (OpActivation)
  kDropout,     // in training, zeroes each element with probability `rate`
};

enum class OpRelu { kNone, kBefore, kAfter };

enum class OpActivation { kRelu, kGelu, kTanh, kSilu };

// The kind of tensor an op maps, without the batch axis.
enum class OpDomain {
  kImage,   // feature maps [C, H, W]
  kVector,  // feature vectors [D]
};

struct OpDef {
  const char* name;
  OpKind kind;
  int kernel = 0;                                 // kConv, kMbconv
  int expand = 0;                                 // kMbconv: hidden = expand x cin
  OpRelu relu = OpRelu::kNone;                    // kConv
  bool average = false;                           // kPool
  int width = 0;                                  // kLinear: output features
  OpActivation activation = OpActivation::kRelu;  // kActivation
  double rate = 0;                                // kDropout: in (0, 1)
  bool vector_too = false;  // an image op that is a vector op as well ("identity")
};

// The definition registered as `name`, or nullptr.
const OpDef* find_op(const std::string& name);

// All registered op names, sorted.
std::vector<std::string> op_names();
// The names of the ops of `domain`, sorted.
std::vector<std::string> op_names(OpDomain domain);

bool is_op(const std::string& name);

// Whether `op` maps tensors of `domain`.
bool op_in_domain(const OpDef& op, OpDomain domain);

// "feature maps [C, H, W]" or "feature vectors [D]", for messages.
const char* domain_name(OpDomain domain);

}  // namespace sylva
