// What the train evaluator's tests share: a space with one fixed
// architecture (only its build_spec() matters), a Reporter that records
// every intermediate value, and a fixture holding Fashion-MNIST, loaded
// once per test suite.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "evaluators/data/dataset.h"
#include "evaluators/evaluator.h"
#include "spaces/space.h"

namespace sylva::evaluators::testing {

class StubSpace : public Space {
 public:
  explicit StubSpace(BuildSpec spec) : spec_(std::move(spec)) {}
  const std::string& name() const override { return name_; }
  std::vector<Choice> choices(const std::vector<int>&) const override { return {}; }
  StatusOr<Architecture> make(const std::vector<int>&) const override { return Architecture(); }
  StatusOr<Architecture> parse(const std::string&) const override { return Architecture(); }
  const BuildSpec& build_spec() const override { return spec_; }
  const std::string& source() const override { return name_; }

 private:
  BuildSpec spec_;
  std::string name_ = "stub";
};

class RecordingReporter : public Reporter {
 public:
  void intermediate(int step, const std::string& name, double value) override {
    values.emplace_back(step, name, value);
  }
  std::vector<std::tuple<int, std::string, double>> values;
};

// scripts/install-deps.sh installs dataset-fashion-mnist: its absence fails
// every test of the suite.
class FashionMnistTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kDefaultDatasetDir)) return;
    auto loaded = load_idx_dataset(kDefaultDatasetDir);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
    data_ = std::make_shared<const Dataset>(std::move(loaded).value());
  }
  static void TearDownTestSuite() { data_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(data_) << kDefaultDatasetDir << " is missing (dataset-fashion-mnist)";
  }

  static inline std::shared_ptr<const Dataset> data_;
};

}  // namespace sylva::evaluators::testing
