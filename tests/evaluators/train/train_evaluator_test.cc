// The train evaluator on real Fashion-MNIST, kept to about a second a test: a
// small chain CNN on 512 training images learns well above chance, a seed
// reproduces metrics and weights bit for bit single-threaded (also when two
// trials run at once), the options are validated with messages naming the
// option, and timeouts and diverging losses throw.
#include "evaluators/train/train_evaluator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <regex>
#include <thread>
#include <tuple>
#include <vector>

#include "evaluators/data/dataset.h"
#include "train_test_support.h"

namespace sylva::evaluators {
namespace {

using testing::RecordingReporter;
using testing::StubSpace;

BuildSpec small_spec() {
  BuildSpec spec;
  spec.builder = "chain";
  spec.stem_channels = 8;
  spec.stages = {1, 1};
  return spec;
}

TrainOptions small_options() {
  TrainOptions o;
  o.epochs = 1;
  o.train_samples = 512;
  o.val_samples = 256;
  o.test_samples = 256;
  o.batch_size = 32;
  o.lr = 0.1;
  return o;
}

class TrainEvaluatorTest : public testing::FashionMnistTest {
 protected:
  std::unique_ptr<Evaluator> make(const TrainOptions& options) {
    auto made = make_train_evaluator(options, data_);
    if (!made.is_ok()) ADD_FAILURE() << made.status().message();
    return made.is_ok() ? std::move(made).value() : nullptr;
  }

  Job job(uint64_t seed) const {
    Job j;
    j.trial_number = 3;
    j.seed = seed;
    j.arch.primitives = {"conv3x3", "conv3x3"};
    j.arch.key = "conv3x3/conv3x3";
    j.space = &space_;
    j.threads = 1;
    return j;
  }

