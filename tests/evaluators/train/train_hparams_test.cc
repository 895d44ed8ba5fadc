// The train evaluator's per-trial hyperparameters: values override the
// options (and successive halving's epochs still win), unknown names and
// values that do not read are refused before the run with one line naming
// them, a bad value in a trial fails that trial naming it, and on real
// Fashion-MNIST each hyperparameter changes what is trained.
#include "evaluators/train/train_hparams.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>
#include <vector>

#include "evaluators/data/dataset.h"
#include "evaluators/train/train_evaluator.h"
#include "train_test_support.h"

namespace sylva::evaluators {
namespace {

TEST(TrainHparams, ValuesOverrideTheOptions) {
  TrainOptions o;
  o.lr = 0.05;
  o.batch_size = 32;
  o.epochs = 3;
  auto s = train_settings(o, {});
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s.value().lr, 0.05);
  EXPECT_EQ(s.value().batch_size, 32);
  EXPECT_EQ(s.value().epochs, 3);
  EXPECT_EQ(s.value().momentum, 0.9);
  EXPECT_EQ(s.value().label_smoothing, 0);
  EXPECT_EQ(s.value().optimizer, "sgd");
  s = train_settings(o, {{"lr", "3.16e-05"},
                         {"weight_decay", "0"},
                         {"optimizer", "adamw"},
                         {"batch_size", "64"},
                         {"epochs", "2"},
                         {"momentum", "0.5"},
                         {"label_smoothing", "0.1"}});
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s.value().lr, 3.16e-05);
  EXPECT_EQ(s.value().weight_decay, 0);
  EXPECT_EQ(s.value().optimizer, "adamw");
  EXPECT_EQ(s.value().batch_size, 64);
  EXPECT_EQ(s.value().epochs, 2);
  EXPECT_EQ(s.value().momentum, 0.5);
  EXPECT_EQ(s.value().label_smoothing, 0.1);
  // linear() writes whole numbers plainly, but "64.0" reads as 64 too.
  EXPECT_EQ(train_settings(o, {{"batch_size", "64.0"}}).value().batch_size, 64);
  EXPECT_EQ(train_settings(o, {{"lr", "abc"}}).status().message(),
            "hyperparameter 'lr': 'abc' is not a positive number");
  EXPECT_EQ(train_settings(o, {{"batch_size", "1.5"}}).status().message(),
            "hyperparameter 'batch_size': '1.5' is not an integer >= 1");
}

TEST(TrainHparams, UnknownNamesAndUnreadableValuesAreRefusedUpFront) {
  EXPECT_TRUE(check_train_hparams({{"lr", {"0.01", "0.1"}},
                                   {"optimizer", {"sgd", "adamw"}},
                                   {"batch_size", {"16", "32", "48", "64"}},
                                   {"momentum", {"0", "0.9"}},
                                   {"label_smoothing", {"0", "0.1"}},
                                   {"weight_decay", {"0", "5e-4"}},
                                   {"epochs", {"1", "2"}}})
                  .is_ok());
  EXPECT_EQ(check_train_hparams({{"lr", {"0.1"}}, {"foo", {"1"}}}).message(),
            "--evaluator train has no hyperparameter 'foo' (it knows batch_size, epochs, "
            "label_smoothing, lr, momentum, optimizer, weight_decay)");
  EXPECT_EQ(check_train_hparams({{"lr", {"0.1", "abc"}}}).message(),
            "hyperparameter 'lr': 'abc' is not a positive number");
  EXPECT_EQ(check_train_hparams({{"optimizer", {"sgd", "rmsprop"}}}).message(),
            "hyperparameter 'optimizer': 'rmsprop' is not sgd or adamw");
  EXPECT_EQ(check_train_hparams({{"momentum", {"1"}}}).message(),
            "hyperparameter 'momentum': '1' is not a number in [0, 1)");
  EXPECT_EQ(check_train_hparams({{"label_smoothing", {"-0.1"}}}).message(),
            "hyperparameter 'label_smoothing': '-0.1' is not a number in [0, 1)");
  EXPECT_EQ(check_train_hparams({{"weight_decay", {"-1"}}}).message(),
            "hyperparameter 'weight_decay': '-1' is not a number >= 0");
  EXPECT_EQ(check_train_hparams({{"epochs", {"0"}}}).message(),
            "hyperparameter 'epochs': '0' is not an integer >= 1");
}

