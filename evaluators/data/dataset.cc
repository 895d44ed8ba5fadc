#include "evaluators/data/dataset.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/random.h"
#include "base/strings.h"
#include "evaluators/data/formats.h"

namespace sylva::evaluators {

namespace fs = std::filesystem;
using namespace data_internal;

namespace {

// Seed of the held-out test split (data without a test split of its own).
constexpr uint64_t kHoldOutSeed = 0x401d0007e57ULL;

std::string formats_joined() {
  std::string out;
  for (const std::string& f : dataset_format_names()) out += (out.empty() ? "" : " | ") + f;
  return out;
}

// Per-channel mean and standard deviation of uint8 images [N, C, H, W],
// scaled to [0, 1], exactly (from a histogram per channel).
void image_statistics(const at::Tensor& images, std::vector<double>& mean,
                      std::vector<double>& stddev) {
  const int64_t n = images.size(0), c = images.size(1), plane = images.size(2) * images.size(3);
  const at::Tensor contiguous = images.contiguous();
  const uint8_t* data = contiguous.data_ptr<uint8_t>();
  std::vector<std::array<int64_t, 256>> histogram(c);
  for (auto& h : histogram) h.fill(0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const uint8_t* p = data + (i * c + ch) * plane;
      auto& h = histogram[ch];
      for (int64_t k = 0; k < plane; ++k) ++h[p[k]];
    }
  }
  mean.assign(c, 0);
  stddev.assign(c, 1);
  const double count = static_cast<double>(n * plane);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (int v = 0; v < 256; ++v) sum += histogram[ch][v] * (v / 255.0);
    const double m = sum / count;
    double squares = 0;
    for (int v = 0; v < 256; ++v) squares += histogram[ch][v] * std::pow(v / 255.0 - m, 2);
    const double s = std::sqrt(squares / count);
    mean[ch] = m;
    stddev[ch] = s > 0 ? s : 1;  // a constant channel: centred only
  }
}

// Standardises float table features [N, F, 1, 1] of both splits with the
// training split's per-column statistics.
void standardise_table(Dataset& d) {
  const at::Tensor train = d.train_images.to(at::kDouble);
  const at::Tensor m = train.mean({0, 2, 3});
  const at::Tensor s = train.std({0, 2, 3}, /*unbiased=*/false);
  const int64_t f = d.train_images.size(1);
  d.mean.resize(f);
  d.stddev.resize(f);
  for (int64_t i = 0; i < f; ++i) {
    d.mean[i] = m[i].item<double>();
    const double v = s[i].item<double>();
    d.stddev[i] = v > 0 ? v : 1;
  }
  auto shift = at::tensor(d.mean, at::kDouble).view({1, f, 1, 1});
  auto scale = at::tensor(d.stddev, at::kDouble).view({1, f, 1, 1});
  d.train_images = ((d.train_images.to(at::kDouble) - shift) / scale).to(at::kFloat).contiguous();
  d.test_images = ((d.test_images.to(at::kDouble) - shift) / scale).to(at::kFloat).contiguous();
}

// Data without a test split: the tail of a fixed permutation becomes one.
void hold_out_test(Dataset& d) {
  const int64_t n = d.train_images.size(0);
  const int64_t tests = std::max<int64_t>(1, static_cast<int64_t>(n * kHeldOutTestShare));
  const std::vector<int64_t> perm = fixed_permutation(n, kHoldOutSeed);
  const std::vector<int64_t> train(perm.begin(), perm.end() - tests);
  const std::vector<int64_t> test(perm.end() - tests, perm.end());
  d.test_images = take_rows(d.train_images, test);
  d.test_labels = take_rows(d.train_labels, test);
  d.train_images = take_rows(d.train_images, train);
  d.train_labels = take_rows(d.train_labels, train);
  d.test_held_out = true;
}

}  // namespace

const std::vector<std::string>& dataset_format_names() {
  static const std::vector<std::string> kNames = {"auto",     "idx",    "cifar10",
                                                  "cifar100", "folder", "csv"};
  return kNames;
}

