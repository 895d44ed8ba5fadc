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

#include <torch/script.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "spaces/supernets/elastic.h"
#include "spaces/supernets/ofa/ofa_config.h"

namespace sylva::ofa {

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
  // The sub-network of `config` as a standalone TorchScript module (eval-mode
  // batch norm, its own copies of the weights) that plain PyTorch loads with
  // torch.jit.load and runs.
  torch::jit::Module script(const OfaConfig& config) const;
  // Batch-norm recalibration of the active sub-network (once-for-all's
  // "BN calibration"): the statistics become the plain average over
  // `batches` forward passes in training mode, without gradients.
  void recalibrate(const std::vector<torch::Tensor>& batches);
  // Once-for-all's channel importance sorting, done before expand ratios
  // shrink: in every block the hidden (expanded) channels are reordered by
  // the L1 norm of the project weights that read them, most important
  // first, so that a smaller expand ratio keeps the most important ones.
  // Every weight and statistic of a channel moves with it: the largest
  // sub-network computes the same function.
  void sort_channels();
  // The L1 importance of block `block` of stage `stage`'s hidden channels.
  torch::Tensor channel_importance(size_t stage, size_t block) const;
  const OfaSpec& spec() const { return spec_; }

 private:
  // The plain layers of one block of a sub-network, with copied weights.
  struct ExtractedBlock {
    torch::nn::Conv2d expand{nullptr}, depthwise{nullptr}, project{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
    bool residual = false;
  };
  // What extract() and script() both read: the stem, the active blocks and
  // the classifier of `config` as plain layers (checks the config).
  torch::nn::Conv2d extract_stem() const;
  std::vector<ExtractedBlock> extract_blocks(const OfaConfig& config) const;

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

// A new supernet with the same spec, weights and statistics as `net`.
OfaNet copy_supernet(const OfaNet& net);

// Registers the family (ofa_family.cc); see spaces/supernets/family.h.
void register_ofa_family();

}  // namespace sylva::ofa
