// Augmentation and the batch loader: augmentation is a function of the
// seed, keeps the shape and does what each word says; the loader thread
// delivers every example exactly once per epoch, standardised, in an order
// fixed by the seed.
#include "evaluators/data/loader.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <vector>

#include "evaluators/data/augment.h"

namespace sylva::evaluators {
namespace {

std::vector<uint8_t> ramp_images(int64_t count, int64_t c, int64_t h, int64_t w) {
  std::vector<uint8_t> out(count * c * h * w);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(1 + (i * 13) % 250);
  return out;
}

AugmentSpec fitted(const std::string& text, int64_t h, int64_t w) {
  auto parsed = parse_augment(text);
  EXPECT_TRUE(parsed.is_ok()) << parsed.status().message();
  auto spec = fit_augment(parsed.value(), h, w, {0.5, 0.25, 0.75});
  EXPECT_TRUE(spec.is_ok()) << spec.status().message();
  return spec.value();
}

TEST(AugmentTest, ParsesWordsAndRefusesOthers) {
  EXPECT_EQ(parse_augment("crop,flip,cutout").value().text(), "crop=4,flip,cutout");
  EXPECT_EQ(fitted("crop,flip,cutout", 32, 32).text(), "crop=4,flip,cutout=16");
  EXPECT_EQ(parse_augment("crop=2,cutout=8").value().text(), "crop=2,cutout=8");
  EXPECT_EQ(parse_augment("none").value().text(), "none");
  EXPECT_FALSE(parse_augment("").value().any());
  EXPECT_EQ(parse_augment("crop,blur").status().message(),
            "--augment: 'blur' is not one of crop[=PAD], flip, cutout[=SIZE] (or none)");
  EXPECT_EQ(parse_augment("crop=x").status().message(),
            "--augment: 'crop=x' wants a whole number of pixels, 1-1024");
  EXPECT_EQ(fit_augment(parse_augment("cutout=40").value(), 32, 32, {0.5}).status().message(),
            "--augment cutout=40 is larger than the 32x32 images");
  // The cutout fill is the training mean, so it is 0 after standardisation.
  EXPECT_EQ(fitted("cutout", 8, 8).fill, (std::vector<uint8_t>{128, 64, 191}));
}

TEST(AugmentTest, SameSeedSameImagesOtherSeedOthersShapeKept) {
  const int64_t n = 16, c = 3, h = 10, w = 12;
  const AugmentSpec spec = fitted("crop,flip,cutout", h, w);
  auto run = [&](uint64_t seed) {
    std::vector<uint8_t> images = ramp_images(n, c, h, w);
    Rng rng(seed);
    std::vector<uint8_t> scratch;
    augment_images(spec, images.data(), n, c, h, w, rng, scratch);
    return images;
  };
  const std::vector<uint8_t> a = run(7), b = run(7), other = run(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other);
  EXPECT_EQ(a.size(), static_cast<size_t>(n * c * h * w));
  EXPECT_NE(a, ramp_images(n, c, h, w));
}

TEST(AugmentTest, FlipMirrorsCropShiftsCutoutFillsASquare) {
  const int64_t c = 3, h = 6, w = 8, plane = h * w;
  const std::vector<uint8_t> original = ramp_images(1, c, h, w);
  std::vector<uint8_t> scratch;
  // Flip: each draw gives the image or its mirror, and both happen.
  const AugmentSpec flip = fitted("flip", h, w);
  std::set<int> seen;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<uint8_t> img = original;
    Rng rng(seed);
    augment_images(flip, img.data(), 1, c, h, w, rng, scratch);
    bool same = img == original, mirrored = true;
    for (int64_t r = 0; r < c * h; ++r)
      for (int64_t x = 0; x < w; ++x) mirrored &= img[r * w + x] == original[r * w + (w - 1 - x)];
    ASSERT_TRUE(same || mirrored);
    seen.insert(same ? 0 : 1);
  }
  EXPECT_EQ(seen.size(), 2u);
  // Crop with padding 2: a shift by (dy, dx) in [-2, 2], black where it
  // leaves the image.
  const AugmentSpec crop = fitted("crop=2", h, w);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<uint8_t> img = original;
    Rng rng(seed);
    augment_images(crop, img.data(), 1, c, h, w, rng, scratch);
    bool found = false;
    for (int dy = -2; dy <= 2 && !found; ++dy) {
      for (int dx = -2; dx <= 2 && !found; ++dx) {
        bool ok = true;
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
              const int64_t sy = y + dy, sx = x + dx;
              const uint8_t want =
                  (sy >= 0 && sy < h && sx >= 0 && sx < w) ? original[ch * plane + sy * w + sx] : 0;
              ok &= img[ch * plane + y * w + x] == want;
            }
        found = ok;
      }
    }
    EXPECT_TRUE(found) << "seed " << seed;
  }
  // Cutout 3: at most 3 x 3 pixels per channel changed, all to the fill.
  const AugmentSpec cutout = fitted("cutout=3", h, w);
  int changed_total = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<uint8_t> img = original;
    Rng rng(seed);
    augment_images(cutout, img.data(), 1, c, h, w, rng, scratch);
    for (int64_t ch = 0; ch < c; ++ch) {
      int changed = 0;
      for (int64_t k = 0; k < plane; ++k) {
        if (img[ch * plane + k] != original[ch * plane + k]) {
          ++changed;
          EXPECT_EQ(img[ch * plane + k], cutout.fill[ch]);
        }
      }
      EXPECT_LE(changed, 9);
      changed_total += changed;
    }
  }
  EXPECT_GT(changed_total, 20 * 3 * 3);  // squares of 4 to 9 pixels, clipped at the border
}

