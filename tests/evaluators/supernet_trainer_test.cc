// Training a small once-for-all supernet on real Fashion-MNIST: both
// schedules teach the largest and the smallest sub-networks at once, runs are
// seeded, deps trains the largest alone first, and batch-norm recalibration
// gives a sub-network its own statistics.
#include "evaluators/supernet_trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "evaluators/idx_dataset.h"

namespace sylva::evaluators {
namespace {

ofa::OfaSpec small_spec() {
  ofa::OfaSpec spec;
  spec.widths = {8, 16};
  spec.strides = {2, 2};
  spec.depths = {1, 2};
  spec.kernels = {3, 5};
  spec.expands = {2, 3};
  spec.resolutions = {20, 28};
  return spec;
}

class SupernetTrainer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = load_idx_dataset(kDefaultDatasetDir);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
    data_ = new Dataset(std::move(loaded).value());
  }
  static Dataset* data_;
  at::Tensor train_x() const { return data_->train_images.narrow(0, 0, 2048); }
  at::Tensor train_y() const { return data_->train_labels.narrow(0, 0, 2048); }
  at::Tensor test_x() const { return data_->test_images.narrow(0, 0, 1000); }
  at::Tensor test_y() const { return data_->test_labels.narrow(0, 0, 1000); }
};
Dataset* SupernetTrainer::data_ = nullptr;

TEST_F(SupernetTrainer, SandwichTeachesEverySizeAndIsSeeded) {
  torch::set_num_threads(1);
  const ofa::OfaSpec spec = small_spec();
  SupernetTrainOptions o;
  o.epochs = 2;
  o.batch_size = 64;
  o.seed = 7;
  std::vector<double> first;
  for (int run = 0; run < 2; ++run) {
    torch::manual_seed(1);
    ofa::OfaNet net(spec);
    const double before =
        subnet_accuracy(net, ofa::largest(spec), train_x().narrow(0, 0, 512), test_x(), test_y());
    auto report = train_supernet(net, train_x(), train_y(), o);
    EXPECT_EQ(report.steps, 2 * 2048 / 64);
    EXPECT_EQ(report.subnet_passes, report.steps * 4);  // largest, smallest, 2 random
    const double big =
        subnet_accuracy(net, ofa::largest(spec), train_x().narrow(0, 0, 512), test_x(), test_y());
    const double small =
        subnet_accuracy(net, ofa::smallest(spec), train_x().narrow(0, 0, 512), test_x(), test_y());
    EXPECT_LT(before, 30);
    EXPECT_GT(big, 60);
    EXPECT_GT(small, 40);  // 4x chance: resolution 20, one block of kernel 3 per stage
    if (run == 0) {
      first = {big, small};
    } else {
      EXPECT_EQ(first, (std::vector<double>{big, small}));
    }
  }
}

TEST_F(SupernetTrainer, DepsTrainsTheLargestAloneFirst) {
  torch::set_num_threads(1);
  const ofa::OfaSpec spec = small_spec();
  SupernetTrainOptions o;
  o.schedule = "deps";
  o.epochs = 2;
  o.batch_size = 64;
  o.shrink_start = 0.5;
  o.random_subnets = 1;
  torch::manual_seed(2);
  ofa::OfaNet net(spec);
  auto report = train_supernet(net, train_x(), train_y(), o);
  // 64 steps: the first 32 the largest alone, then 3 passes a step.
  EXPECT_EQ(report.subnet_passes, 32 + 32 * 3);
  EXPECT_GT(
      subnet_accuracy(net, ofa::largest(spec), train_x().narrow(0, 0, 512), test_x(), test_y()),
      60);
  o.schedule = "progressive";
  EXPECT_EQ(check_supernet_options(o).message(),
            "--schedule must be sandwich or deps, got 'progressive'");
}

TEST_F(SupernetTrainer, RecalibrationGivesTheSubnetItsOwnStatistics) {
  const ofa::OfaSpec spec = small_spec();
  torch::manual_seed(3);
  ofa::OfaNet net(spec);
  const at::Tensor x = train_x().narrow(0, 0, 256);
  const ofa::OfaConfig c = ofa::smallest(spec);
  net->activate(c);
  net->recalibrate({x});
  // One batch with weight 1: the running statistics are that batch's, so
  // evaluation mode computes what training mode computes on it (up to the
  // unbiased variance the running statistic keeps).
  torch::NoGradGuard no_grad;
  net->eval();
  const at::Tensor eval_out = net->forward(x);
  net->train();
  const at::Tensor train_out = net->forward(x);
  EXPECT_LT((eval_out - train_out).abs().max().item<double>(), 2e-2);
}

}  // namespace
}  // namespace sylva::evaluators
