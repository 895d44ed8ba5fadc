// The `stitch` family's configurations (Stitchable Neural Networks, Pan et
// al., CVPR 2023): K anchors of one family, differing in width (the `sorted`
// family's blocks at dims[k] channels and expand x dims[k] hidden), each
// `depth` blocks deep. A configuration is an anchor alone, or a stitch: the
// stem and first `position` blocks of anchor `from`, a stitching layer (1x1
// convolution dims[from] -> dims[to]), then blocks position.. of anchor `to`
// and its classifier. Stitches join anchors adjacent in width, both ways,
// at every block boundary: K + 2 (K - 1) (depth - 1) configurations.
// Decisions: the route ("a1": anchor 1 alone; "s0-1": anchor 0 into anchor
// 1), then for a stitch its position ("p3"). Canonical forms
// "[stitch a1]", "[stitch s0-1 p3]". Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spaces/supernets/family_space.h"

namespace sylva::stitch {

struct StitchSpec {
  int64_t in_channels = 1;
  int64_t classes = 10;
  int64_t size = 28;
  int64_t depth = 8;
  std::vector<int64_t> dims = {32, 64, 96};  // the anchors' widths, ascending
  int64_t expand = 4;                        // FFN hidden = expand x dim
  int64_t max_params = 0, max_macs = 0;      // 0: no budget
};

struct StitchConfig {
  int from = 0, to = 0;  // from == to: that anchor alone
  int64_t position = 0;  // blocks of `from` before the stitch
  bool operator==(const StitchConfig& o) const {
    return from == o.from && to == o.to && (from == to || position == o.position);
  }
};

struct StitchCost {
  int64_t params = 0, macs = 0;
};

// Parameters and MACs of the standalone network of `c` (its anchors' parts
// and the stitching layer).
StitchCost cost(const StitchSpec& spec, const StitchConfig& c);
// The routes in decision order: anchors, then (k, k+1) and (k+1, k) pairs.
std::vector<StitchConfig> routes(const StitchSpec& spec);
// Every configuration: the anchors, then every stitch.
std::vector<StitchConfig> all_configs(const StitchSpec& spec);

std::string spec_text(const StitchSpec& spec);
StatusOr<StitchSpec> parse_spec(const std::string& text);

class StitchSpace : public FamilySpace<StitchSpec, StitchConfig> {
 public:
  StitchSpace(std::string name, StitchSpec spec);

  std::vector<Choice> choices(const std::vector<int>& prefix) const override;
  StatusOr<Architecture> make(const std::vector<int>& decisions) const override;
  StatusOr<Architecture> parse(const std::string& text) const override;
  std::vector<DecisionSlot> slots(const std::vector<int>& decisions) const override;
  // One-hot route, one-hot position (zeros for an anchor alone).
  std::vector<double> encode(const std::vector<int>& decisions) const override;

  StatusOr<StitchConfig> config(const std::vector<int>& decisions) const override;
  StatusOr<std::vector<int>> decisions(const StitchConfig& c) const override;
  // An error when no configuration fits the budgets.
  Status check_budgets() const override;

 private:
  std::string route_label(const StitchConfig& r) const;

  std::vector<StitchConfig> routes_;  // routes(spec_), in decision order
};

}  // namespace sylva::stitch