TEST(BatchLoaderTest, EveryExampleOncePerEpochStandardisedInASeededOrder) {
  const int64_t n = 24, c = 2, h = 3, w = 3;
  const std::vector<uint8_t> bytes = ramp_images(n, c, h, w);
  at::Tensor images =
      torch::from_blob(const_cast<uint8_t*>(bytes.data()), {n, c, h, w}, torch::kByte).clone();
  at::Tensor labels = torch::arange(n, torch::kLong) * 10;
  LoaderOptions o;
  o.batch_size = 6;
  o.steps = 4;
  o.epochs = 3;
  o.seed = 42;
  o.prefetch = 2;
  o.mean = {0.5, 0.25};
  o.stddev = {0.2, 0.1};
  auto deliver = [&](const LoaderOptions& options) {
    BatchLoader loader(images, labels, options);
    std::vector<Batch> out;
    Batch b;
    while (loader.next(b)) out.push_back(b);
    return out;
  };
  const std::vector<Batch> batches = deliver(o);
  ASSERT_EQ(batches.size(), 12u);
  for (int epoch = 1; epoch <= 3; ++epoch) {
    std::vector<int64_t> visited;
    for (int64_t s = 0; s < 4; ++s) {
      const Batch& b = batches[(epoch - 1) * 4 + s];
      EXPECT_EQ(b.epoch, epoch);
      EXPECT_EQ(b.step, s);
      EXPECT_EQ(b.x.sizes(), (std::vector<int64_t>{6, c, h, w}));
      for (int64_t i = 0; i < 6; ++i) {
        const int64_t row = b.index[i];
        visited.push_back(row);
        EXPECT_EQ(b.y[i].item<int64_t>(), row * 10);
        // (byte / 255 - mean) / std, channel 1, pixel 4.
        const double byte = bytes[row * c * h * w + 1 * h * w + 4];
        EXPECT_NEAR(b.x[i][1][1][1].item<double>(), (byte / 255 - 0.25) / 0.1, 1e-4);
      }
    }
    std::vector<int64_t> order = BatchLoader::epoch_order(n, 42, epoch);
    EXPECT_EQ(visited, order);
    std::sort(visited.begin(), visited.end());
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(visited[i], i);
  }
  // Epochs visit in different orders; the same seed gives the same batches.
  EXPECT_NE(batches[0].index, batches[4].index);
  const std::vector<Batch> again = deliver(o);
  for (size_t k = 0; k < batches.size(); ++k) EXPECT_TRUE(again[k].x.equal(batches[k].x));
  // With augmentation: still every example once, and reproducible.
  o.augment = fitted("crop=1,flip", h, w);
  const std::vector<Batch> a = deliver(o), b = deliver(o);
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].index, batches[k].index);
    EXPECT_TRUE(a[k].x.equal(b[k].x));
  }
  // A loader dropped mid-epoch stops its thread (the destructor joins).
  {
    BatchLoader loader(images, labels, o);
    Batch first;
    ASSERT_TRUE(loader.next(first));
  }
}

TEST(BatchLoaderTest, TablesPassThroughAsTheyAre) {
  at::Tensor rows = torch::arange(40, torch::kFloat).view({10, 4, 1, 1});
  at::Tensor labels = torch::arange(10, torch::kLong);
  LoaderOptions o;
  o.batch_size = 5;
  o.steps = 2;
  o.seed = 3;
  BatchLoader loader(rows, labels, o);
  Batch b;
  int64_t seen = 0;
  while (loader.next(b)) {
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_TRUE(b.x[i].equal(rows[b.index[i]]));
      ++seen;
    }
  }
  EXPECT_EQ(seen, 10);
}

}  // namespace
}  // namespace sylva::evaluators
