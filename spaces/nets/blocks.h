// The building blocks that ops and networks are made of (internal to spaces/;
// other folders use network.h). Implemented in blocks.cc; the mlp builder's
// blocks are in vector_blocks.h.
//
// Every conv and linear layer goes through ConvBnImpl, ClassifierImpl or
// LinearImpl (vector_blocks.h) so that a MacCounter on the current thread
// sees each multiply-accumulate.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "spaces/nets/network.h"

namespace sylva {

// While alive, counts conv/linear MACs (per sample) of forwards run on this
// thread. Thread-local, so networks measured on other threads never mix in.
class MacCounter {
 public:
  MacCounter();
  ~MacCounter();
  MacCounter(const MacCounter&) = delete;
  MacCounter& operator=(const MacCounter&) = delete;
  int64_t macs() const { return macs_; }

 private:
  friend void count_macs(int64_t macs);
  int64_t macs_ = 0;
  MacCounter* previous_;
};

// Adds to the active counter of this thread, if any.
void count_macs(int64_t macs);

// Shortest text that TorchScript reads back as the same double.
std::string script_float(double v);

// Eval-mode batch norm of `x` into variable `y` (torch.batch_norm with
// training=False), registering its weight, bias, mean and var on `e`.
void emit_batch_norm(ScriptEmitter& e, torch::nn::BatchNorm2dImpl& bn, const std::string& x,
                     const std::string& y);
// The same for the features of [B, D].
void emit_batch_norm(ScriptEmitter& e, torch::nn::BatchNorm1dImpl& bn, const std::string& x,
                     const std::string& y);

enum class Relu { kNone, kBefore, kAfter };

// [ReLU] conv (no bias, padding k/2) [BN] [ReLU]: the unit most ops are made of.
class ConvBnImpl : public BlockImpl {
 public:
  ConvBnImpl(int64_t cin, int64_t cout, int64_t kernel, int64_t stride, Relu relu,
             int64_t groups = 1, bool batch_norm = true);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  int64_t kernel_, stride_, groups_;
  Relu relu_;
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};  // null when batch_norm is false
};

// Blocks applied in order; with `residual`, the input is added to the result.
class SequenceImpl : public BlockImpl {
 public:
  explicit SequenceImpl(std::vector<std::shared_ptr<BlockImpl>> blocks, bool residual = false);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  std::vector<std::shared_ptr<BlockImpl>> blocks_;
  bool residual_;
};

// Zeros of the output shape [B, cout, ceil(H/s), ceil(W/s)].
class ZeroImpl : public BlockImpl {
 public:
  ZeroImpl(int64_t cout, int64_t stride) : cout_(cout), stride_(stride) {}
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  int64_t cout_, stride_;
};

class IdentityImpl : public BlockImpl {
 public:
  torch::Tensor forward(torch::Tensor x) override { return x; }
  std::string emit(ScriptEmitter& e, const std::string& x) override { return x; }
};

// 3x3 pooling, padding 1; average pooling ignores the padding (as NAS-Bench-201).
class PoolImpl : public BlockImpl {
 public:
  PoolImpl(bool average, int64_t stride) : average_(average), stride_(stride) {}
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  bool average_;
  int64_t stride_;
};

// BN + ReLU (NAS-Bench-201's last activation).
class BnReluImpl : public BlockImpl {
 public:
  explicit BnReluImpl(int64_t channels);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  torch::nn::BatchNorm2d bn_{nullptr};
};

// Global average pooling + Linear. `pool_dims` are the axes averaged away
// ({2, 3}: H and W of an image; einspace's col head averages {2}, the last).
class ClassifierImpl : public BlockImpl {
 public:
  ClassifierImpl(int64_t cin, int64_t classes, std::vector<int64_t> pool_dims = {2, 3});
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  torch::nn::Linear fc_{nullptr};
  std::vector<int64_t> pool_dims_;
};

// NAS-Bench-201's ResNet basic block between stages: ReLU-conv3x3/2-BN,
// ReLU-conv3x3-BN, plus a shortcut of 2x2 average pooling and a 1x1 conv.
// The pooling uses ceil mode so odd sizes match the stride-2 conv (same as
// floor mode on even sizes).
class ReductionImpl : public BlockImpl {
 public:
  ReductionImpl(int64_t cin, int64_t cout);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  std::shared_ptr<ConvBnImpl> conv_a_, conv_b_, shortcut_;
};

// NAS-Bench-201 cell: 4 nodes, node j = sum of edge(node i) over i < j, edges
// in the order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2; the output is node 3.
class CellImpl : public BlockImpl {
 public:
  explicit CellImpl(std::vector<std::shared_ptr<BlockImpl>> edges);
  torch::Tensor forward(torch::Tensor x) override;
  std::string emit(ScriptEmitter& e, const std::string& x) override;

 private:
  std::vector<std::shared_ptr<BlockImpl>> edges_;
};

}  // namespace sylva
