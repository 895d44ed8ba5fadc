// The blocks of the mlp builder, on feature vectors [B, D] (internal to
// spaces/; other folders use network.h). Implemented in vector_blocks.cc.
//
// Dropout draws its masks from a generator of its own, not LibTorch's
// process-wide one, so that a trial's training depends on its seed alone
// while other trials train on other threads: init_weights reseeds every
// DropoutImpl from the trial's generator.
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <string>

#include "spaces/nets/network.h"
#include "spaces/op_registry.h"

namespace sylva {

// [B, C, H, W] (or any [B, ...]) to [B, C*H*W].
class FlattenImpl : public BlockImpl {
 public:
  torch::Tensor forward(torch::Tensor x) override { return x.flatten(1); }
  std::string emit(ScriptEmitter& e, const std::string& x) override;
};

// Fully connected [B, cin] -> [B, cout] with bias; counts its MACs.
class LinearImpl : public BlockImpl {
 public:
  LinearImpl(int64_t cin, int64_t cout);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  torch::nn::Linear fc_{nullptr};
};

// Batch norm over the features of [B, D] (BatchNorm1d: batch statistics in
// training, which needs B > 1; running statistics in eval).
class VectorBatchNormImpl : public BlockImpl {
 public:
  explicit VectorBatchNormImpl(int64_t features);
  torch::Tensor forward(torch::Tensor x) override { return bn_->forward(x); }
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  torch::nn::BatchNorm1d bn_{nullptr};
};

// Layer norm over the features of [B, D], with affine weight and bias.
class LayerNormImpl : public BlockImpl {
 public:
  explicit LayerNormImpl(int64_t features);
  torch::Tensor forward(torch::Tensor x) override { return ln_->forward(x); }
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  torch::nn::LayerNorm ln_{nullptr};
};

// An elementwise function: relu, gelu (exact, erf), tanh or silu.
class ActivationImpl : public BlockImpl {
 public:
  explicit ActivationImpl(OpActivation f) : f_(f) {}
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  OpActivation f_;
};

// In training, zeroes each element with probability `rate` and scales the
// rest by 1 / (1 - rate); in eval mode, the identity. The mask is drawn on
// the CPU from generator_ and moved to the input's device, so that a seed
// gives the same masks on every device. Exported as torch.dropout(x, rate,
// self.training): the identity in the eval mode the module is saved in.
class DropoutImpl : public BlockImpl {
 public:
  // rate in [0, 1). The generator starts from a seed drawn from LibTorch's
  // process-wide generator (as the constructors of weights do) until reseed().
  explicit DropoutImpl(double rate);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;
  // Restarts the masks from `seed`.
  void reseed(uint64_t seed);
  double rate() const { return rate_; }

 private:
  double rate_;
  at::Generator generator_;  // CPU
};

// A 64-bit seed drawn from CPU generator `g` (locking it, as ATen's kernels do).
uint64_t draw_seed(at::Generator g);

}  // namespace sylva