std::vector<int64_t> fixed_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  Rng rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

bool Dataset::is_images() const { return train_images.scalar_type() == at::kByte; }

PixelAffine pixel_affine(const std::vector<double>& mean, const std::vector<double>& stddev) {
  PixelAffine a;
  for (size_t i = 0; i < mean.size(); ++i) {
    a.scale.push_back(static_cast<float>(1.0 / (255.0 * stddev[i])));
    a.shift.push_back(static_cast<float>(mean[i] / stddev[i]));
  }
  return a;
}

at::Tensor standardise_bytes(const at::Tensor& bytes, const PixelAffine& affine) {
  const int64_t c = static_cast<int64_t>(affine.scale.size());
  const auto on = at::TensorOptions().device(bytes.device());
  return bytes.to(at::kFloat)
      .mul_(at::tensor(affine.scale, on).view({1, c, 1, 1}))
      .sub_(at::tensor(affine.shift, on).view({1, c, 1, 1}));
}

at::Tensor Dataset::normalise(const at::Tensor& x) const {
  if (x.scalar_type() != at::kByte) return x;
  return standardise_bytes(x, pixel_affine(mean, stddev));
}

std::string Dataset::describe() const {
  std::string shape = is_images() ? fmt::format("{}x{}x{}", channels(), height(), width())
                                  : fmt::format("{} features", channels());
  return fmt::format("{} {}: {} train, {} test{}, {}, {} classes", format, path,
                     train_images.size(0), test_images.size(0),
                     test_held_out ? " (held out of the training data)" : "", shape, classes);
}

std::string Dataset::summary_json() const {
  nlohmann::json j;
  j["format"] = format;
  j["path"] = path;
  j["train"] = train_images.size(0);
  j["test"] = test_images.size(0);
  j["test_held_out"] = test_held_out;
  j["shape"] = {channels(), height(), width()};
  j["classes"] = classes;
  if (!class_names.empty()) j["class_names"] = class_names;
  j["mean"] = mean;
  j["stddev"] = stddev;
  return j.dump();
}

StatusOr<std::string> detect_format(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return Status::invalid_argument(fmt::format("--dataset {}: no such file or folder", path));
  }
  if (looks_like_idx(path)) return std::string("idx");
  if (int cifar = looks_like_cifar(path)) return std::string(cifar == 10 ? "cifar10" : "cifar100");
  if (looks_like_csv(path)) return std::string("csv");
  if (looks_like_folder(path)) return std::string("folder");
  return Status::invalid_argument(fmt::format(
      "--dataset {}: not a dataset Sylva reads (MNIST-format IDX files, CIFAR-10/100 .bin files, "
      "a folder of class folders of PNG/JPEG images, a CSV file with a header); "
      "--dataset-format {} says which",
      path, formats_joined()));
}

