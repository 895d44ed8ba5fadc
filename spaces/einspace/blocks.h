// LibTorch blocks of einspace's fundamental operations, on "im" tensors
// [B, C, H, W] and "col" tensors [B, S, D]; their shapes follow
// einspace_shapes.h. Each runs (forward) and writes its eval-mode forward as
// TorchScript (emit), like every Block, so einspace networks export the same
// way as the others. Internal to spaces/; not thread-safe (one network per
// thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "spaces/einspace/shapes.h"
#include "spaces/nets/blocks.h"

namespace sylva::einspace {

using BlockPtr = std::shared_ptr<BlockImpl>;

// Linear map of the last axis: [..., in] -> [..., out], with bias.
class LinearImpl : public BlockImpl {
 public:
  LinearImpl(int64_t in, int64_t out);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  torch::Tensor weight_, bias_;
};

// BatchNorm2d over C for im input, LayerNorm over D for col input.
class NormImpl : public BlockImpl {
 public:
  explicit NormImpl(const Shape& in);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  torch::nn::BatchNorm2d bn_{nullptr};
  torch::nn::LayerNorm ln_{nullptr};
};

enum class Activation { kLeakyRelu, kSoftmax };
// LeakyReLU (slope 0.01) or softmax over the last axis.
class ActivationImpl : public BlockImpl {
 public:
  explicit ActivationImpl(Activation kind) : kind_(kind) {}
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  Activation kind_;
};

// Adds a learnable tensor of the input's shape (positional encoding). The
// parameter is named "weight" so that init_weights() seeds it like the rest.
class PositionalImpl : public BlockImpl {
 public:
  explicit PositionalImpl(const Shape& in);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  torch::Tensor weight_;
};

// Permutes the axes after the batch: `code` as in einspace_shapes.h.
class PermuteImpl : public BlockImpl {
 public:
  explicit PermuteImpl(const std::string& code);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  std::vector<int64_t> order_;  // including the batch axis 0
};

// [B, C, H, W] -> [B, h'w', C k k] (unfold, then the patches as rows).
class Im2colImpl : public BlockImpl {
 public:
  explicit Im2colImpl(const Im2col& op) : op_(op) {}
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  Im2col op_;
};

// [B, S, D] -> [B, S D / (h w), h, w]: the inverse routing of an im2col that
// unfolded to an h x w plane.
class Col2imImpl : public BlockImpl {
 public:
  explicit Col2imImpl(const Fold& fold) : fold_(fold) {}
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  Fold fold_;
};

// route(im2col k s p, linear N, col2im) as one Conv2d(C, N, k, s, p) with
// bias: the same function and parameter count, in one fast op. Unfold lays
// a column out as (C, ki, kj), conv's weight layout, so the linear's
// [N, C k k] weight is this weight [N, C, k, k] flattened.
class ConvImpl : public BlockImpl {
 public:
  ConvImpl(int64_t cin, int64_t cout, const Im2col& op);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  Im2col op_;
  torch::Tensor weight_, bias_;
};

struct Branching {
  bool clone = true;  // else group: equal splits along `dim`
  int64_t branches = 2;
  int dim = 1;  // batch = 0, as in einspace_shapes.h
};
struct Aggregation {
  enum Kind { kAdd, kConcat, kDotProduct, kScaledDotProduct } kind = kAdd;
  int dim = 1;  // concat
};

// B M A: branches the input, applies one block per branch, aggregates. Dot
// products take exactly two branches.
class BranchImpl : public BlockImpl {
 public:
  BranchImpl(const Branching& branching, std::vector<BlockPtr> inner,
             const Aggregation& aggregation);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  Branching branching_;
  std::vector<BlockPtr> inner_;
  Aggregation aggregation_;
};

}  // namespace sylva::einspace
