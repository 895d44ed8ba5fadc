// Augmentation of uint8 image batches [B, C, H, W], on the CPU, before the
// batch becomes float: `--augment crop,flip,cutout`.
//   crop[=P]    pad P pixels (default 4) of black on every side, then crop
//               back to H x W at a random offset
//   flip        mirror left-right with probability 1/2
//   cutout[=S]  set a random S x S square (default half the smaller side;
//               clipped at the border, its centre anywhere in the image) to
//               the training mean, so that it is 0 after normalisation
// Every random number comes from the Rng handed in, image by image in batch
// order, so a trial's augmentation is fixed by its seed and epoch.
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/random.h"
#include "base/status.h"

namespace sylva::evaluators {

struct AugmentSpec {
  int crop = 0;  // padding; 0: no crop
  bool flip = false;
  int cutout = 0;  // square side; 0: none
  // Filled in for the data: cutout's default side and fill (per channel).
  std::vector<uint8_t> fill;

  bool any() const { return crop > 0 || flip || cutout > 0; }
  // "crop=4,flip,cutout=16", or "none".
  std::string text() const;
};

// "" or "none": nothing. Errors name the option and the word:
// "--augment: 'blur' is not one of crop, flip, cutout".
StatusOr<AugmentSpec> parse_augment(const std::string& text);

// The spec for images of this size and per-channel training mean (pixels
// scaled to [0, 1]): cutout's default side, its fill; a crop padding or
// cutout larger than the image is an error.
StatusOr<AugmentSpec> fit_augment(AugmentSpec spec, int64_t height, int64_t width,
                                  const std::vector<double>& mean);

// Augments `count` images of `channels` x `height` x `width` bytes each, in
// place. `scratch` is reused between calls.
void augment_images(const AugmentSpec& spec, uint8_t* images, int64_t count, int64_t channels,
                    int64_t height, int64_t width, Rng& rng, std::vector<uint8_t>& scratch);

}  // namespace sylva::evaluators
