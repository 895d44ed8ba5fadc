// CIFAR-10 and CIFAR-100 binary versions: fixed-size records of label
// byte(s) and 3x32x32 pixels (red, green, blue planes, row-major).
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "evaluators/data/dataset.h"
#include "evaluators/data/formats.h"

namespace sylva::evaluators::data_internal {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kPixels = 3 * 32 * 32;

struct Layout {
  int labels;      // label bytes per record: 1 (CIFAR-10) or 2 (coarse, fine)
  int64_t record;  // bytes per record
  const char* name;
};
constexpr Layout kCifar10{1, 1 + kPixels, "CIFAR-10"};
constexpr Layout kCifar100{2, 2 + kPixels, "CIFAR-100"};

int64_t size_of(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  return ec ? -1 : static_cast<int64_t>(size);
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The training and test files of a folder, in order.
struct Files {
  std::vector<fs::path> train, test;
};

Files files_of(const fs::path& dir, bool hundred) {
  Files f;
  if (hundred) {
    if (is_file(dir / "train.bin")) f.train.push_back(dir / "train.bin");
    if (is_file(dir / "test.bin")) f.test.push_back(dir / "test.bin");
    return f;
  }
  for (int i = 1; i <= 99; ++i) {
    const fs::path p = dir / fmt::format("data_batch_{}.bin", i);
    if (!is_file(p)) break;
    f.train.push_back(p);
  }
  if (is_file(dir / "test_batch.bin")) f.test.push_back(dir / "test_batch.bin");
  return f;
}

// Names, one per line, where the archive has them.
std::vector<std::string> class_names(const fs::path& dir, bool hundred, bool coarse,
                                     int64_t classes) {
  const fs::path file =
      dir /
      (hundred ? (coarse ? "coarse_label_names.txt" : "fine_label_names.txt") : "batches.meta.txt");
  std::ifstream in(file);
  std::vector<std::string> names;
  std::string line;
  while (in && std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (static_cast<int64_t>(names.size()) != classes) names.clear();
  return names;
}

// Appends the records of `path` to `images` and `labels`.
Status read_records(const fs::path& path, const Layout& layout, int label_byte, int64_t classes,
                    std::vector<uint8_t>& images, std::vector<int64_t>& labels) {
  auto bytes_or = read_file(path.string());
  if (!bytes_or.is_ok()) return bytes_or.status();
  const std::string& bytes = bytes_or.value();
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size == 0) return Status::invalid_argument(fmt::format("{}: empty", path.string()));
  if (size % layout.record != 0) {
    const int64_t whole = size / layout.record;
    return Status::invalid_argument(fmt::format(
        "{}: {} bytes is not a whole number of {}-byte {} records: the record at byte offset {} "
        "is cut short",
        path.string(), size, layout.record, layout.name, whole * layout.record));
  }
  const int64_t n = size / layout.record;
  const size_t first = images.size();
  images.resize(first + n * kPixels);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = data + i * layout.record;
    for (int b = 0; b < layout.labels; ++b) {
      const int64_t limit = layout.labels == 1 ? 10 : (b == 0 ? 20 : 100);
      if (r[b] >= limit) {
        return Status::invalid_argument(fmt::format(
            "{}: record {} at byte offset {}: {} label {} is not below {}", path.string(), i,
            i * layout.record + b,
            layout.labels == 1 ? "the" : (b == 0 ? "the coarse" : "the fine"), r[b], limit));
      }
    }
    labels.push_back(r[label_byte]);
    std::memcpy(images.data() + first + i * kPixels, r + layout.labels, kPixels);
  }
  (void)classes;
  return Status::ok();
}

StatusOr<std::pair<at::Tensor, at::Tensor>> read_split(const std::vector<fs::path>& files,
                                                       const Layout& layout, int label_byte,
                                                       int64_t classes) {
  std::vector<uint8_t> images;
  std::vector<int64_t> labels;
  for (const fs::path& f : files) {
    SYLVA_RETURN_IF_ERROR(read_records(f, layout, label_byte, classes, images, labels));
  }
  const int64_t n = static_cast<int64_t>(labels.size());
  at::Tensor x = at::empty({n, 3, 32, 32}, at::kByte);
  std::memcpy(x.data_ptr<uint8_t>(), images.data(), images.size());
  return std::make_pair(x, at::tensor(labels, at::kLong));
}

}  // namespace

int looks_like_cifar(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    if (is_file(p / "data_batch_1.bin") || is_file(p / "test_batch.bin")) return 10;
    if (is_file(p / "train.bin") || is_file(p / "test.bin")) return 100;
    return 0;
  }
  if (p.extension() != ".bin") return 0;
  const std::string name = p.filename().string();
  if (name.rfind("data_batch", 0) == 0 || name == "test_batch.bin") return 10;
  if (name == "train.bin" || name == "test.bin") return 100;
  const int64_t size = size_of(p);
  if (size > 0 && size % kCifar100.record == 0) return 100;
  if (size > 0 && size % kCifar10.record == 0) return 10;
  return 0;
}

StatusOr<Dataset> load_cifar(const DataOptions& options, bool hundred) {
  const Layout& layout = hundred ? kCifar100 : kCifar10;
  const bool coarse = hundred && options.label == "coarse";
  const int label_byte = hundred ? (coarse ? 0 : 1) : 0;
  const int64_t classes = hundred ? (coarse ? 20 : 100) : 10;
  const fs::path p(options.path);
  std::error_code ec;
  Files files;
  fs::path dir = p;
  if (fs::is_directory(p, ec)) {
    files = files_of(p, hundred);
    if (files.train.empty()) {
      return Status::invalid_argument(fmt::format("{}: no {} training file ({})", options.path,
                                                  layout.name,
                                                  hundred ? "train.bin" : "data_batch_1.bin"));
    }
  } else {
    files.train.push_back(p);  // one file: its tail is held out for testing
    dir = p.parent_path();
  }
  Dataset out;
  SYLVA_ASSIGN(train, read_split(files.train, layout, label_byte, classes));
  out.train_images = train.first;
  out.train_labels = train.second;
  if (!files.test.empty()) {
    SYLVA_ASSIGN(test, read_split(files.test, layout, label_byte, classes));
    out.test_images = test.first;
    out.test_labels = test.second;
  }
  out.classes = classes;
  out.class_names = class_names(dir, hundred, coarse, classes);
  return out;
}

}  // namespace sylva::evaluators::data_internal
