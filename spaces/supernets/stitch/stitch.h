// The `stitch` family's network (spaces/stitch_space.h has its
// configurations): K anchors (`sorted`-family networks at their largest, one
// width each) and a stitching layer (1x1 convolution with bias) for every
// (from, to, position) of the space. Stitching layers start as least-squares
// fits of anchor `to`'s activations from anchor `from`'s at that position
// (SN-Net's initialisation), by begin_phase("stitch", images).
#pragma once

#include <map>
#include <memory>
#include <tuple>

#include "spaces/supernets/sorted/sorted.h"
#include "spaces/supernets/stitch/stitch_space.h"
#include "spaces/supernets/supernet.h"

namespace sylva::stitch {

class StitchNetImpl : public torch::nn::Module {
 public:
  explicit StitchNetImpl(StitchSpec spec);

  void activate(const StitchConfig& config) { active_ = config; }
  torch::Tensor forward(const torch::Tensor& x);
  torch::jit::Module script(const StitchConfig& config) const;
  // Least squares: every stitching layer maps anchor `from`'s activations
  // after `position` blocks to anchor `to`'s, on `images`.
  void fit_stitches(const torch::Tensor& images);
  const StitchSpec& spec() const { return spec_; }
  torch::nn::Conv2d& stitch_layer(int from, int to, int64_t position);

 private:
  StitchSpec spec_;
  StitchConfig active_;
  std::vector<sorted::SortedNet> anchors_;
  std::map<std::tuple<int, int, int64_t>, torch::nn::Conv2d> stitches_;
};
TORCH_MODULE(StitchNet);

std::unique_ptr<Supernet> make_stitch_supernet(const StitchSpec& spec);

// Registers the family (stitch_family.cc); see spaces/supernets/family.h.
void register_stitch_family();

}  // namespace sylva::stitch
