#include "evaluators/data/augment.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/strings.h"

namespace sylva::evaluators {

std::string AugmentSpec::text() const {
  std::vector<std::string> parts;
  if (crop > 0) parts.push_back(fmt::format("crop={}", crop));
  if (flip) parts.push_back("flip");
  if (cutout > 0) parts.push_back(fmt::format("cutout={}", cutout));
  if (cutout < 0) parts.push_back("cutout");  // the default side, until fitted
  return parts.empty() ? "none" : join(parts, ",");
}

namespace {
// Stands for "the default" until fit_augment knows the image size.
constexpr int kDefaultCutout = -1;
}  // namespace

StatusOr<AugmentSpec> parse_augment(const std::string& text) {
  AugmentSpec spec;
  if (text.empty() || text == "none") return spec;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string word = text.substr(start, comma - start);
    start = comma + 1;
    const size_t eq = word.find('=');
    const std::string name = word.substr(0, eq);
    int value = 0;
    if (eq != std::string::npos) {
      const std::string number = word.substr(eq + 1);
      char* end = nullptr;
      const long v = std::strtol(number.c_str(), &end, 10);
      if (number.empty() || *end != '\0' || v < 1 || v > 1024 || name == "flip") {
        return Status::invalid_argument(
            fmt::format("--augment: '{}' wants {}", quote_cut(word),
                        name == "flip" ? "no value (flip)" : "a whole number of pixels, 1-1024"));
      }
      value = static_cast<int>(v);
    }
    if (name == "crop") {
      spec.crop = value > 0 ? value : 4;
    } else if (name == "flip") {
      spec.flip = true;
    } else if (name == "cutout") {
      spec.cutout = value > 0 ? value : kDefaultCutout;
    } else {
      return Status::invalid_argument(
          fmt::format("--augment: '{}' is not one of crop[=PAD], flip, cutout[=SIZE] (or none)",
                      quote_cut(word)));
    }
  }
  return spec;
}

StatusOr<AugmentSpec> fit_augment(AugmentSpec spec, int64_t height, int64_t width,
                                  const std::vector<double>& mean) {
  const int64_t side = std::min(height, width);
  if (spec.cutout == kDefaultCutout) spec.cutout = static_cast<int>(std::max<int64_t>(1, side / 2));
  if (spec.crop > side) {
    return Status::invalid_argument(fmt::format(
        "--augment crop={} pads more than the {}x{} images are wide", spec.crop, width, height));
  }
  if (spec.cutout > side) {
    return Status::invalid_argument(fmt::format(
        "--augment cutout={} is larger than the {}x{} images", spec.cutout, width, height));
  }
  spec.fill.clear();
  for (double m : mean)
    spec.fill.push_back(static_cast<uint8_t>(std::clamp(std::lround(m * 255.0), 0L, 255L)));
  return spec;
}

void augment_images(const AugmentSpec& spec, uint8_t* images, int64_t count, int64_t channels,
                    int64_t height, int64_t width, Rng& rng, std::vector<uint8_t>& scratch) {
  const int64_t plane = height * width;
  const int64_t size = channels * plane;
  scratch.resize(static_cast<size_t>(size));
  for (int64_t i = 0; i < count; ++i) {
    uint8_t* img = images + i * size;
    // Draws in a fixed order per image, whatever is enabled after.
    if (spec.crop > 0) {
      const int64_t span = 2 * spec.crop + 1;
      const int64_t dy = static_cast<int64_t>(rng() % span) - spec.crop;
      const int64_t dx = static_cast<int64_t>(rng() % span) - spec.crop;
      if (dy != 0 || dx != 0) {
        std::memcpy(scratch.data(), img, size);
        std::memset(img, 0, size);
        const int64_t y0 = std::max<int64_t>(0, -dy), y1 = std::min(height, height - dy);
        const int64_t x0 = std::max<int64_t>(0, -dx), x1 = std::min(width, width - dx);
        if (y0 < y1 && x0 < x1) {
          for (int64_t c = 0; c < channels; ++c) {
            for (int64_t y = y0; y < y1; ++y) {
              std::memcpy(img + c * plane + y * width + x0,
                          scratch.data() + c * plane + (y + dy) * width + x0 + dx, x1 - x0);
            }
          }
        }
      }
    }
    if (spec.flip && (rng() & 1) != 0) {
      for (int64_t r = 0; r < channels * height; ++r)
        std::reverse(img + r * width, img + (r + 1) * width);
    }
    if (spec.cutout > 0) {
      const int64_t cy = static_cast<int64_t>(rng() % height);
      const int64_t cx = static_cast<int64_t>(rng() % width);
      const int64_t half = spec.cutout / 2;
      const int64_t y0 = std::max<int64_t>(0, cy - half),
                    y1 = std::min(height, cy - half + spec.cutout);
      const int64_t x0 = std::max<int64_t>(0, cx - half),
                    x1 = std::min(width, cx - half + spec.cutout);
      for (int64_t c = 0; c < channels; ++c) {
        const uint8_t fill = c < static_cast<int64_t>(spec.fill.size()) ? spec.fill[c] : 0;
        for (int64_t y = y0; y < y1; ++y)
          std::memset(img + c * plane + y * width + x0, fill, x1 - x0);
      }
    }
  }
}

}  // namespace sylva::evaluators