// A space with one fixed chain architecture: only build_spec() matters.
using testing::RecordingReporter;

// The chain builder on an 8-channel stem, one layer per stage.
BuildSpec chain_spec() {
  BuildSpec spec;
  spec.builder = "chain";
  spec.stem_channels = 8;
  spec.stages = {1, 1};
  return spec;
}

class TrainHparamsRun : public testing::FashionMnistTest {
 protected:
  void SetUp() override {
    FashionMnistTest::SetUp();
    if (HasFatalFailure()) return;
    TrainOptions o;
    o.epochs = 1;
    o.train_samples = 512;
    o.val_samples = 256;
    o.test_samples = 256;
    o.batch_size = 32;
    o.lr = 0.1;
    auto made = make_train_evaluator(o, data_);
    ASSERT_TRUE(made.is_ok()) << made.status().message();
    evaluator_ = std::move(made).value();
  }

  EvalResult run(std::vector<HparamValue> hparams, int64_t epochs = 0,
                 RecordingReporter* reporter = nullptr) {
    Job j;
    j.trial_number = 1;
    j.seed = 5;
    j.arch.primitives = {"conv3x3", "conv3x3"};
    j.arch.key = "conv3x3/conv3x3";
    j.space = &space_;
    j.threads = 1;
    j.epochs = epochs;
    j.hparams = std::move(hparams);
    RecordingReporter own;
    return evaluator_->evaluate(j, reporter ? *reporter : own);
  }

  testing::StubSpace space_{chain_spec()};
  std::unique_ptr<Evaluator> evaluator_;
};

TEST_F(TrainHparamsRun, EachHyperparameterChangesTheTrainingAndABadValueFailsTheTrial) {
  EXPECT_EQ(evaluator_->check_hparams({{"foo", {"1"}}}).message(),
            "--evaluator train has no hyperparameter 'foo' (it knows batch_size, epochs, "
            "label_smoothing, lr, momentum, optimizer, weight_decay)");
  EXPECT_TRUE(evaluator_->check_hparams({{"lr", {"0.01", "0.1"}}}).is_ok());

  const EvalResult base = run({});
  ASSERT_EQ(base.state, TrialState::kComplete) << base.message;
  // The options' own values given as hyperparameters train the same network.
  const EvalResult same = run({{"lr", "0.1"}, {"batch_size", "32"}, {"momentum", "0.9"}});
  EXPECT_EQ(same.weights, base.weights);
  EXPECT_EQ(same.metrics.at("train_loss"), base.metrics.at("train_loss"));
  for (const std::vector<HparamValue>& changed :
       std::vector<std::vector<HparamValue>>{{{"lr", "0.01"}},
                                             {{"weight_decay", "0"}},
                                             {{"optimizer", "adamw"}},
                                             {{"batch_size", "64"}},
                                             {{"momentum", "0"}},
                                             {{"label_smoothing", "0.2"}}}) {
    const EvalResult r = run(changed);
    ASSERT_EQ(r.state, TrialState::kComplete) << changed[0].name << ": " << r.message;
    EXPECT_NE(r.weights, base.weights) << changed[0].name;
  }
  // Label smoothing raises the loss a confident network can reach.
  EXPECT_GT(run({{"label_smoothing", "0.2"}}).metrics.at("train_loss"),
            base.metrics.at("train_loss"));
  // epochs=2: two epochs of intermediates; successive halving's budget wins.
  RecordingReporter two;
  ASSERT_EQ(run({{"epochs", "2"}}, 0, &two).state, TrialState::kComplete);
  EXPECT_EQ(two.values.size(), 4u);
  RecordingReporter halving;
  ASSERT_EQ(run({{"epochs", "2"}}, 1, &halving).state, TrialState::kComplete);
  EXPECT_EQ(halving.values.size(), 2u);
  const EvalResult bad = run({{"lr", "abc"}});
  EXPECT_EQ(bad.state, TrialState::kFail);
  EXPECT_EQ(bad.message, "hyperparameter 'lr': 'abc' is not a positive number");
}

}  // namespace
}  // namespace sylva::evaluators