  StubSpace space_{small_spec()};
};

TEST_F(TrainEvaluatorTest, LearnsAboveChanceAndReportsEveryMetric) {
  TrainOptions options = small_options();
  options.epochs = 3;
  options.train_samples = 1024;
  auto evaluator = make(options);
  ASSERT_NE(evaluator, nullptr);
  RecordingReporter reporter;
  EvalResult r = evaluator->evaluate(job(1), reporter);
  ASSERT_EQ(r.state, TrialState::kComplete) << r.message;

  for (const char* name : {"val_acc", "test_acc", "train_loss", "params", "flops", "train_seconds",
                           "latency_ms", "data_wait_share"}) {
    ASSERT_EQ(r.metrics.count(name), 1u) << name;
  }
  EXPECT_EQ(r.metrics.size(), 8u);
  EXPECT_GE(r.metrics["data_wait_share"], 0.0);
  EXPECT_LT(r.metrics["data_wait_share"], 1.0);
  // Ten balanced classes: chance is 10%. This tiny CNN (8-16-32 channels,
  // global pooling) reaches 56-68% after 96 steps on 1024 images over seeds
  // 1-4; 35% leaves a wide margin.
  EXPECT_GT(r.metrics["val_acc"], 35.0);
  EXPECT_LE(r.metrics["val_acc"], 100.0);
  EXPECT_GT(r.metrics["test_acc"], 35.0);
  EXPECT_LE(r.metrics["test_acc"], 100.0);
  EXPECT_GT(r.metrics["train_loss"], 0.0);
  EXPECT_LT(r.metrics["train_loss"], std::log(10.0));  // below a uniform guess
  EXPECT_GT(r.metrics["params"], 1000.0);
  EXPECT_GT(r.metrics["flops"], r.metrics["params"]);
  EXPECT_GT(r.metrics["train_seconds"], 0.0);
  // One forward of a 28x28 image through this CNN: well under the training time.
  EXPECT_GT(r.metrics["latency_ms"], 0.0);
  EXPECT_LT(r.metrics["latency_ms"] / 1000, r.metrics["train_seconds"]);
  EXPECT_FALSE(r.weights.empty());
  // Accuracies are whole counts out of 256 images, in percent.
  const double val_correct = r.metrics["val_acc"] * 256 / 100;
  EXPECT_NEAR(val_correct, std::round(val_correct), 1e-9);

  // Intermediates: train_loss then val_acc after each of the three epochs.
  ASSERT_EQ(reporter.values.size(), 6u);
  EXPECT_EQ(std::get<0>(reporter.values[0]), 1);
  EXPECT_EQ(std::get<1>(reporter.values[0]), "train_loss");
  EXPECT_EQ(std::get<0>(reporter.values[1]), 1);
  EXPECT_EQ(std::get<1>(reporter.values[1]), "val_acc");
  EXPECT_EQ(std::get<0>(reporter.values[4]), 3);
  EXPECT_EQ(std::get<1>(reporter.values[4]), "train_loss");
  EXPECT_EQ(std::get<0>(reporter.values[5]), 3);
  EXPECT_EQ(std::get<1>(reporter.values[5]), "val_acc");
  EXPECT_EQ(std::get<2>(reporter.values[5]), r.metrics["val_acc"]);
  EXPECT_EQ(std::get<2>(reporter.values[4]), r.metrics["train_loss"]);
  // The last epoch's loss is lower than the first's.
  EXPECT_LT(std::get<2>(reporter.values[4]), std::get<2>(reporter.values[0]));
}

TEST_F(TrainEvaluatorTest, SameSeedIsIdenticalDifferentSeedDiffers) {
  TrainOptions options = small_options();
  auto evaluator = make(options);
  ASSERT_NE(evaluator, nullptr);
  RecordingReporter reporter;
  EvalResult a = evaluator->evaluate(job(7), reporter);
  EvalResult b = evaluator->evaluate(job(7), reporter);
  EvalResult c = evaluator->evaluate(job(8), reporter);
  ASSERT_EQ(a.state, TrialState::kComplete) << a.message;
  ASSERT_EQ(c.state, TrialState::kComplete) << c.message;
  for (const char* name : {"val_acc", "test_acc", "train_loss", "params", "flops"}) {
    EXPECT_EQ(a.metrics[name], b.metrics[name]) << name;
  }
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_NE(a.metrics["train_loss"], c.metrics["train_loss"]);
  EXPECT_NE(a.weights, c.weights);
  EXPECT_EQ(a.metrics["params"], c.metrics["params"]);
}

TEST_F(TrainEvaluatorTest, ConcurrentTrialsMatchSequentialOnes) {
  TrainOptions options = small_options();
  auto evaluator = make(options);
  ASSERT_NE(evaluator, nullptr);
  RecordingReporter reporter;
  EvalResult seq_a = evaluator->evaluate(job(11), reporter);
  EvalResult seq_b = evaluator->evaluate(job(12), reporter);
  EvalResult par_a, par_b;
  std::thread ta([&] {
    RecordingReporter rep;
    par_a = evaluator->evaluate(job(11), rep);
  });
  std::thread tb([&] {
    RecordingReporter rep;
    par_b = evaluator->evaluate(job(12), rep);
  });
  ta.join();
  tb.join();
  EXPECT_EQ(par_a.metrics["train_loss"], seq_a.metrics["train_loss"]);
  EXPECT_EQ(par_a.weights, seq_a.weights);
  EXPECT_EQ(par_b.metrics["val_acc"], seq_b.metrics["val_acc"]);
  EXPECT_EQ(par_b.weights, seq_b.weights);
}

TEST_F(TrainEvaluatorTest, AdamWTrains) {
  TrainOptions options = small_options();
  options.optimizer = "adamw";
  options.lr = 3e-3;
  options.epochs = 3;
  options.train_samples = 1024;
  auto evaluator = make(options);
  ASSERT_NE(evaluator, nullptr);
  RecordingReporter reporter;
  EvalResult r = evaluator->evaluate(job(2), reporter);
  ASSERT_EQ(r.state, TrialState::kComplete) << r.message;
  EXPECT_GT(r.metrics["val_acc"], 30.0);  // 48-54% over seeds 1-4
}

TEST_F(TrainEvaluatorTest, OptionsAreValidatedWithTheirNames) {
  struct Case {
    std::function<void(TrainOptions&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](TrainOptions& o) { o.epochs = 0; }, "--epochs must be >= 1, got 0"},
      {[](TrainOptions& o) { o.batch_size = -2; }, "--batch-size must be >= 1, got -2"},
      {[](TrainOptions& o) { o.train_samples = -1; }, "--train-samples must be >= 0, got -1"},
      {[](TrainOptions& o) { o.val_samples = 0; }, "--val-samples must be >= 1, got 0"},
      {[](TrainOptions& o) { o.test_samples = -5; }, "--test-samples must be >= 0, got -5"},
      {[](TrainOptions& o) { o.lr = 0; }, "--lr must be a positive finite number, got 0"},
      {[](TrainOptions& o) { o.optimizer = "adam"; },
       "--optimizer must be sgd or adamw, got 'adam'"},
      {[](TrainOptions& o) { o.weight_decay = NAN; }, "--weight-decay must be finite, got nan"},
      {[](TrainOptions& o) { o.val_samples = 60000; },
       "--val-samples must be < 60000 (the training images), got 60000"},
      {[](TrainOptions& o) { o.train_samples = 59745; },
       "--train-samples must be <= 59744 (training images left after --val-samples 256), got "
       "59745"},
      {[](TrainOptions& o) { o.test_samples = 10001; },
       "--test-samples must be <= 10000 (the test images), got 10001"},
      {[](TrainOptions& o) { o.reject_below = 101; },
       "--reject-below must be a percentage in [0, 100], got 101"},
      {[](TrainOptions& o) { o.reject_below = 50; },
       "--reject-below ACC and --reject-after STEPS go together (early rejection needs both)"},
      {[](TrainOptions& o) { o.reject_after = -1; }, "--reject-after must be >= 0, got -1"},
      {[](TrainOptions& o) {
         o.reject_below = 50;
         o.reject_after = 17;
       },
       "--reject-after 17 is past the last training step (16 = 1 epoch(s) of 512 images in "
       "batches of 32)"},
  };
  for (const Case& c : cases) {
    TrainOptions o = small_options();
    c.change(o);
    auto made = make_train_evaluator(o, data_);
    ASSERT_FALSE(made.is_ok()) << c.message;
    EXPECT_EQ(made.status().message(), c.message);
  }
  // Invalid options fail before any dataset is read.
  TrainOptions o;
  o.epochs = 0;
  o.dataset = "/nonexistent";
  auto made = make_train_evaluator(o);
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), "--epochs must be >= 1, got 0");
  // A missing dataset is named; an IDX folder without its files names the
  // file it looked for.
  o.epochs = 1;
  made = make_train_evaluator(o);
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), "--dataset /nonexistent: no such file or folder");
  o.dataset = ::testing::TempDir();
  o.dataset_format = "idx";
  made = make_train_evaluator(o);
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(),
            "missing file " +
                (std::filesystem::path(::testing::TempDir()) / "train-images-idx3-ubyte").string() +
                "[.gz]");
}

