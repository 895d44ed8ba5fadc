// OpTap: what the zero-cost proxies need to see of a forward pass without
// hooks in the network's code (LibTorch's C++ modules have no forward
// hooks). While an OpTap lives, a thread-local RecordFunction callback
// records, on the calling thread only, every layer the forward runs (a
// convolution, aten::conv2d; a linear map, aten::linear, or the
// aten::addmm that torch::nn::Linear runs on a batch of vectors) with its
// weight as passed and its output, and the output of every rectifier
// (aten::relu, aten::leaky_relu). An op nested inside a recorded layer (the
// addmm of an aten::linear) is not recorded again. The outputs stay in the
// autograd graph, so gradients can be taken with respect to them.
// Not copyable; one per thread at a time.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace sylva::evaluators {

class OpTap {
 public:
  struct Layer {
    at::Tensor weight;  // as passed to the op (for addmm the transposed view of the parameter)
    at::Tensor output;
    bool convolution = false;  // channels on dim 1; otherwise on the last dim
  };

  OpTap();
  ~OpTap();
  OpTap(const OpTap&) = delete;
  OpTap& operator=(const OpTap&) = delete;

  // Stops recording (before a backward pass, say); the destructor does it too.
  void stop();

  const std::vector<Layer>& layers() const { return layers_; }
  const std::vector<at::Tensor>& rectified() const { return rectified_; }

  // Called by the callbacks.
  void add_layer(Layer layer) { layers_.push_back(std::move(layer)); }
  void add_rectified(at::Tensor t) { rectified_.push_back(std::move(t)); }

 private:
  std::vector<Layer> layers_;
  std::vector<at::Tensor> rectified_;
  OpTap* previous_;
  uint64_t handle_;
  bool recording_ = true;
};

// The parameters of `module` the recorded layers used as weights, each
// once, in the order of first use: a weight is matched to the parameter
// whose data it is (same storage address and element count).
std::vector<at::Tensor> layer_weights(const OpTap& tap, torch::nn::Module& module);

// The same with each layer's output, for per-layer sums: the parameter of
// each recorded layer in call order (undefined where none matches).
std::vector<at::Tensor> layer_parameters(const OpTap& tap, torch::nn::Module& module);

}  // namespace sylva::evaluators
