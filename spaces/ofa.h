// The once-for-all family (Cai et al., ICLR 2020) sized for small images: a
// MobileNetV3-like supernet whose sub-networks differ in input resolution,
// stage depth, and each block's depthwise kernel and expand ratio. One set of
// weights (elastic layers, spaces/elastic.h) serves every configuration:
// activate(config) makes forward() run that sub-network; extract(config)
// copies it into a standalone module; cost(config) counts its parameters and
// multiply-accumulates analytically.
//
// Layout: stem conv3x3 -> BN -> ReLU; stages of MBConv blocks (1x1 expand,
// depthwise k x k, 1x1 project, each followed by BN, ReLU after the first
// two; a residual where stride 1 keeps the width); the first block of a
// stage has the stage's stride; global average pooling; a linear classifier.
// A stage of depth d runs its first d blocks.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "spaces/elastic.h"
#include "spaces/status.h"

namespace sylva::ofa {

struct OfaSpec {
  int64_t in_channels = 1;
  int64_t classes = 10;
  int64_t stem = 16;
  std::vector<int64_t> widths = {24, 40, 80, 96};  // per stage
  std::vector<int64_t> strides = {1, 2, 2, 1};     // of each stage's first block
  std::vector<int64_t> kernels = {3, 5, 7};
  std::vector<int64_t> expands = {3, 4, 6};
  std::vector<int64_t> depths = {2, 3, 4};
  std::vector<int64_t> resolutions = {20, 24, 28};
};

struct OfaConfig {
  int64_t resolution = 0;
  std::vector<int64_t> depth;                // per stage
  std::vector<std::vector<int64_t>> kernel;  // per stage, per active block
  std::vector<std::vector<int64_t>> expand;  // per stage, per active block

  bool operator==(const OfaConfig& o) const {
    return resolution == o.resolution && depth == o.depth && kernel == o.kernel &&
           expand == o.expand;
  }
};

// The largest and smallest configurations of a spec.
OfaConfig largest(const OfaSpec& spec);
OfaConfig smallest(const OfaSpec& spec);
// An error naming the dimension and its allowed values when `c` is not a
// configuration of `spec`.
Status check_config(const OfaSpec& spec, const OfaConfig& c);

struct OfaCost {
  int64_t params = 0;
  int64_t macs = 0;  // per image at the configuration's resolution
};

class OfaNetImpl : public torch::nn::Module {
 public:
  explicit OfaNetImpl(OfaSpec spec);

  // Throws std::invalid_argument (check_config's message) for a bad config.
  void activate(const OfaConfig& config);
  const OfaConfig& active() const { return active_; }
  // Resizes the images to the active resolution, then runs the active
  // sub-network.
  torch::Tensor forward(torch::Tensor x);
  // The active sub-network... of `config`, with copied weights.
  torch::nn::Sequential extract(const OfaConfig& config) const;
  OfaCost cost(const OfaConfig& config) const;
  const OfaSpec& spec() const { return spec_; }

 private:
  struct Block {
    int64_t in_max, out, stride;
    elastic::ElasticConv2d expand{nullptr}, depthwise{nullptr}, project{nullptr};
    elastic::ElasticBatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  };

  OfaSpec spec_;
  OfaConfig active_;
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<std::vector<Block>> stages_;
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(OfaNet);

}  // namespace sylva::ofa