StatusOr<Dataset> load_dataset(const DataOptions& given) {
  DataOptions options = given;
  if (options.path.empty()) options.path = kDefaultDatasetDir;
  const auto& names = dataset_format_names();
  if (std::find(names.begin(), names.end(), options.format) == names.end()) {
    return Status::invalid_argument(fmt::format("--dataset-format must be one of {}, got '{}'",
                                                formats_joined(), options.format));
  }
  if (options.label != "fine" && options.label != "coarse") {
    return Status::invalid_argument(
        fmt::format("--label must be fine or coarse, got '{}'", options.label));
  }
  if (options.image_size < 0 || options.image_size > 4096) {
    return Status::invalid_argument(
        fmt::format("--image-size must be in [0, 4096], got {}", options.image_size));
  }
  std::error_code ec;
  if (!fs::exists(options.path, ec)) {
    return Status::invalid_argument(
        fmt::format("--dataset {}: no such file or folder", options.path));
  }
  if (options.format == "auto") {
    SYLVA_ASSIGN(format, detect_format(options.path));
    options.format = format;
  }
  if (options.label == "coarse" && options.format != "cifar100") {
    return Status::invalid_argument(fmt::format("--label coarse is for CIFAR-100 data; {} is {}",
                                                options.path, options.format));
  }
  if (!options.target.empty() && options.format != "csv") {
    return Status::invalid_argument(
        fmt::format("--target names a CSV column; {} is {}", options.path, options.format));
  }
  if (options.image_size > 0 && options.format != "folder") {
    return Status::invalid_argument(
        fmt::format("--image-size resizes the images of an image folder; {} is {}", options.path,
                    options.format));
  }

  StatusOr<Dataset> loaded = Status::invalid_argument("unknown format");
  if (options.format == "idx") loaded = load_idx(options);
  if (options.format == "cifar10") loaded = load_cifar(options, false);
  if (options.format == "cifar100") loaded = load_cifar(options, true);
  if (options.format == "folder") loaded = load_folder(options);
  if (options.format == "csv") loaded = load_csv(options);
  if (!loaded.is_ok()) return loaded.status();
  Dataset d = std::move(loaded).value();
  d.format = options.format;
  d.path = options.path;
  if (d.classes < 2) {
    return Status::invalid_argument(
        fmt::format("{}: one class only; classification needs two or more", options.path));
  }
  if (!d.test_images.defined()) hold_out_test(d);
  if (d.train_images.size(0) == 0) {
    return Status::invalid_argument(fmt::format("{}: no training examples", options.path));
  }
  if (d.is_images()) {
    image_statistics(d.train_images, d.mean, d.stddev);
  } else {
    standardise_table(d);
  }
  return d;
}

StatusOr<DataOptions> read_data_options(const OptionReader& c) {
  DataOptions d;
  auto text = [&](const char* name, std::string& out) {
    if (c.given(name)) out = c.text(name);
  };
  text("dataset", d.path);
  text("dataset-format", d.format);
  text("label", d.label);
  text("target", d.target);
  if (c.given("image-size")) {
    SYLVA_ASSIGN(image_size, c.integer("image-size", 0));
    d.image_size = image_size;
  }
  return d;
}

StatusOr<Dataset> load_idx_dataset(const std::string& folder) {
  DataOptions options;
  options.path = folder;
  options.format = "idx";
  return load_dataset(options);
}

namespace data_internal {

StatusOr<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid_argument(fmt::format("{}: cannot open", path));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::invalid_argument(fmt::format("{}: read error", path));
  return bytes;
}

at::Tensor take_rows(const at::Tensor& t, const std::vector<int64_t>& index) {
  return t.index_select(0, at::tensor(index, at::kLong)).contiguous();
}

}  // namespace data_internal

namespace {

DataSplit cut(const Dataset& d, int64_t val, int64_t rest, int64_t test) {
  const int64_t m = d.test_images.size(0);
  const int64_t t = test > 0 ? std::min(test, m) : m;
  return {d.normalise(d.train_images.narrow(0, 0, val)),    d.train_labels.narrow(0, 0, val),
          d.normalise(d.train_images.narrow(0, val, rest)), d.train_labels.narrow(0, val, rest),
          d.normalise(d.test_images.narrow(0, 0, t)),       d.test_labels.narrow(0, 0, t)};
}

}  // namespace

StatusOr<DataSplit> split_for_training(const Dataset& d, int64_t val, int64_t train, int64_t test) {
  const int64_t n = d.train_images.size(0);
  if (val >= n) {
    return Status::invalid_argument(
        fmt::format("--val-samples {} leaves no training images of {}", val, n));
  }
  return cut(d, val, train > 0 ? std::min(train, n - val) : n - val, test);
}

StatusOr<DataSplit> split_for_calibration(const Dataset& d, int64_t val, int64_t calibration,
                                          int64_t test) {
  const int64_t n = d.train_images.size(0);
  if (val < 1 || val + calibration > n) {
    return Status::invalid_argument(
        fmt::format("--val-samples {} plus {} calibration images exceed the {} training images",
                    val, calibration, n));
  }
  return cut(d, val, calibration, test);
}

}  // namespace sylva::evaluators
