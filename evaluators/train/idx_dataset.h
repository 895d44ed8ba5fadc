// IDX (MNIST-format) datasets: the four files of MNIST / Fashion-MNIST,
// gzipped or plain, read into normalised tensors.
//
// A folder holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally with a
// `.gz` suffix (the gzipped file wins when both exist). Images are uint8
// [N, H, W]; they become float [N, 1, H, W] scaled to [0, 1] and standardised
// with the mean and standard deviation of all training pixels. Problems in the
// files (missing, bad magic number, truncated, count mismatch) are returned as
// a Status naming the file.
//
// read_idx() is torch-free; Dataset carries ATen tensors. A loaded Dataset is
// read-only and may be shared by any number of threads.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace sylva::evaluators {

// Folder of the Debian package dataset-fashion-mnist.
inline constexpr char kDefaultDatasetDir[] = "/usr/share/datasets/fashion-mnist";

// One IDX file of unsigned bytes: its dimensions and its data, row-major.
struct IdxArray {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// Reads a uint8 IDX file (magic 0x00 0x00 0x08 <ndims>), gzipped or plain:
// zlib reads plain files transparently.
StatusOr<IdxArray> read_idx(const std::string& path);

struct Dataset {
  at::Tensor train_images;  // [N, 1, H, W] float32, standardised
  at::Tensor train_labels;  // [N] int64
  at::Tensor test_images;   // [M, 1, H, W] float32, standardised like train
  at::Tensor test_labels;   // [M] int64
  int64_t classes = 0;      // max label over both splits + 1
  double mean = 0;          // of the training pixels scaled to [0, 1]
  double stddev = 1;        // of the training pixels scaled to [0, 1]
};

// Loads the four IDX files from `folder`.
StatusOr<Dataset> load_idx_dataset(const std::string& folder);

// How the supernet verbs and the supernet evaluator cut a dataset, written
// once: the first `val` training images score val_acc, the `rest` after them
// are trained on (supernet train) or recalibrate batch norm (evaluation,
// sweep, export), and the first `test` test images (0: all) score test_acc.
struct DataSplit {
  at::Tensor val_x, val_y, rest_x, rest_y, test_x, test_y;
};
// Training: `train` images after the validation ones (0 or more than are
// left: all that are left); "--val-samples V leaves no training images of N".
StatusOr<DataSplit> split_for_training(const Dataset& d, int64_t val, int64_t train,
                                       int64_t test = 0);
// Calibration: exactly `calibration` images after the validation ones;
// "--val-samples V plus C calibration images exceed the N training images".
StatusOr<DataSplit> split_for_calibration(const Dataset& d, int64_t val, int64_t calibration,
                                          int64_t test);

}  // namespace sylva::evaluators
