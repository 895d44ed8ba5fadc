// Datasets of the built-in trainer: MNIST-format IDX files, CIFAR-10 and
// CIFAR-100 binaries, image folders (PNG and JPEG) and CSV tables, read once
// into memory.
//
// `--dataset PATH` is recognised by content (detect_format) unless
// `--dataset-format` names the format:
//   idx       a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte,
//             t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each
//             optionally .gz): MNIST, Fashion-MNIST.
//   cifar10   a folder (or one .bin file) of CIFAR-10 records: one label byte
//             and 3x32x32 pixel bytes (data_batch_*.bin train, test_batch.bin
//             test).
//   cifar100  the same with two label bytes, coarse then fine (train.bin,
//             test.bin); `--label fine|coarse` picks one.
//   folder    one subfolder per class of PNG / JPEG files (ROOT/CLASS/*.png),
//             or ROOT/train/CLASS/* and ROOT/test/CLASS/*; decoded with
//             libpng / libjpeg-turbo and resized to `--image-size` (bilinear).
//   csv       a table with a header line, numeric feature columns and a label
//             column (`--target COLUMN`, default the last): one .csv file, or
//             a folder with train.csv and test.csv.
// Without a test split of its own (an image folder without train/ and
// test/, a single CSV file) a fixed kHeldOutTestShare of the examples (the
// tail of a permutation drawn with a constant seed) is the test split.
//
// Images are kept as uint8 [N, C, H, W] (decoded once; a batch is converted
// to float when it is trained on); normalise() standardises them with the
// per-channel mean and standard deviation of the training split. CSV
// features are float [N, F, 1, 1], standardised per column at load with the
// training split's statistics (kept in mean / stddev as well). Input shape
// and class count come from the data.
//
// A malformed file is a Status naming the file and the byte offset or line.
// A loaded Dataset is read-only and may be shared by any number of threads.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "evaluators/data/data_options.h"

namespace sylva::evaluators {

struct Dataset {
  std::string format;  // "idx", "cifar10", "cifar100", "folder", "csv"
  std::string path;    // what was read
  // Images: uint8 [N, C, H, W] as stored. Tables: float [N, F, 1, 1],
  // standardised.
  at::Tensor train_images;
  at::Tensor train_labels;  // [N] int64 in [0, classes)
  at::Tensor test_images;
  at::Tensor test_labels;
  int64_t classes = 0;
  // Class names where the data has them (folder names, CSV label values),
  // else empty (labels are the stored numbers).
  std::vector<std::string> class_names;
  // Per channel (image pixels scaled to [0, 1]) or per CSV column, of the
  // training split.
  std::vector<double> mean;
  std::vector<double> stddev;
  // The test split was held out of the training data (kHeldOutTestShare).
  bool test_held_out = false;

  bool is_images() const;
  int64_t channels() const { return train_images.size(1); }
  int64_t height() const { return train_images.size(2); }
  int64_t width() const { return train_images.size(3); }
  // What networks see: uint8 images as standardised float; tables as they are.
  at::Tensor normalise(const at::Tensor& x) const;
  // One line: "cifar10 /data/c10: 50000 train, 10000 test, 3x32x32, 10 classes".
  std::string describe() const;
  // JSON object with the format, path, splits, shape, classes (and names),
  // mean and stddev: stored with the experiment.
  std::string summary_json() const;
};

// The affine map from a pixel byte to its standardised value, per channel:
// v * scale[c] - shift[c] = (v / 255 - mean[c]) / stddev[c].
struct PixelAffine {
  std::vector<float> scale, shift;
};
PixelAffine pixel_affine(const std::vector<double>& mean, const std::vector<double>& stddev);
// uint8 images [N, C, H, W] as standardised float, on the device they are on.
at::Tensor standardise_bytes(const at::Tensor& bytes, const PixelAffine& affine);

// Which format `path` holds, by content; an error names what was found.
StatusOr<std::string> detect_format(const std::string& path);

// Reads the dataset; every problem is one line naming the file and where.
StatusOr<Dataset> load_dataset(const DataOptions& options);

// Loads the four IDX files from `folder` (load_dataset with format idx).
StatusOr<Dataset> load_idx_dataset(const std::string& folder);

// One IDX file of unsigned bytes: its dimensions and its data, row-major.
struct IdxArray {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};
// Reads a uint8 IDX file (magic 0x00 0x00 0x08 <ndims>), gzipped or plain.
StatusOr<IdxArray> read_idx(const std::string& path);

// Fisher-Yates permutation of [0, n) from sylva::Rng: stable across
// platforms and LibTorch versions, unlike torch::randperm. The fixed splits
// (validation, held-out test) are cut from it with constant seeds.
std::vector<int64_t> fixed_permutation(int64_t n, uint64_t seed);

// How the supernet verbs and the supernet evaluator cut a dataset, written
// once: the first `val` training images score val_acc, the `rest` after them
// are trained on (supernet train) or recalibrate batch norm (evaluation,
// sweep, export), and the first `test` test images (0: all) score test_acc.
// The tensors are normalised (float).
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
