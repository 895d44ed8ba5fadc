// Image folders: ROOT/CLASS/*.{png,jpg,jpeg}, or ROOT/train/CLASS/* with
// ROOT/test/CLASS/* (or ROOT/val/CLASS/*). PNG through libpng's simplified
// API, JPEG through libjpeg-turbo; decoded in parallel (TBB), in file-name
// order per class, once.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <jpeglib.h>
#include <png.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include "evaluators/data/dataset.h"
#include "evaluators/data/formats.h"

namespace sylva::evaluators::data_internal {
namespace {

namespace fs = std::filesystem;

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool folders) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (folders ? e.is_directory(ec) : (e.is_regular_file(ec) && is_image_name(e.path()))) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Decoded {
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // interleaved HWC
};

// Whether the file is a PNG (by its signature; otherwise JPEG is tried).
bool is_png(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  unsigned char sig[8] = {};
  const size_t got = std::fread(sig, 1, 8, f);
  std::fclose(f);
  return got == 8 && png_sig_cmp(sig, 0, 8) == 0;
}

// PNG: gray (with or without alpha) stays one channel, anything else is
// read as RGB; alpha is dropped. `header_only` reads the size alone.
StatusOr<Decoded> read_png(const std::string& path, int want_channels, bool header_only) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    return Status::invalid_argument(fmt::format("{}: not a readable PNG: {}", path, image.message));
  }
  Decoded d;
  d.width = image.width;
  d.height = image.height;
  const bool gray = (image.format & PNG_FORMAT_FLAG_COLOR) == 0;
  d.channels = want_channels > 0 ? want_channels : (gray ? 1 : 3);
  if (header_only) {
    png_image_free(&image);
    return d;
  }
  image.format = d.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  d.pixels.resize(PNG_IMAGE_SIZE(image));
  // A background for dropping alpha: black.
  png_color background{0, 0, 0};
  if (!png_image_finish_read(&image, &background, d.pixels.data(), 0, nullptr)) {
    std::string why = image.message;
    png_image_free(&image);
    return Status::invalid_argument(fmt::format("{}: corrupt PNG: {}", path, why));
  }
  return d;
}

struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr info) {
  auto* e = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, e->message);
  std::longjmp(e->jump, 1);
}

// JPEG: gray stays one channel, anything else is RGB.
StatusOr<Decoded> read_jpeg(const std::string& path, int want_channels, bool header_only) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::invalid_argument(fmt::format("{}: cannot open", path));
  jpeg_decompress_struct info;
  JpegError error;
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = on_jpeg_error;
  error.message[0] = '\0';
  Decoded d;
  // Everything that outlives a longjmp is declared above it.
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&info);
    std::fclose(f);
    return Status::invalid_argument(
        fmt::format("{}: not a readable PNG or JPEG image: {}", path, error.message));
  }
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, f);
  jpeg_read_header(&info, TRUE);
  d.width = info.image_width;
  d.height = info.image_height;
  d.channels = want_channels > 0 ? want_channels : (info.num_components == 1 ? 1 : 3);
  if (!header_only) {
    info.out_color_space = d.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    const size_t row = static_cast<size_t>(info.output_width) * info.output_components;
    d.pixels.resize(row * info.output_height);
    while (info.output_scanline < info.output_height) {
      JSAMPROW line = d.pixels.data() + row * info.output_scanline;
      jpeg_read_scanlines(&info, &line, 1);
    }
    jpeg_finish_decompress(&info);
  }
  jpeg_destroy_decompress(&info);
  std::fclose(f);
  return d;
}

StatusOr<Decoded> read_image(const std::string& path, int want_channels, bool header_only) {
  return is_png(path) ? read_png(path, want_channels, header_only)
                      : read_jpeg(path, want_channels, header_only);
}

// HWC pixels into the CHW slot `out`, resized (bilinear) to size x size
// when the image is not that size already.
void place(const Decoded& d, int64_t height, int64_t width, uint8_t* out) {
  const int64_t c = d.channels;
  if (d.height == height && d.width == width) {
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x)
        for (int64_t ch = 0; ch < c; ++ch)
          out[(ch * height + y) * width + x] = d.pixels[(y * d.width + x) * c + ch];
    return;
  }
  at::Tensor src =
      at::from_blob(const_cast<uint8_t*>(d.pixels.data()), {d.height, d.width, c}, at::kByte)
          .permute({2, 0, 1})
          .unsqueeze(0)
          .to(at::kFloat);
  at::Tensor resized = at::upsample_bilinear2d(src, {height, width}, /*align_corners=*/false);
  at::Tensor bytes = resized.round().clamp(0, 255).to(at::kByte).contiguous();
  std::memcpy(out, bytes.data_ptr<uint8_t>(), c * height * width);
}

struct Item {
  fs::path path;
  int64_t label;
};

// The items of one split: class folders in name order, files in name order.
std::vector<Item> items_of(const fs::path& root, const std::vector<std::string>& classes) {
  std::vector<Item> items;
  for (size_t k = 0; k < classes.size(); ++k) {
    const fs::path dir = root / classes[k];
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const fs::path& f : sorted_entries(dir, false))
      items.push_back({f, static_cast<int64_t>(k)});
  }
  return items;
}

