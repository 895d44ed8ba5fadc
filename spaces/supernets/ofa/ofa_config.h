// The configuration space of the once-for-all family (spaces/ofa.h): the
// spec of a supernet (its widths, strides and the elastic choices) and one
// configuration of it. Torch-free, so that spaces and search can use it.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "base/status.h"

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
  // Budgets of the configurations searched (0: none): parameters, and
  // multiply-accumulates per image.
  int64_t max_params = 0;
  int64_t max_macs = 0;
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
// A configuration whose values `pick(kind, allowed values)` chooses in the
// order of the decisions: 'r' the resolution, then per stage 'd' its depth
// and per block 'k' its kernel and 'e' its expand ratio.
OfaConfig walk_config(
    const OfaSpec& spec,
    const std::function<int64_t(char kind, const std::vector<int64_t>& values)>& pick);
// A configuration drawn uniformly per dimension.
OfaConfig random_config(const OfaSpec& spec, std::mt19937_64& rng);
// An error naming the dimension and its allowed values when `c` is not a
// configuration of `spec`.
Status check_config(const OfaSpec& spec, const OfaConfig& c);

struct OfaCost {
  int64_t params = 0;
  int64_t macs = 0;  // per image at the configuration's resolution
};

// Parameters and MACs of a configuration, from the spec alone (what the
// extracted sub-network holds and computes). Does not validate `c`.
OfaCost cost(const OfaSpec& spec, const OfaConfig& c);

// The spec as one line of `key=values` words, and back (errors name the key).
std::string spec_text(const OfaSpec& spec);
StatusOr<OfaSpec> parse_spec(const std::string& text);

}  // namespace sylva::ofa