TEST_F(TrainEvaluatorTest, EarlyRejectionPrunesWhatCannotLearnAndSparesTheRest) {
  // 16 steps per epoch; the check comes after step 6 on 256 validation images.
  TrainOptions options = small_options();
  options.reject_after = 6;
  options.reject_below = 100;  // nothing reaches 100% after 6 steps
  auto strict = make(options);
  ASSERT_NE(strict, nullptr);
  RecordingReporter reporter;
  EvalResult r = strict->evaluate(job(1), reporter);
  EXPECT_EQ(r.state, TrialState::kPruned);
  EXPECT_EQ(r.metrics.at("rejected_at_step"), 6);
  EXPECT_TRUE(r.weights.empty());
  EXPECT_GT(r.metrics.at("params"), 0);
  ASSERT_EQ(reporter.values.size(), 1u);  // no epoch finished
  EXPECT_EQ(std::get<0>(reporter.values[0]), 6);
  EXPECT_EQ(std::get<1>(reporter.values[0]), "rejection_acc");
  const double acc = std::get<2>(reporter.values[0]);
  EXPECT_DOUBLE_EQ(r.metrics.at("val_acc"), acc);
  EXPECT_EQ(r.message,
            fmt::format("rejected: val_acc {:.2f} after 6 steps is below --reject-below 100", acc));
  // Chance is 10%: a bar at 1% lets the same candidate train to the end, with
  // the same weights as without the check (it only evaluates).
  options.reject_below = 1;
  RecordingReporter lenient_reporter, plain_reporter;
  EvalResult lenient = make(options)->evaluate(job(1), lenient_reporter);
  EvalResult plain = make(small_options())->evaluate(job(1), plain_reporter);
  EXPECT_EQ(lenient.state, TrialState::kComplete);
  EXPECT_EQ(lenient.weights, plain.weights);
  EXPECT_EQ(lenient.metrics.at("val_acc"), plain.metrics.at("val_acc"));
}

TEST_F(TrainEvaluatorTest, TimeoutThrows) {
  auto evaluator = make(small_options());
  ASSERT_NE(evaluator, nullptr);
  Job j = job(1);
  j.timeout_seconds = 1e-9;
  RecordingReporter reporter;
  try {
    evaluator->evaluate(j, reporter);
    FAIL() << "no TimeoutError";
  } catch (const TimeoutError& e) {
    EXPECT_STREQ(e.what(), "trial exceeded --trial-timeout of 1e-09 s");
  }
  EXPECT_TRUE(reporter.values.empty());
}

TEST_F(TrainEvaluatorTest, ADivergingLossThrowsNaN) {
  // A huge --lr is refused at start now (kMaxLr), so the loss is made
  // non-finite by the data: a standard deviation of 0 scales every pixel
  // to an infinity.
  auto poisoned = std::make_shared<Dataset>(*data_);
  poisoned->stddev.assign(poisoned->stddev.size(), 0.0);
  TrainOptions options = small_options();
  options.batch_size = 32;
  auto made = make_train_evaluator(options, poisoned);
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  RecordingReporter reporter;
  try {
    made.value()->evaluate(job(1), reporter);
    FAIL() << "no exception";
  } catch (const TimeoutError& e) {
    FAIL() << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(std::regex_match(e.what(), std::regex("loss is (NaN|infinite) at epoch [12] step "
                                                      "[0-9]+")))
        << e.what();
  }
  options.lr = 1e6;
  auto huge = make_train_evaluator(options, data_);
  ASSERT_FALSE(huge.is_ok());
  EXPECT_EQ(huge.status().message(), "--lr must be <= 10, got 1e+06");
}

TEST_F(TrainEvaluatorTest, UnknownOpFails) {
  auto evaluator = make(small_options());
  ASSERT_NE(evaluator, nullptr);
  Job j = job(1);
  j.arch.primitives = {"conv3x3", "no_such_op"};
  RecordingReporter reporter;
  EvalResult r = evaluator->evaluate(j, reporter);
  EXPECT_EQ(r.state, TrialState::kFail);
  EXPECT_NE(r.message.find("no_such_op"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace sylva::evaluators