struct Geometry {
  int64_t channels = 0, height = 0, width = 0;
};

// Decodes every item into uint8 [N, C, H, W].
StatusOr<std::pair<at::Tensor, at::Tensor>> decode_all(const std::vector<Item>& items,
                                                       const Geometry& g) {
  const int64_t n = static_cast<int64_t>(items.size());
  at::Tensor x = at::empty({n, g.channels, g.height, g.width}, at::kByte);
  std::vector<int64_t> labels(n);
  uint8_t* base = x.data_ptr<uint8_t>();
  const int64_t stride = g.channels * g.height * g.width;
  std::mutex mu;
  Status failure = Status::ok();
  int64_t failed_at = n;
  tbb::parallel_for(int64_t{0}, n, [&](int64_t i) {
    auto d = read_image(items[i].path.string(), static_cast<int>(g.channels), false);
    if (!d.is_ok()) {
      std::lock_guard<std::mutex> lock(mu);
      if (i < failed_at) {  // the first in order, whatever the thread timing
        failed_at = i;
        failure = d.status();
      }
      return;
    }
    place(d.value(), g.height, g.width, base + i * stride);
    labels[i] = items[i].label;
  });
  if (!failure.is_ok()) return failure;
  return std::make_pair(x, at::tensor(labels, at::kLong));
}

// The split folders: {train, test} under ROOT, or ROOT alone.
struct Splits {
  fs::path train;
  fs::path test;  // empty: none
};

Splits splits_of(const fs::path& root) {
  std::error_code ec;
  if (fs::is_directory(root / "train", ec)) {
    for (const char* t : {"test", "val"}) {
      if (fs::is_directory(root / t, ec)) return {root / "train", root / t};
    }
    return {root / "train", {}};
  }
  return {root, {}};
}

}  // namespace

bool looks_like_folder(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return false;
  const Splits s = splits_of(path);
  for (const fs::path& c : sorted_entries(s.train, true)) {
    if (!sorted_entries(c, false).empty()) return true;
  }
  return false;
}

StatusOr<Dataset> load_folder(const DataOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(options.path, ec)) {
    return Status::invalid_argument(fmt::format("{}: not a folder of class folders", options.path));
  }
  const Splits s = splits_of(options.path);
  std::vector<std::string> classes;
  for (const fs::path& c : sorted_entries(s.train, true)) {
    if (!sorted_entries(c, false).empty()) classes.push_back(c.filename().string());
  }
  if (classes.empty()) {
    return Status::invalid_argument(
        fmt::format("{}: no class folders with .png/.jpg/.jpeg images (expected {}/CLASS/IMAGE)",
                    s.train.string(), s.train.string()));
  }
  if (!s.test.empty()) {
    for (const fs::path& c : sorted_entries(s.test, true)) {
      const std::string name = c.filename().string();
      if (!sorted_entries(c, false).empty() &&
          std::find(classes.begin(), classes.end(), name) == classes.end()) {
        return Status::invalid_argument(
            fmt::format("{}: class '{}' has no folder in {}", c.string(), name, s.train.string()));
      }
    }
  }
  const std::vector<Item> train = items_of(s.train, classes);
  const std::vector<Item> test = s.test.empty() ? std::vector<Item>{} : items_of(s.test, classes);

  // Channels: 3 when any image is in colour; size: --image-size, or the
  // size every image has.
  std::vector<const std::vector<Item>*> all = {&train, &test};
  Geometry g;
  const Item* first = nullptr;
  for (const auto* list : all) {
    for (const Item& item : *list) {
      auto h = read_image(item.path.string(), 0, true);
      if (!h.is_ok()) return h.status();
      const Decoded& d = h.value();
      if (d.width < 1 || d.height < 1)
        return Status::invalid_argument(fmt::format("{}: empty image", item.path.string()));
      g.channels = std::max(g.channels, d.channels);
      if (first == nullptr) {
        first = &item;
        g.height = d.height;
        g.width = d.width;
      } else if (options.image_size == 0 && (d.height != g.height || d.width != g.width)) {
        return Status::invalid_argument(fmt::format(
            "{}: {}x{} pixels but {} is {}x{}; --image-size N resizes every image to N x N",
            item.path.string(), d.width, d.height, first->path.string(), g.width, g.height));
      }
    }
  }
  if (options.image_size > 0) g.height = g.width = options.image_size;

  Dataset out;
  SYLVA_ASSIGN(train_xy, decode_all(train, g));
  out.train_images = train_xy.first;
  out.train_labels = train_xy.second;
  if (!test.empty()) {
    SYLVA_ASSIGN(test_xy, decode_all(test, g));
    out.test_images = test_xy.first;
    out.test_labels = test_xy.second;
  }
  out.classes = static_cast<int64_t>(classes.size());
  out.class_names = classes;
  return out;
}

}  // namespace sylva::evaluators::data_internal
