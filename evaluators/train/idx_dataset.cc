#include "evaluators/train/idx_dataset.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <filesystem>
#include <memory>

#include "fmt/format.h"

namespace sylva::evaluators {
namespace {

// Largest payload accepted, so that a corrupt header cannot ask for terabytes.
constexpr int64_t kMaxBytes = int64_t{1} << 34;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to `n` bytes; returns how many were read, or -1 on a zlib error.
int64_t read_bytes(gzFile f, uint8_t* out, int64_t n) {
  int64_t done = 0;
  while (done < n) {
    unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - done, INT_MAX / 2));
    int got = gzread(f, out + done, chunk);
    if (got < 0) return -1;
    if (got == 0) break;
    done += got;
  }
  return done;
}

std::string gz_error(gzFile f) {
  int code = 0;
  const char* msg = gzerror(f, &code);
  return msg != nullptr && *msg != '\0' ? msg : "read error";
}

// The gzipped file if present, else the plain one.
StatusOr<std::string> find_file(const std::string& folder, const std::string& base) {
  std::filesystem::path dir(folder);
  std::error_code ec;
  for (const std::string& name : {base + ".gz", base}) {
    std::filesystem::path p = dir / name;
    if (std::filesystem::is_regular_file(p, ec)) return p.string();
  }
  return Status::invalid_argument(fmt::format("missing file {}[.gz]", (dir / base).string()));
}

int64_t count_of(const IdxArray& a) { return a.shape.empty() ? 0 : a.shape[0]; }

at::Tensor to_labels(const IdxArray& labels) {
  auto bytes = at::from_blob(const_cast<uint8_t*>(labels.data.data()),
                             {static_cast<int64_t>(labels.data.size())}, at::kByte);
  return bytes.to(at::kLong);
}

at::Tensor to_images(const IdxArray& images, double mean, double stddev) {
  auto bytes = at::from_blob(const_cast<uint8_t*>(images.data.data()),
                             {images.shape[0], 1, images.shape[1], images.shape[2]}, at::kByte);
  // (x / 255 - mean) / std in one affine map.
  const double scale = 1.0 / (255.0 * stddev);
  return bytes.to(at::kFloat).mul_(scale).sub_(mean / stddev);
}

}  // namespace

StatusOr<IdxArray> read_idx(const std::string& path) {
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) return Status::invalid_argument(fmt::format("{}: cannot open", path));
  gzbuffer(file.get(), 1 << 17);

  std::array<uint8_t, 4> magic{};
  int64_t got = read_bytes(file.get(), magic.data(), 4);
  if (got < 0) return Status::invalid_argument(fmt::format("{}: {}", path, gz_error(file.get())));
  if (got < 4)
    return Status::invalid_argument(fmt::format("{}: truncated header ({} bytes)", path, got));
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0) {
    return Status::invalid_argument(fmt::format(
        "{}: bad magic number {:02x}{:02x}{:02x}{:02x}, expected 000008nn (unsigned byte IDX)",
        path, magic[0], magic[1], magic[2], magic[3]));
  }

  IdxArray out;
  const int ndims = magic[3];
  std::vector<uint8_t> dims(4 * ndims);
  got = read_bytes(file.get(), dims.data(), static_cast<int64_t>(dims.size()));
  if (got < 0) return Status::invalid_argument(fmt::format("{}: {}", path, gz_error(file.get())));
  if (got < static_cast<int64_t>(dims.size())) {
    return Status::invalid_argument(
        fmt::format("{}: truncated header ({} of {} dimension bytes)", path, got, dims.size()));
  }
  int64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* d = &dims[4 * i];
    uint32_t n = (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3];
    out.shape.push_back(n);
    total *= n;
    if (total > kMaxBytes) {
      return Status::invalid_argument(
          fmt::format("{}: dimensions too large (over {} bytes)", path, kMaxBytes));
    }
  }

  out.data.resize(total);
  got = read_bytes(file.get(), out.data.data(), total);
  if (got < 0) return Status::invalid_argument(fmt::format("{}: {}", path, gz_error(file.get())));
  if (got < total) {
    return Status::invalid_argument(
        fmt::format("{}: truncated: expected {} data bytes, got {}", path, total, got));
  }
  return out;
}

StatusOr<Dataset> load_idx_dataset(const std::string& folder) {
  const std::array<const char*, 4> bases = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  std::array<std::string, 4> paths;
  std::array<IdxArray, 4> arrays;
  for (size_t i = 0; i < bases.size(); ++i) {
    auto path = find_file(folder, bases[i]);
    if (!path.is_ok()) return path.status();
    paths[i] = path.value();
    auto array = read_idx(paths[i]);
    if (!array.is_ok()) return array.status();
    arrays[i] = std::move(array).value();
    const size_t want_dims = i % 2 == 0 ? 3 : 1;
    if (arrays[i].shape.size() != want_dims) {
      return Status::invalid_argument(
          fmt::format("{}: expected {} dimensions ({}), got {}", paths[i], want_dims,
                      i % 2 == 0 ? "images" : "labels", arrays[i].shape.size()));
    }
  }
  for (size_t i = 0; i < 4; i += 2) {
    if (count_of(arrays[i]) != count_of(arrays[i + 1])) {
      return Status::invalid_argument(
          fmt::format("count mismatch: {} has {} images but {} has {} labels", paths[i],
                      count_of(arrays[i]), paths[i + 1], count_of(arrays[i + 1])));
    }
  }
  const IdxArray& train = arrays[0];
  const IdxArray& test = arrays[2];
  if (train.data.empty()) return Status::invalid_argument(fmt::format("{}: no images", paths[0]));
  if (test.shape[1] != train.shape[1] || test.shape[2] != train.shape[2]) {
    return Status::invalid_argument(fmt::format("{}: images are {}x{} but {} has {}x{}", paths[2],
                                                test.shape[1], test.shape[2], paths[0],
                                                train.shape[1], train.shape[2]));
  }

  // Mean and standard deviation of the training pixels, exactly, from a histogram.
  std::array<int64_t, 256> histogram{};
  for (uint8_t v : train.data) ++histogram[v];
  const double n = static_cast<double>(train.data.size());
  double sum = 0;
  for (int v = 0; v < 256; ++v) sum += histogram[v] * (v / 255.0);
  const double mean = sum / n;
  double squares = 0;
  for (int v = 0; v < 256; ++v) squares += histogram[v] * std::pow(v / 255.0 - mean, 2);
  double stddev = std::sqrt(squares / n);
  if (!(stddev > 0)) stddev = 1;  // constant images: centre only

  Dataset out;
  out.mean = mean;
  out.stddev = stddev;
  out.train_images = to_images(train, mean, stddev);
  out.test_images = to_images(test, mean, stddev);
  out.train_labels = to_labels(arrays[1]);
  out.test_labels = to_labels(arrays[3]);
  int max_label = 0;
  for (size_t i : {1, 3}) {
    for (uint8_t v : arrays[i].data) max_label = std::max<int>(max_label, v);
  }
  out.classes = max_label + 1;
  return out;
}

namespace {

DataSplit cut(const Dataset& d, int64_t val, int64_t rest, int64_t test) {
  const int64_t m = d.test_images.size(0);
  const int64_t t = test > 0 ? std::min(test, m) : m;
  return {d.train_images.narrow(0, 0, val),    d.train_labels.narrow(0, 0, val),
          d.train_images.narrow(0, val, rest), d.train_labels.narrow(0, val, rest),
          d.test_images.narrow(0, 0, t),       d.test_labels.narrow(0, 0, t)};
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
