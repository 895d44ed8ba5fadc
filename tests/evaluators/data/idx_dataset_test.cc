// IDX reading: tiny hand-written files (plain and gzipped) read back exactly,
// each malformed-file case gives a Status naming the file, and the installed
// Fashion-MNIST loads with its known sizes and statistics.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "evaluators/data/dataset.h"

namespace sylva::evaluators {
namespace {

namespace fs = std::filesystem;

// Bytes of an IDX file: magic 00 00 08 <ndims>, big-endian dims, data.
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
                      uint8_t type = 0x08) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  }
  out.append(data.begin(), data.end());
  return out;
}

void write_file(const fs::path& path, const std::string& bytes) {
  if (path.extension() == ".gz") {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), bytes.size()), static_cast<int>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << bytes;
  }
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("sylva_idx_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A valid tiny dataset: 4 training images of 2x3, 2 test images.
  void write_tiny_dataset() {
    write_file(dir_ / "train-images-idx3-ubyte.gz", idx_bytes({4, 2, 3}, train_pixels_));
    write_file(dir_ / "train-labels-idx1-ubyte", idx_bytes({4}, {0, 2, 1, 2}));
    write_file(dir_ / "t10k-images-idx3-ubyte", idx_bytes({2, 2, 3}, test_pixels_));
    write_file(dir_ / "t10k-labels-idx1-ubyte.gz", idx_bytes({2}, {3, 0}));
  }

  fs::path dir_;
  std::vector<uint8_t> train_pixels_ = {0,   255, 10,  20,  30,  40,  50,  60,  70,  80,  90,  100,
                                        110, 120, 130, 140, 150, 160, 170, 180, 190, 200, 210, 255};
  std::vector<uint8_t> test_pixels_ = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
};

TEST_F(IdxTest, ReadsPlainAndGzippedFilesExactly) {
  std::vector<uint8_t> data(3 * 2 * 5);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 37 % 256);
  for (const char* name : {"a-idx3-ubyte", "b-idx3-ubyte.gz"}) {
    write_file(dir_ / name, idx_bytes({3, 2, 5}, data));
    auto read = read_idx((dir_ / name).string());
    ASSERT_TRUE(read.is_ok()) << read.status().message();
    EXPECT_EQ(read.value().shape, (std::vector<int64_t>{3, 2, 5})) << name;
    EXPECT_EQ(read.value().data, data) << name;
  }
}

TEST_F(IdxTest, LoadsAndStandardisesByTrainingStatistics) {
  write_tiny_dataset();
  auto loaded = load_idx_dataset(dir_.string());
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  const Dataset& d = loaded.value();

  double mean = 0;
  for (uint8_t v : train_pixels_) mean += v / 255.0;
  mean /= train_pixels_.size();
  double var = 0;
  for (uint8_t v : train_pixels_) var += std::pow(v / 255.0 - mean, 2);
  const double stddev = std::sqrt(var / train_pixels_.size());
  ASSERT_EQ(d.mean.size(), 1u);
  EXPECT_NEAR(d.mean[0], mean, 1e-12);
  EXPECT_NEAR(d.stddev[0], stddev, 1e-12);
  EXPECT_EQ(d.format, "idx");

  // Kept as the bytes they are; normalise() standardises.
  EXPECT_EQ(d.train_images.sizes(), (std::vector<int64_t>{4, 1, 2, 3}));
  EXPECT_EQ(d.test_images.sizes(), (std::vector<int64_t>{2, 1, 2, 3}));
  EXPECT_EQ(d.train_images.scalar_type(), torch::kByte);
  EXPECT_EQ(d.train_labels.scalar_type(), torch::kLong);
  EXPECT_EQ(d.train_images.flatten()[4].item<int64_t>(), train_pixels_[4]);
  auto train = d.normalise(d.train_images).flatten();
  for (size_t i = 0; i < train_pixels_.size(); ++i) {
    EXPECT_NEAR(train[i].item<double>(), (train_pixels_[i] / 255.0 - mean) / stddev, 1e-5);
  }
  auto test = d.normalise(d.test_images).flatten();
  for (size_t i = 0; i < test_pixels_.size(); ++i) {
    EXPECT_NEAR(test[i].item<double>(), (test_pixels_[i] / 255.0 - mean) / stddev, 1e-5);
  }
  EXPECT_TRUE(d.train_labels.equal(torch::tensor({0, 2, 1, 2}, torch::kLong)));
  EXPECT_TRUE(d.test_labels.equal(torch::tensor({3, 0}, torch::kLong)));
  EXPECT_EQ(d.classes, 4);  // max label 3 is in the test split
}

