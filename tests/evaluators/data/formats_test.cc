// The dataset formats read from files the tests write: CIFAR-10 and
// CIFAR-100 records, image folders of PNG and JPEG files, CSV tables. Each
// is read with its shapes, labels and a known pixel; malformed files are
// refused with the file and the position.
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "evaluators/data/dataset.h"

namespace sylva::evaluators {
namespace {

namespace fs = std::filesystem;

class DataFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("sylva_formats_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }

  // A pixel value that differs by record, channel, row and column.
  static uint8_t pixel(int record, int c, int y, int x) {
    return static_cast<uint8_t>((record * 37 + c * 11 + y * 5 + x * 3) % 256);
  }

  // CIFAR records: label bytes, then 3x32x32 pixels.
  static std::string cifar_records(const std::vector<std::vector<uint8_t>>& labels, int first) {
    std::string out;
    for (size_t r = 0; r < labels.size(); ++r) {
      for (uint8_t l : labels[r]) out += static_cast<char>(l);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 32; ++y)
          for (int x = 0; x < 32; ++x)
            out += static_cast<char>(pixel(first + static_cast<int>(r), c, y, x));
    }
    return out;
  }

  static void write_png(const fs::path& path, int width, int height, int channels,
                        const std::vector<uint8_t>& hwc) {
    fs::create_directories(path.parent_path());
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, hwc.data(), 0, nullptr))
        << image.message;
  }

  static void write_jpeg(const fs::path& path, int width, int height,
                         const std::vector<uint8_t>& rgb) {
    fs::create_directories(path.parent_path());
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    jpeg_compress_struct info;
    jpeg_error_mgr err;
    info.err = jpeg_std_error(&err);
    jpeg_create_compress(&info);
    jpeg_stdio_dest(&info, f);
    info.image_width = width;
    info.image_height = height;
    info.input_components = 3;
    info.in_color_space = JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, 100, TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
      JSAMPROW row = const_cast<uint8_t*>(rgb.data()) + info.next_scanline * width * 3;
      jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    std::fclose(f);
  }

  static std::string message_of(const DataOptions& o) {
    auto d = load_dataset(o);
    return d.is_ok() ? "(loaded)" : d.status().message();
  }

  DataOptions options(const fs::path& path) const {
    DataOptions o;
    o.path = path.string();
    return o;
  }

  fs::path dir_;
};

