// ModelShape: the input a network is built for and its class count, and
// the parser of `--input-shape C,H,W` (sample, the command evaluator's
// model.pt). Torch-free.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace sylva::evaluators {

// Input of a network (no batch dimension) and its class count.
struct ModelShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t classes = 10;
};

// Bounds parse_input_shape checks before anything is allocated: values of
// one input (C x H x W: 1 GiB of float32, e.g. 3 x 9000 x 9000), and classes.
inline constexpr int64_t kMaxInputValues = int64_t{1} << 28;
inline constexpr int64_t kMaxClasses = 1000000;

// Parses "C,H,W" (e.g. "1,28,28"); errors name --input-shape or --classes.
StatusOr<ModelShape> parse_input_shape(const std::string& text, int64_t classes);

}  // namespace sylva::evaluators
