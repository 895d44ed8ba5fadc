// MNIST-format IDX files (gzipped or plain; zlib reads plain files
// transparently).
#include <ATen/ATen.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <filesystem>
#include <memory>

#include "evaluators/data/dataset.h"
#include "evaluators/data/formats.h"
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

// uint8 [N, 1, H, W], a copy.
at::Tensor to_images(const IdxArray& images) {
  return at::from_blob(const_cast<uint8_t*>(images.data.data()),
                       {images.shape[0], 1, images.shape[1], images.shape[2]}, at::kByte)
      .clone();
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

namespace data_internal {

namespace {

const std::array<const char*, 4> kIdxFiles = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

}  // namespace

bool looks_like_idx(const std::string& path) { return find_file(path, kIdxFiles[0]).is_ok(); }

StatusOr<Dataset> load_idx(const DataOptions& options) {
  const std::string& folder = options.path;
  std::array<std::string, 4> paths;
  std::array<IdxArray, 4> arrays;
  for (size_t i = 0; i < kIdxFiles.size(); ++i) {
    auto path = find_file(folder, kIdxFiles[i]);
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
  Dataset out;
  out.train_images = to_images(train);
  out.test_images = to_images(test);
  out.train_labels = to_labels(arrays[1]);
  out.test_labels = to_labels(arrays[3]);
  int max_label = 0;
  for (size_t i : {1, 3}) {
    for (uint8_t v : arrays[i].data) max_label = std::max<int>(max_label, v);
  }
  out.classes = max_label + 1;
  return out;
}

}  // namespace data_internal

}  // namespace sylva::evaluators
