// The `sorted` family's configurations (SortedNet, MatFormer): a stack of
// residual blocks whose FFN (1x1 expand, 1x1 project) has a nested hidden
// width, and whose depth is nested too: a configuration runs the first
// `depth` blocks, block l with the first `width[l]` hidden channels. The
// nested ladder is the uniform configurations (every active block at one
// width): SortedNet's sorted sub-models, MatFormer's granularities; any
// per-block mix is MatFormer's Mix'n'Match. Decisions: the depth, then each
// active block's width. Labels "d4", "w128"; canonical form
//   [sorted d4 w128 w64 w64 w32]
// Budgets (max-params, max-macs) give prior 0 to choices whose cheapest
// completion exceeds them. Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "spaces/supernets/family_space.h"

namespace sylva::sorted {

struct SortedSpec {
  int64_t in_channels = 1;
  int64_t classes = 10;
  int64_t size = 28;  // input height and width
  int64_t dim = 64;   // channels of the residual stream
  std::vector<int64_t> depths = {2, 3, 4, 5, 6};
  std::vector<int64_t> widths = {32, 64, 128, 256};  // FFN hidden widths
  int64_t max_params = 0, max_macs = 0;              // 0: no budget
};

struct SortedConfig {
  int64_t depth = 0;
  std::vector<int64_t> width;  // per active block
  bool operator==(const SortedConfig& o) const { return depth == o.depth && width == o.width; }
};

struct SortedCost {
  int64_t params = 0, macs = 0;
  SortedCost& operator+=(const SortedCost& o) {
    params += o.params;
    macs += o.macs;
    return *this;
  }
};

// Parameters and MACs of the standalone network of `c`.
SortedCost cost(const SortedSpec& spec, const SortedConfig& c);
// Its pieces, for an input of `size` x `size`: the stem (3x3 stride-2
// convolution + BN), one block of `dim` channels and `width` hidden (7x7
// depthwise + BN, 1x1 expand + BN, 1x1 project + BN) at half the size, and
// the classifier. The stitch family builds its networks from them too.
SortedCost stem_cost(int64_t in_channels, int64_t dim, int64_t size);
SortedCost block_cost(int64_t dim, int64_t width, int64_t size);
SortedCost head_cost(int64_t dim, int64_t classes);
// Whether `c` is within the budgets (<= 0: none).
bool within(const SortedSpec& spec, const SortedConfig& c, int64_t max_params, int64_t max_macs);
// The uniform configuration (depth, width).
SortedConfig nested(int64_t depth, int64_t width);
// The nested ladder: every (depth, width) pair, cheapest first.
std::vector<SortedConfig> ladder(const SortedSpec& spec);
// Search-free selection: the most expensive nested configuration within the
// budgets (<= 0: none), or nullopt when even the cheapest exceeds them.
std::optional<SortedConfig> largest_nested_within(const SortedSpec& spec, int64_t max_params,
                                                  int64_t max_macs);

std::string spec_text(const SortedSpec& spec);
StatusOr<SortedSpec> parse_spec(const std::string& text);

class SortedSpace : public FamilySpace<SortedSpec, SortedConfig> {
 public:
  SortedSpace(std::string name, SortedSpec spec);

  std::vector<Choice> choices(const std::vector<int>& prefix) const override;
  StatusOr<Architecture> make(const std::vector<int>& decisions) const override;
  StatusOr<Architecture> parse(const std::string& text) const override;
  std::vector<DecisionSlot> slots(const std::vector<int>& decisions) const override;
  // One-hot depth, then per block position a one-hot width (zeros past the depth).
  std::vector<double> encode(const std::vector<int>& decisions) const override;

  StatusOr<SortedConfig> config(const std::vector<int>& decisions) const override;
  // Errors name the dimension and the allowed values.
  StatusOr<std::vector<int>> decisions(const SortedConfig& c) const override;
  Status check_budgets() const override;

 private:
  // `prefix` completed with the least value of every open decision.
  SortedConfig cheapest(const std::vector<int>& prefix) const;
  // within() the spec's budgets (<= 0: none).
  bool fits(const SortedConfig& c) const override;
  // Throws std::invalid_argument for an illegal prefix; 0 when complete,
  // else 'd' or 'w'.
  char next(const std::vector<int>& prefix) const;
};

}  // namespace sylva::sorted
