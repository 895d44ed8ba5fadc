// What the supernet benchmarks share: Fashion-MNIST cut into training
// images, 500 batch-norm calibration images after them, and test images.
#pragma once

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdlib>

#include "evaluators/data/dataset.h"

namespace sylva::bench {

struct SupernetData {
  at::Tensor train_x, train_y, calib, test_x, test_y;
};

// Exits with the loader's message when the dataset is missing.
inline SupernetData load_supernet_data(int64_t train_n, int64_t test_n, int64_t epochs) {
  auto data = evaluators::load_idx_dataset(evaluators::kDefaultDatasetDir);
  if (!data.is_ok()) {
    fmt::print(stderr, "{}\n", data.status().message());
    std::exit(1);
  }
  const evaluators::Dataset& d = data.value();
  fmt::print(
      "# {} training images, {} epochs, batch 64, lr 0.05; {} test images; BN "
      "recalibrated on 500 other training images; {} torch threads\n",
      train_n, epochs, test_n, torch::get_num_threads());
  return {d.normalise(d.train_images.narrow(0, 0, train_n)), d.train_labels.narrow(0, 0, train_n),
          d.normalise(d.train_images.narrow(0, train_n, 500)),
          d.normalise(d.test_images.narrow(0, 0, test_n)), d.test_labels.narrow(0, 0, test_n)};
}

}  // namespace sylva::bench
