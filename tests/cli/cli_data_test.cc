// Data other than Fashion-MNIST from the terminal: a CSV table with a
// learnable rule searched with the built-in `mlp` space reaches high
// accuracy; a CIFAR-10-format folder trains with augmentation and its
// statistics are stored and shown; a device or option the data cannot take
// is one line before the first trial.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "tests/cli/cli_fixture.h"

namespace {

using sylva::testing::CliTest;
using sylva::testing::expect_one_line_error;
using sylva::testing::Output;

// 1,200 rows of four features in [-1, 1] (seeded); the label is which side
// of a plane the first two fall on, the other two are noise.
std::string plane_table() {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> u(-1, 1);
  std::string csv = "f0,f1,noise0,noise1,side\n";
  for (int i = 0; i < 1200; ++i) {
    const double f0 = u(rng), f1 = u(rng), n0 = u(rng), n1 = u(rng);
    csv += std::to_string(f0) + "," + std::to_string(f1) + "," + std::to_string(n0) + "," +
           std::to_string(n1) + "," + (f0 + 0.5 * f1 > 0 ? "above" : "below") + "\n";
  }
  return csv;
}

// CIFAR-10 records whose class sets the red level of a noisy image.
std::string cifar_like(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out;
  for (int r = 0; r < count; ++r) {
    const int label = r % 10;
    out += static_cast<char>(label);
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 1024; ++k) {
        const int base = c == 0 ? 20 + label * 22 : 128;
        out += static_cast<char>(std::clamp<int>(base + static_cast<int>(rng() % 41) - 20, 0, 255));
      }
  }
  return out;
}

class CliDataTest : public CliTest {
 protected:
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
};

TEST_F(CliDataTest, ATabularSearchWithTheMlpSpaceLearnsTheRule) {
  const std::string csv = write("plane.csv", plane_table());
  Output o = run("search --name tab --db " + db_ + " --space mlp --evaluator train --dataset " +
                 csv + " --target side --trials 2 --epochs 6 --val-samples 200 --batch-size 32" +
                 " --lr 0.05 --seed 1");
  ASSERT_EQ(o.code, 0) << o.err;
  double best = 0;
  for (const auto& t : trials("tab")) {
    EXPECT_EQ(t.at("state"), "COMPLETE") << t.at("message");
    best = std::max(best, std::atof(t.at("val_acc").c_str()));
  }
  // A line through the first two features: chance is about 50%.
  EXPECT_GE(best, 93.0);
  Output status = run("status --name tab --db " + db_);
  ASSERT_EQ(status.code, 0) << status.err;
  // 1,080 training rows (a tenth held out), 4 features, 2 classes.
  EXPECT_NE(status.out.find("data: csv " + csv +
                            ": 1080 train, 120 test (held out), 4 features, "
                            "2 classes; mean "),
            std::string::npos)
      << status.out;
}

TEST_F(CliDataTest, ACifarFolderTrainsWithAugmentationAndItsStatisticsAreStored) {
  write("c10/data_batch_1.bin", cifar_like(300, 1));
  write("c10/test_batch.bin", cifar_like(100, 2));
  Output o = run("search --name c --db " + db_ + " --space mlp --evaluator train --dataset " +
                 dir_ + "/c10 --augment crop,flip,cutout --trials 2 --epochs 3 --val-samples 100" +
                 " --batch-size 20 --lr 0.02 --seed 3");
  ASSERT_EQ(o.code, 0) << o.err;
  double best = 0;
  for (const auto& t : trials("c")) {
    EXPECT_EQ(t.at("state"), "COMPLETE") << t.at("message");
    best = std::max(best, std::atof(t.at("val_acc").c_str()));
    const double wait = std::atof(t.at("data_wait_share").c_str());
    EXPECT_GE(wait, 0.0);
    EXPECT_LT(wait, 1.0);
  }
  EXPECT_GE(best, 20.0);  // ten classes: chance is 10%
  Output status = run("status --name c --db " + db_);
  ASSERT_EQ(status.code, 0) << status.err;
  // The red channel's mean is that of the class levels (20 + 22 k, k = 0..9,
  // evenly) over 255; green and blue sit at 128 / 255.
  EXPECT_NE(status.out.find("data: cifar10 " + dir_ +
                            "/c10: 300 train, 100 test, 3x32x32, 10 "
                            "classes; mean 0.467 0.502 0.502, std "),
            std::string::npos)
      << status.out;
}

TEST_F(CliDataTest, WhatTheDataOrTheMachineCannotTakeIsOneLine) {
  const std::string csv = write("plane.csv", plane_table());
  const std::string base =
      "search --name x --db " + db_ + " --space mlp --evaluator train --trials 1 --dataset ";
  expect_one_line_error(run(base + csv + " --augment flip"),
                        "--augment flip works on images; " + csv + " is a csv table");
  expect_one_line_error(run(base + csv + " --target nope"),
                        csv +
                            ":1: --target 'nope' is not a column (the header has f0, f1, "
                            "noise0, noise1, side)");
  expect_one_line_error(run(base + csv + " --device tpu"),
                        "--device must be cpu, cuda, cuda:N or auto, got 'tpu'");
  expect_one_line_error(run(base + csv + " --precision fp8"),
                        "--precision must be fp32 or bf16, got 'fp8'");
  expect_one_line_error(run(base + csv + " --precision bf16"),
                        "--precision bf16 needs a CUDA device (--device cpu trains on the CPU, in "
                        "fp32)");
  expect_one_line_error(run(base + dir_ + "/missing"),
                        "--dataset " + dir_ + "/missing: no such file or folder");
  if (!torch::cuda::is_available()) {
    Output o = run(base + csv + " --device cuda");
    EXPECT_EQ(o.code, 2);
    expect_one_line_error(o, "--device cuda: no CUDA GPU is available");
  }
  // Nothing was made by any of them.
  Output status = run("status --db " + db_);
  EXPECT_EQ(status.out.find("x "), std::string::npos) << status.out;
}

// Runs where a GPU is (scripts/gpu-build.sh); skipped elsewhere.
TEST_F(CliDataTest, ACifarFolderTrainsOnTheGpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  write("c10/data_batch_1.bin", cifar_like(300, 1));
  write("c10/test_batch.bin", cifar_like(100, 2));
  Output o = run("search --name g --db " + db_ + " --space mlp --evaluator train --dataset " +
                 dir_ + "/c10 --augment crop,flip --trials 2 --epochs 3 --val-samples 100" +
                 " --batch-size 20 --lr 0.02 --device cuda --precision bf16 --seed 3");
  ASSERT_EQ(o.code, 0) << o.err;
  double best = 0;
  for (const auto& t : trials("g")) {
    EXPECT_EQ(t.at("state"), "COMPLETE") << t.at("message");
    best = std::max(best, std::atof(t.at("val_acc").c_str()));
  }
  EXPECT_GT(best, 30.0);
}

}  // namespace
