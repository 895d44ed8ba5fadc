// Elastic layers: the building blocks of weight-sharing supernets
// (once-for-all, SortedNet / MatFormer nested sub-networks). Each holds the
// weights of its largest size; a forward pass at a smaller size uses a prefix
// of them (the first `out` output channels, the first `in` input channels), so
// every sub-network shares its weights with the larger ones. Elastic
// convolutions also shrink their kernel once-for-all's way: the centre crop of
// the next larger active kernel, times a learned ks²×ks² transform matrix
// (initialised to the identity) shared by all channels.
//
// extract() copies the active weights into a plain LibTorch module that
// computes the same function on its own (the standalone sub-network that
// `sylva export` writes), and params() counts what the extracted layer holds.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <vector>

namespace sylva::elastic {

// y = x W[:out, :in]^T + b[:out], with in = x.size(-1).
class ElasticLinearImpl : public torch::nn::Module {
 public:
  ElasticLinearImpl(int64_t in_max, int64_t out_max, bool bias = true);

  torch::Tensor forward(const torch::Tensor& x, int64_t out);
  torch::nn::Linear extract(int64_t in, int64_t out) const;
  int64_t params(int64_t in, int64_t out) const;

  int64_t in_max() const { return weight_.size(1); }
  int64_t out_max() const { return weight_.size(0); }
  torch::Tensor& weight() { return weight_; }
  torch::Tensor& bias() { return bias_; }

 private:
  torch::Tensor weight_, bias_;
};
TORCH_MODULE(ElasticLinear);

// A convolution with elastic output channels and kernel size; input channels
// follow the input (x.size(1)). Depthwise: one filter per channel, so `out`
// is the input's channel count. Padding keeps the spatial size at stride 1
// ("same" for odd kernels).
class ElasticConv2dImpl : public torch::nn::Module {
 public:
  // `kernels`: the kernel sizes it can run, odd; the largest holds the weights.
  ElasticConv2dImpl(int64_t in_max, int64_t out_max, std::vector<int64_t> kernels,
                    int64_t stride = 1, bool depthwise = false, bool bias = false);

  torch::Tensor forward(const torch::Tensor& x, int64_t out, int64_t kernel);
  // The kernel the forward pass at (in, out, kernel) convolves with.
  torch::Tensor active_weight(int64_t in, int64_t out, int64_t kernel) const;
  torch::nn::Conv2d extract(int64_t in, int64_t out, int64_t kernel) const;
  int64_t params(int64_t in, int64_t out, int64_t kernel) const;

  const std::vector<int64_t>& kernels() const { return kernels_; }
  bool depthwise() const { return depthwise_; }
  // [out_max, in_max (1 when depthwise), kmax, kmax].
  torch::Tensor& weight() { return weight_; }
  const torch::Tensor& weight() const { return weight_; }
  // The transform applied when shrinking to `kernel` (from the next larger).
  torch::Tensor& transform(int64_t kernel) { return transforms_.at(kernel); }

 private:
  std::vector<int64_t> kernels_;  // descending
  int64_t stride_;
  bool depthwise_;
  torch::Tensor weight_, bias_;
  std::map<int64_t, torch::Tensor> transforms_;  // kernel -> [k*k, k*k]
};
TORCH_MODULE(ElasticConv2d);

// Batch normalisation over the first C channels of its largest size, C the
// input's channel count. In training mode it updates only those channels'
// running statistics.
class ElasticBatchNorm2dImpl : public torch::nn::Module {
 public:
  explicit ElasticBatchNorm2dImpl(int64_t channels_max, double momentum = 0.1, double eps = 1e-5);

  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::BatchNorm2d extract(int64_t channels) const;
  int64_t params(int64_t channels) const { return 2 * channels; }

  torch::Tensor& weight() { return weight_; }
  torch::Tensor& bias() { return bias_; }
  torch::Tensor& running_mean() { return running_mean_; }
  torch::Tensor& running_var() { return running_var_; }
  // For batch-norm recalibration: statistics back to mean 0, variance 1, and
  // the weight of the next batch's statistics.
  void reset_statistics();
  void set_momentum(double momentum) { momentum_ = momentum; }
  double momentum() const { return momentum_; }

 private:
  double momentum_, eps_;
  torch::Tensor weight_, bias_, running_mean_, running_var_;
};
TORCH_MODULE(ElasticBatchNorm2d);

}  // namespace sylva::elastic
