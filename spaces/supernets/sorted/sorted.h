// The `sorted` family's network (spaces/sorted_space.h has its
// configurations): a 3x3 stride-2 stem, then residual blocks at half the
// input size, each a 7x7 depthwise convolution + BN, then an FFN of 1x1
// convolutions whose hidden width is elastic (the first w channels: the
// nested FFN of MatFormer), + BN; x + block(x). Global pooling, a linear
// classifier. A configuration runs its first `depth` blocks.
#pragma once

#include <memory>

#include "spaces/nets/network.h"
#include "spaces/supernets/elastic.h"
#include "spaces/supernets/sorted/sorted_space.h"
#include "spaces/supernets/supernet.h"

namespace sylva::sorted {

class SortedNetImpl : public torch::nn::Module {
 public:
  explicit SortedNetImpl(SortedSpec spec);

  // Throws std::invalid_argument naming the dimension for a bad config.
  void activate(const SortedConfig& config);
  torch::Tensor forward(const torch::Tensor& x);
  torch::jit::Module script(const SortedConfig& config) const;
  const SortedSpec& spec() const { return spec_; }

  // The pieces of forward(), for networks stitched from several (stitch):
  // the stem, block `l` at hidden width `width`, pooling and the classifier;
  // and each one's TorchScript (emit_* return the output variable).
  torch::Tensor stem(const torch::Tensor& x);
  torch::Tensor block(int64_t l, const torch::Tensor& x, int64_t width);
  torch::Tensor head(const torch::Tensor& x);
  std::string emit_stem(ScriptEmitter& e, const std::string& x) const;
  std::string emit_block(ScriptEmitter& e, int64_t l, const std::string& x, int64_t width) const;
  std::string emit_head(ScriptEmitter& e, const std::string& x) const;

 private:
  struct Block {
    torch::nn::Conv2d depthwise{nullptr};
    torch::nn::BatchNorm2d bn_a{nullptr}, bn_c{nullptr};
    elastic::ElasticConv2d expand{nullptr}, project{nullptr};
    elastic::ElasticBatchNorm2d bn_b{nullptr};
  };

  SortedSpec spec_;
  SortedSpace space_;
  SortedConfig active_;
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<Block> blocks_;
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(SortedNet);

// The family behind the Supernet interface.
std::unique_ptr<Supernet> make_sorted_supernet(const SortedSpec& spec);

// Registers the family (sorted_family.cc); see spaces/supernets/family.h.
void register_sorted_family();

}  // namespace sylva::sorted