TEST_F(IdxTest, BadMagicNamesTheFile) {
  const fs::path path = dir_ / "x-idx3-ubyte";
  write_file(path, idx_bytes({1, 2, 2}, {1, 2, 3, 4}, /*type=*/0x0d));  // float IDX
  auto read = read_idx(path.string());
  ASSERT_FALSE(read.is_ok());
  EXPECT_NE(read.status().message().find(path.string()), std::string::npos);
  EXPECT_NE(read.status().message().find("bad magic number 00000d03"), std::string::npos)
      << read.status().message();
}

TEST_F(IdxTest, TruncatedPlainAndGzippedFilesNameTheFile) {
  // The header promises 3x2x2 = 12 bytes; 10 are there.
  const std::string bytes = idx_bytes({3, 2, 2}, std::vector<uint8_t>(10, 7));
  for (const char* name : {"t-idx3-ubyte", "t-idx3-ubyte.gz"}) {
    write_file(dir_ / name, bytes);
    auto read = read_idx((dir_ / name).string());
    ASSERT_FALSE(read.is_ok()) << name;
    EXPECT_EQ(read.status().message(),
              (dir_ / name).string() + ": truncated: expected 12 data bytes, got 10");
  }
  // A gzip stream cut short is also reported, never returned as data.
  write_file(dir_ / "big-idx3-ubyte.gz", idx_bytes({100, 28, 28}, std::vector<uint8_t>(78400, 3)));
  std::string gz;
  {
    std::ifstream in(dir_ / "big-idx3-ubyte.gz", std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file(dir_ / "cut-idx3-ubyte.bin", gz.substr(0, gz.size() / 2));
  auto cut = read_idx((dir_ / "cut-idx3-ubyte.bin").string());
  ASSERT_FALSE(cut.is_ok());
  EXPECT_EQ(cut.status().message().rfind((dir_ / "cut-idx3-ubyte.bin").string() + ": ", 0), 0u)
      << cut.status().message();
  // A header cut inside the dimensions.
  write_file(dir_ / "h-idx3-ubyte", bytes.substr(0, 9));
  auto header = read_idx((dir_ / "h-idx3-ubyte").string());
  ASSERT_FALSE(header.is_ok());
  EXPECT_NE(header.status().message().find("truncated header"), std::string::npos);
}

TEST_F(IdxTest, CountMismatchNamesBothFiles) {
  write_tiny_dataset();
  write_file(dir_ / "train-labels-idx1-ubyte", idx_bytes({3}, {0, 1, 2}));
  auto loaded = load_idx_dataset(dir_.string());
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().message(),
            "count mismatch: " + (dir_ / "train-images-idx3-ubyte.gz").string() +
                " has 4 images but " + (dir_ / "train-labels-idx1-ubyte").string() +
                " has 3 labels");
}

TEST_F(IdxTest, MissingFileIsNamed) {
  write_tiny_dataset();
  fs::remove(dir_ / "t10k-labels-idx1-ubyte.gz");
  auto loaded = load_idx_dataset(dir_.string());
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().message(),
            "missing file " + (dir_ / "t10k-labels-idx1-ubyte").string() + "[.gz]");
  auto read = read_idx((dir_ / "nothing-here").string());
  ASSERT_FALSE(read.is_ok());
  EXPECT_NE(read.status().message().find("nothing-here"), std::string::npos);
}

TEST_F(IdxTest, LabelsMustBeOneDimensional) {
  write_tiny_dataset();
  write_file(dir_ / "train-labels-idx1-ubyte", idx_bytes({4, 1}, {0, 1, 2, 3}));
  auto loaded = load_idx_dataset(dir_.string());
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("train-labels-idx1-ubyte: expected 1 dimensions"),
            std::string::npos)
      << loaded.status().message();
}

TEST(FashionMnistTest, DefaultFolderLoads) {
  if (!fs::exists(kDefaultDatasetDir)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  auto loaded = load_idx_dataset(kDefaultDatasetDir);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  const Dataset& d = loaded.value();
  EXPECT_EQ(d.train_images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(d.train_labels.sizes(), (std::vector<int64_t>{60000}));
  EXPECT_EQ(d.test_images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(d.test_labels.sizes(), (std::vector<int64_t>{10000}));
  EXPECT_EQ(d.classes, 10);
  // The published Fashion-MNIST statistics.
  EXPECT_NEAR(d.mean[0], 0.2860, 1e-4);
  EXPECT_NEAR(d.stddev[0], 0.3530, 1e-4);
  const at::Tensor x = d.normalise(d.train_images);
  EXPECT_NEAR(x.mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(x.std(/*unbiased=*/false).item<double>(), 1.0, 1e-4);
  // Balanced classes: 6000 training and 1000 test images each.
  EXPECT_TRUE(torch::bincount(d.train_labels).equal(torch::full({10}, 6000, torch::kLong)));
  EXPECT_TRUE(torch::bincount(d.test_labels).equal(torch::full({10}, 1000, torch::kLong)));
}

}  // namespace
}  // namespace sylva::evaluators