TEST_F(DataFormatTest, Cifar10FolderReadsShapesLabelsPixelsAndStatistics) {
  write(dir_ / "data_batch_1.bin", cifar_records({{3}, {0}, {9}}, 0));
  write(dir_ / "data_batch_2.bin", cifar_records({{1}, {3}}, 3));
  write(dir_ / "test_batch.bin", cifar_records({{7}, {2}}, 5));
  std::string names;
  for (const char* n :
       {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"})
    names += std::string(n) + "\n";
  write(dir_ / "batches.meta.txt", names);
  EXPECT_EQ(detect_format(dir_.string()).value(), "cifar10");

  auto loaded = load_dataset(options(dir_));
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  const Dataset& d = loaded.value();
  EXPECT_EQ(d.format, "cifar10");
  EXPECT_EQ(d.train_images.sizes(), (std::vector<int64_t>{5, 3, 32, 32}));
  EXPECT_EQ(d.test_images.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(d.train_images.scalar_type(), torch::kByte);
  EXPECT_TRUE(d.train_labels.equal(torch::tensor({3, 0, 9, 1, 3}, torch::kLong)));
  EXPECT_TRUE(d.test_labels.equal(torch::tensor({7, 2}, torch::kLong)));
  EXPECT_EQ(d.classes, 10);
  EXPECT_FALSE(d.test_held_out);
  ASSERT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names[9], "truck");
  // Record 4 (the second of data_batch_2), green, row 5, column 7.
  EXPECT_EQ(d.train_images[4][1][5][7].item<int64_t>(), pixel(4, 1, 5, 7));
  EXPECT_EQ(d.test_images[1][2][31][0].item<int64_t>(), pixel(6, 2, 31, 0));
  // Per-channel statistics of the training split, against a direct sum.
  ASSERT_EQ(d.mean.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    double sum = 0, squares = 0;
    for (int r = 0; r < 5; ++r)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) sum += pixel(r, c, y, x) / 255.0;
    const double mean = sum / (5 * 1024);
    for (int r = 0; r < 5; ++r)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) squares += std::pow(pixel(r, c, y, x) / 255.0 - mean, 2);
    EXPECT_NEAR(d.mean[c], mean, 1e-12);
    EXPECT_NEAR(d.stddev[c], std::sqrt(squares / (5 * 1024)), 1e-12);
  }
  // normalise() gives every channel mean 0 and deviation 1 on the training split.
  const at::Tensor x = d.normalise(d.train_images);
  EXPECT_NEAR(x.select(1, 2).mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(x.select(1, 2).std(false).item<double>(), 1.0, 1e-4);
  // Stored with the experiment.
  EXPECT_NE(d.summary_json().find("\"format\":\"cifar10\""), std::string::npos);
  EXPECT_NE(d.summary_json().find("\"mean\":["), std::string::npos);
}

TEST_F(DataFormatTest, Cifar100ReadsFineOrCoarseLabels) {
  write(dir_ / "train.bin", cifar_records({{4, 99}, {19, 0}, {0, 57}}, 0));
  write(dir_ / "test.bin", cifar_records({{7, 30}}, 3));
  EXPECT_EQ(detect_format(dir_.string()).value(), "cifar100");
  DataOptions o = options(dir_);
  auto fine = load_dataset(o);
  ASSERT_TRUE(fine.is_ok()) << fine.status().message();
  EXPECT_EQ(fine.value().classes, 100);
  EXPECT_TRUE(fine.value().train_labels.equal(torch::tensor({99, 0, 57}, torch::kLong)));
  EXPECT_EQ(fine.value().train_images[2][0][0][1].item<int64_t>(), pixel(2, 0, 0, 1));
  o.label = "coarse";
  auto coarse = load_dataset(o);
  ASSERT_TRUE(coarse.is_ok()) << coarse.status().message();
  EXPECT_EQ(coarse.value().classes, 20);
  EXPECT_TRUE(coarse.value().train_labels.equal(torch::tensor({4, 19, 0}, torch::kLong)));
  EXPECT_TRUE(coarse.value().test_labels.equal(torch::tensor({7}, torch::kLong)));
  o.label = "middle";
  EXPECT_EQ(message_of(o), "--label must be fine or coarse, got 'middle'");
}

TEST_F(DataFormatTest, BadCifarFilesNameTheFileAndTheOffset) {
  // Two records and 100 bytes of a third.
  std::string bytes = cifar_records({{1}, {2}, {3}}, 0);
  write(dir_ / "data_batch_1.bin", bytes.substr(0, 2 * 3073 + 100));
  const std::string file = (dir_ / "data_batch_1.bin").string();
  EXPECT_EQ(message_of(options(dir_)),
            file +
                ": 6246 bytes is not a whole number of 3073-byte CIFAR-10 records: the record "
                "at byte offset 6146 is cut short");
  // A label that is not a CIFAR-10 class, in the second record.
  write(dir_ / "data_batch_1.bin", cifar_records({{1}, {12}}, 0));
  EXPECT_EQ(message_of(options(dir_)),
            file + ": record 1 at byte offset 3073: the label 12 is not below 10");
  // CIFAR-100's fine label out of range.
  fs::remove(dir_ / "data_batch_1.bin");
  write(dir_ / "train.bin", cifar_records({{3, 100}}, 0));
  EXPECT_EQ(message_of(options(dir_)), (dir_ / "train.bin").string() +
                                           ": record 0 at byte offset 1: the fine label 100 is "
                                           "not below 100");
}

TEST_F(DataFormatTest, OneCifarFileHoldsOutATestSplit) {
  std::vector<std::vector<uint8_t>> labels;
  for (int i = 0; i < 20; ++i) labels.push_back({static_cast<uint8_t>(i % 10)});
  write(dir_ / "mine.bin", cifar_records(labels, 0));
  auto d = load_dataset(options(dir_ / "mine.bin"));
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_EQ(d.value().format, "cifar10");
  EXPECT_TRUE(d.value().test_held_out);
  EXPECT_EQ(d.value().train_images.size(0), 18);
  EXPECT_EQ(d.value().test_images.size(0), 2);
  // Every record is in exactly one split.
  const at::Tensor all = torch::cat({d.value().train_labels, d.value().test_labels});
  EXPECT_EQ(std::get<0>(at::_unique(all)).size(0), 10);
  EXPECT_EQ(all.sum().item<int64_t>(), 2 * 45);
}

TEST_F(DataFormatTest, ImageFolderDecodesPngAndJpegIntoClasses) {
  // 6 wide, 4 high; RGB PNG with a known pixel, gray PNG (replicated to
  // RGB since others are in colour), and a JPEG of one flat colour.
  std::vector<uint8_t> rgb(4 * 6 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7 % 256);
  write_png(dir_ / "train" / "cat" / "a.png", 6, 4, 3, rgb);
  write_png(dir_ / "train" / "cat" / "b.png", 6, 4, 1, std::vector<uint8_t>(24, 200));
  write_jpeg(dir_ / "train" / "dog" / "c.jpg", 6, 4, std::vector<uint8_t>(72, 90));
  write_png(dir_ / "test" / "dog" / "d.png", 6, 4, 3, rgb);
  write(dir_ / "train" / "dog" / "notes.txt", "not an image");
  EXPECT_EQ(detect_format(dir_.string()).value(), "folder");

  auto loaded = load_dataset(options(dir_));
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  const Dataset& d = loaded.value();
  EXPECT_EQ(d.train_images.sizes(), (std::vector<int64_t>{3, 3, 4, 6}));
  EXPECT_EQ(d.test_images.sizes(), (std::vector<int64_t>{1, 3, 4, 6}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_TRUE(d.train_labels.equal(torch::tensor({0, 0, 1}, torch::kLong)));
  EXPECT_TRUE(d.test_labels.equal(torch::tensor({1}, torch::kLong)));
  // a.png at row 2, column 5, blue: byte (2 * 6 + 5) * 3 + 2 of the HWC data.
  EXPECT_EQ(d.train_images[0][2][2][5].item<int64_t>(), rgb[(2 * 6 + 5) * 3 + 2]);
  EXPECT_EQ(d.train_images[1][1][3][0].item<int64_t>(), 200);     // gray, every channel
  EXPECT_NEAR(d.train_images[2][0][1][1].item<double>(), 90, 2);  // JPEG is lossy
  EXPECT_TRUE(d.test_images[0].equal(d.train_images[0]));

  // Resized to 8 x 8 on request: a flat image stays flat.
  DataOptions o = options(dir_);
  o.image_size = 8;
  auto resized = load_dataset(o);
  ASSERT_TRUE(resized.is_ok()) << resized.status().message();
  EXPECT_EQ(resized.value().train_images.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(resized.value().train_images[1].min().item<int64_t>(), 200);
  EXPECT_EQ(resized.value().train_images[1].max().item<int64_t>(), 200);
}

TEST_F(DataFormatTest, ImageFolderMistakesNameTheFile) {
  write_png(dir_ / "cat" / "a.png", 6, 4, 1, std::vector<uint8_t>(24, 1));
  write_png(dir_ / "dog" / "b.png", 5, 4, 1, std::vector<uint8_t>(20, 1));
  EXPECT_EQ(message_of(options(dir_)), (dir_ / "dog" / "b.png").string() + ": 5x4 pixels but " +
                                           (dir_ / "cat" / "a.png").string() +
                                           " is 6x4; --image-size N resizes every image to N x N");
  fs::remove(dir_ / "dog" / "b.png");
  write(dir_ / "dog" / "b.png", std::string("\x89PNG\r\n\x1a\n", 8) + "garbage");
  const std::string corrupt = message_of(options(dir_));
  EXPECT_EQ(corrupt.rfind((dir_ / "dog" / "b.png").string() + ": ", 0), 0u) << corrupt;
  fs::remove(dir_ / "dog" / "b.png");
  write(dir_ / "dog" / "b.jpg", "not a jpeg at all");
  const std::string bad_jpeg = message_of(options(dir_));
  EXPECT_EQ(bad_jpeg.rfind((dir_ / "dog" / "b.jpg").string() + ": not a readable PNG or JPEG", 0),
            0u)
      << bad_jpeg;
  // Only one class left: classification needs two.
  fs::remove_all(dir_ / "dog");
  EXPECT_EQ(message_of(options(dir_)),
            dir_.string() + ": one class only; classification needs two or more");
}

TEST_F(DataFormatTest, CsvTableReadsFeaturesAndTheTargetColumn) {
  write(dir_ / "t.csv",
        "x,label,y\n"
        "1.5,yes,6\n"
        "\n"
        "-0.5,no,2\r\n"
        "\"2.5\",yes,8\n"
        "0.5,maybe,4\n");
  DataOptions o = options(dir_ / "t.csv");
  o.target = "label";
  EXPECT_EQ(detect_format(o.path).value(), "csv");
  auto loaded = load_dataset(o);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  const Dataset& d = loaded.value();
  EXPECT_EQ(d.format, "csv");
  EXPECT_FALSE(d.is_images());
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"maybe", "no", "yes"}));
  EXPECT_EQ(d.classes, 3);
  EXPECT_TRUE(d.test_held_out);  // one file: a tenth (here one row) held out
  EXPECT_EQ(d.train_images.size(0) + d.test_images.size(0), 4);
  EXPECT_EQ(d.train_images.sizes().slice(1), (std::vector<int64_t>{2, 1, 1}));
  // Standardised by the training rows' statistics: mean 0, deviation 1.
  EXPECT_NEAR(d.train_images.select(1, 1).mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(d.train_images.select(1, 1).std(false).item<double>(), 1.0, 1e-4);
  // y = 2 x + 3 on every row: the standardised columns are equal.
  EXPECT_TRUE(
      torch::allclose(d.train_images.select(1, 0), d.train_images.select(1, 1), 1e-4, 1e-4));
  ASSERT_EQ(d.mean.size(), 2u);
  EXPECT_NEAR(d.mean[1], 2 * d.mean[0] + 3, 1e-9);
}

TEST_F(DataFormatTest, CsvMistakesNameTheFileAndLine) {
  const std::string file = (dir_ / "t.csv").string();
  write(dir_ / "t.csv", "a,b,c\n1,2,0\n1,x2,1\n");
  EXPECT_EQ(message_of(options(dir_ / "t.csv")), file + ":3: column 'b' is not a number: 'x2'");
  write(dir_ / "t.csv", "a,b,c\n1,2,0\n1,2,1\n3,4\n");
  EXPECT_EQ(message_of(options(dir_ / "t.csv")), file + ":4: 2 fields, but the header has 3");
  write(dir_ / "t.csv", "a,b,c\n1,2,0\n\"1,2,1\n");
  EXPECT_EQ(message_of(options(dir_ / "t.csv")), file + ":3: a quoted field is not closed");
  write(dir_ / "t.csv", "a,b,c\n1,2,0\n3,4,1\n");
  DataOptions o = options(dir_ / "t.csv");
  o.target = "label";
  EXPECT_EQ(message_of(o), file + ":1: --target 'label' is not a column (the header has a, b, c)");
  // train.csv and test.csv in a folder; a test label the training rows lack.
  write(dir_ / "f" / "train.csv", "a,c\n1,0\n2,1\n");
  write(dir_ / "f" / "test.csv", "a,c\n1,5\n");
  EXPECT_EQ(message_of(options(dir_ / "f")), (dir_ / "f" / "test.csv").string() +
                                                 ": label '5' is not among the labels of " +
                                                 (dir_ / "f" / "train.csv").string());
  write(dir_ / "f" / "test.csv", "a,c\n1,1\n");
  auto d = load_dataset(options(dir_ / "f"));
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_FALSE(d.value().test_held_out);
  EXPECT_EQ(d.value().test_images.size(0), 1);
}

TEST_F(DataFormatTest, UnknownDataAndWrongOptionsAreOneLine) {
  EXPECT_EQ(message_of(options(dir_ / "nope")),
            "--dataset " + (dir_ / "nope").string() + ": no such file or folder");
  write(dir_ / "readme.txt", "hello");
  const std::string unknown = message_of(options(dir_));
  EXPECT_EQ(unknown.rfind("--dataset " + dir_.string() + ": not a dataset Sylva reads", 0), 0u)
      << unknown;
  DataOptions o = options(dir_);
  o.format = "parquet";
  EXPECT_EQ(message_of(o),
            "--dataset-format must be one of auto | idx | cifar10 | cifar100 | folder | csv, got "
            "'parquet'");
  write(dir_ / "train.bin", cifar_records({{1, 2}}, 0));
  o = options(dir_);
  o.target = "y";
  EXPECT_EQ(message_of(o), "--target names a CSV column; " + dir_.string() + " is cifar100");
  // --dataset-format wins over detection.
  o = options(dir_);
  o.format = "csv";
  EXPECT_EQ(message_of(o), dir_.string() + ": no train.csv");
}

}  // namespace
}  // namespace sylva::evaluators
