#include "evaluators/model_shape.h"

#include <fmt/format.h>

#include <sstream>

#include "base/strings.h"

namespace sylva::evaluators {

StatusOr<ModelShape> parse_input_shape(const std::string& text, int64_t classes) {
  ModelShape shape;
  char c1 = 0, c2 = 0;
  std::istringstream in(text);
  long long c = 0, h = 0, w = 0;
  if (!(in >> c >> c1 >> h >> c2 >> w) || c1 != ',' || c2 != ',' || c < 1 || h < 1 || w < 1 ||
      in.peek() != EOF) {
    return Status::invalid_argument(
        fmt::format("--input-shape expects C,H,W with positive sizes, got '{}'", quote_cut(text)));
  }
  // Checked factor by factor, so that no product overflows.
  if (c > kMaxInputValues || h > kMaxInputValues || w > kMaxInputValues ||
      c * h > kMaxInputValues || c * h * w > kMaxInputValues) {
    return Status::invalid_argument(fmt::format(
        "--input-shape {},{},{} is {:.0f} values per input; at most {} (1 GiB of float32) are "
        "supported",
        c, h, w, static_cast<double>(c) * static_cast<double>(h) * static_cast<double>(w),
        kMaxInputValues));
  }
  if (classes < 1)
    return Status::invalid_argument(fmt::format("--classes must be >= 1, got {}", classes));
  if (classes > kMaxClasses) {
    return Status::invalid_argument(
        fmt::format("--classes must be <= {}, got {}", kMaxClasses, classes));
  }
  shape.channels = c;
  shape.height = h;
  shape.width = w;
  shape.classes = classes;
  return shape;
}

}  // namespace sylva::evaluators
