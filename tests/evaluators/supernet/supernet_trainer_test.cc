// Training a small once-for-all supernet on real Fashion-MNIST: every
// schedule teaches the largest and the smallest sub-networks at once, runs are
// seeded, deps and progressive train the largest alone first, a run killed
// and resumed from its checkpoint ends with the very weights of one never
// interrupted, and batch-norm recalibration gives a sub-network its own
// statistics.
#include "evaluators/supernet/supernet_trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "evaluators/data/dataset.h"
#include "spaces/supernets/ofa/ofa.h"
#include "spaces/supernets/sorted/sorted_space.h"
#include "spaces/supernets/stitch/stitch_space.h"

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
  // The first 2048 training and 1000 test images, standardised (the
  // dataset keeps bytes), as the supernet verbs pass them.
  static void SetUpTestSuite() {
    auto loaded = load_idx_dataset(kDefaultDatasetDir);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
    const Dataset& d = loaded.value();
    data_ = new Images{
        d.normalise(d.train_images.narrow(0, 0, 2048)), d.train_labels.narrow(0, 0, 2048).clone(),
        d.normalise(d.test_images.narrow(0, 0, 1000)), d.test_labels.narrow(0, 0, 1000).clone()};
  }
  struct Images {
    at::Tensor train_x, train_y, test_x, test_y;
  };
  static Images* data_;
  at::Tensor train_x() const { return data_->train_x; }
  at::Tensor train_y() const { return data_->train_y; }
  at::Tensor test_x() const { return data_->test_x; }
  at::Tensor test_y() const { return data_->test_y; }
};
SupernetTrainer::Images* SupernetTrainer::data_ = nullptr;

std::unique_ptr<Supernet> ofa_net(const ofa::OfaSpec& spec) {
  return make_supernet(ofa::spec_text(spec)).value();
}

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
    auto net = ofa_net(spec);
    const double before =
        subnet_accuracy(*net, net->largest(), train_x().narrow(0, 0, 512), test_x(), test_y());
    auto report = train_supernet(*net, train_x(), train_y(), o).value();
    EXPECT_EQ(report.steps, 2 * 2048 / 64);
    EXPECT_EQ(report.subnet_passes, report.steps * 4);  // largest, smallest, 2 random
    const double big =
        subnet_accuracy(*net, net->largest(), train_x().narrow(0, 0, 512), test_x(), test_y());
    const double small =
        subnet_accuracy(*net, net->smallest(), train_x().narrow(0, 0, 512), test_x(), test_y());
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
  auto net = ofa_net(spec);
  auto report = train_supernet(*net, train_x(), train_y(), o).value();
  // 64 steps: the first 32 the largest alone, then 3 passes a step.
  EXPECT_EQ(report.subnet_passes, 32 + 32 * 3);
  EXPECT_GT(subnet_accuracy(*net, net->largest(), train_x().narrow(0, 0, 512), test_x(), test_y()),
            60);
  EXPECT_EQ(supernet_phase(o, 31, 64), "full");
  EXPECT_EQ(supernet_phase(o, 32, 64), "shrink");
  o.schedule = "once";
  EXPECT_EQ(check_supernet_options(o).message(),
            "--schedule must be progressive, sandwich, nested, deps or stitch, got 'once'");
  o.schedule = "progressive";
  o.random_subnets = 0;
  EXPECT_EQ(check_supernet_options(o).message(),
            "--random-subnets must be >= 1 with --schedule progressive, got 0");
}

TEST_F(SupernetTrainer, ProgressiveShrinksKernelThenDepthThenExpand) {
  torch::set_num_threads(1);
  const ofa::OfaSpec spec = small_spec();
  SupernetTrainOptions o;
  o.schedule = "progressive";
  o.epochs = 2;
  o.batch_size = 64;
  o.random_subnets = 2;
  o.seed = 4;
  std::vector<std::string> phases;
  for (int64_t s = 0; s < 64; s += 16) phases.push_back(supernet_phase(o, s, 64));
  EXPECT_EQ(phases, (std::vector<std::string>{"full", "kernel", "depth", "expand"}));
  EXPECT_EQ(supernet_phase(o, 15, 64), "full");
  torch::manual_seed(2);
  auto net = ofa_net(spec);
  std::vector<std::string> seen;
  auto report = train_supernet(*net, train_x(), train_y(), o, {}, [&](const SupernetProgress& p) {
                  if (seen.empty() || seen.back() != p.phase) seen.push_back(p.phase);
                }).value();
  EXPECT_EQ(seen, phases);
  // The full network alone for 16 steps, then 2 sub-networks a step.
  EXPECT_EQ(report.subnet_passes, 16 + 48 * 2);
  const at::Tensor calib = train_x().narrow(0, 0, 512);
  EXPECT_GT(subnet_accuracy(*net, net->largest(), calib, test_x(), test_y()), 60);
  EXPECT_GT(subnet_accuracy(*net, net->smallest(), calib, test_x(), test_y()), 40);
  // After the expand phase's sorting and training, the first hidden channels
  // of a block still carry more of its projection than the last ones.
  const at::Tensor importance =
      net->module().named_parameters()["s2b1_project.weight"].abs().sum({0, 2, 3});
  const int64_t h = importance.size(0);
  EXPECT_GT(importance.narrow(0, 0, h / 3).mean().item<double>(),
            importance.narrow(0, h - h / 3, h / 3).mean().item<double>());
}

TEST_F(SupernetTrainer, StandaloneTrainsOneConfigurationOnly) {
  torch::set_num_threads(1);
  const ofa::OfaSpec spec = small_spec();
  SupernetTrainOptions o;
  o.batch_size = 64;
  o.epochs = 3;
  torch::manual_seed(5);
  auto net = ofa_net(spec);
  o.only = net->smallest();
  auto report = train_supernet(*net, train_x(), train_y(), o).value();
  EXPECT_EQ(report.subnet_passes, 96);
  EXPECT_EQ(supernet_phase(o, 0, 96), "standalone");
  EXPECT_GT(subnet_accuracy(*net, *o.only, train_x().narrow(0, 0, 512), test_x(), test_y()), 50);
  o.only->push_back(0);
  EXPECT_EQ(train_supernet(*net, train_x(), train_y(), o).status().message(),
            "not a configuration of 'ofa': 8 decisions given, but the configuration is complete "
            "after 7");
}

// Every parameter and buffer of a supernet, flattened in order.
at::Tensor all_state(Supernet& net) {
  std::vector<at::Tensor> parts;
  for (const auto& p : net.module().parameters()) parts.push_back(p.detach().flatten());
  for (const auto& b : net.module().buffers()) parts.push_back(b.flatten().to(torch::kFloat));
  return torch::cat(parts);
}

TEST_F(SupernetTrainer, AResumedRunEndsWithTheWeightsOfAnUninterruptedOne) {
  torch::set_num_threads(1);
  const ofa::OfaSpec spec = small_spec();
  const at::Tensor x = train_x().narrow(0, 0, 1024), y = train_y().narrow(0, 0, 1024);
  char tmpl[] = "/tmp/sylva-ckpt-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  stitch::StitchSpec stitch_spec;
  stitch_spec.depth = 3;
  stitch_spec.dims = {8, 16};
  stitch_spec.expand = 2;
  for (const std::string schedule : {"progressive", "deps", "stitch"}) {
    SCOPED_TRACE(schedule);
    // The stitch schedule fits its stitching layers when its second half begins.
    auto make_net = [&](const ofa::OfaSpec& s) {
      return schedule == "stitch" ? make_supernet(stitch::spec_text(stitch_spec)).value()
                                  : make_supernet(ofa::spec_text(s)).value();
    };
    SupernetTrainOptions o;
    o.schedule = schedule;
    o.batch_size = 64;  // 16 steps; progressive: 4 per phase, sorted at 12; deps sorted at 8
    o.seed = 9;
    torch::manual_seed(6);
    auto whole = make_net(spec);
    ASSERT_TRUE(train_supernet(*whole, x, y, o).is_ok());

    SupernetCheckpoint ck;
    ck.path = dir + "/" + schedule + ".ckpt";
    ck.every = 4;
    std::vector<int64_t> resumed;
    // Killed after 6 steps (the teacher exists), then after 7 more (past the
    // sorting), then run to the end: three processes, three fresh networks.
    for (int64_t stop : {6, 7, 0}) {
      // The first process starts like the uninterrupted run; the others
      // initialise differently and must take everything from the checkpoint.
      torch::manual_seed(stop == 6 ? 6 : 100 + stop);
      auto net = make_net(spec);
      ck.stop_after = stop;
      auto r = train_supernet(*net, x, y, o, ck);
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      resumed.push_back(r.value().resumed_from);
      if (stop == 0) {
        EXPECT_TRUE(r.value().finished());
        EXPECT_TRUE(torch::equal(all_state(*net), all_state(*whole)));
      }
    }
    EXPECT_EQ(resumed, (std::vector<int64_t>{0, 6, 13}));
    // A checkpoint continues only the run that wrote it.
    o.lr = 0.1;
    auto other = make_net(spec);
    EXPECT_EQ(train_supernet(*other, x, y, o, ck).status().message(),
              "checkpoint '" + ck.path +
                  "' belongs to another run (lr was 0.05 there, 0.1 here); delete it to start "
                  "over");
  }
  std::filesystem::remove_all(dir);
}

TEST_F(SupernetTrainer, NestedTrainingTeachesTheSortedLadder) {
  torch::set_num_threads(1);
  sorted::SortedSpec spec;
  spec.dim = 32;
  spec.depths = {1, 2, 3};
  spec.widths = {16, 32, 64};
  SupernetTrainOptions o;
  o.schedule = "nested";
  o.epochs = 2;
  o.batch_size = 64;
  o.seed = 3;
  torch::manual_seed(4);
  auto net = make_supernet(sorted::spec_text(spec)).value();
  auto report = train_supernet(*net, train_x(), train_y(), o).value();
  EXPECT_EQ(report.subnet_passes, 64 * 3);  // the largest and 2 nested models a step
  const auto& space = dynamic_cast<const sorted::SortedSpace&>(net->space());
  const at::Tensor calib = train_x().narrow(0, 0, 512);
  std::vector<double> acc;
  for (const auto& c : sorted::ladder(spec)) {
    acc.push_back(subnet_accuracy(*net, space.decisions(c).value(), calib, test_x(), test_y()));
  }
  // Every nested model learned; the larger third beats the smaller third.
  for (double a : acc) EXPECT_GT(a, 45);
  EXPECT_GT(acc[6] + acc[7] + acc[8], acc[0] + acc[1] + acc[2]);
  o.schedule = "progressive";
  EXPECT_EQ(check_schedule(o, *net).message(),
            "--schedule progressive shrinks kernels, depths and expand ratios (family ofa); "
            "family sorted has none");
}

TEST_F(SupernetTrainer, StitchTrainsTheAnchorsThenOneConfigurationAStep) {
  torch::set_num_threads(1);
  stitch::StitchSpec spec;
  spec.depth = 4;
  spec.dims = {8, 16, 24};
  spec.expand = 2;
  SupernetTrainOptions o;
  o.schedule = "stitch";
  o.epochs = 2;
  o.batch_size = 64;
  o.seed = 5;
  torch::manual_seed(6);
  auto net = make_supernet(stitch::spec_text(spec)).value();
  std::vector<std::string> seen;
  auto report = train_supernet(*net, train_x(), train_y(), o, {}, [&](const SupernetProgress& p) {
                  if (seen.empty() || seen.back() != p.phase) seen.push_back(p.phase);
                }).value();
  EXPECT_EQ(seen, (std::vector<std::string>{"anchors", "stitch"}));
  EXPECT_EQ(report.subnet_passes, 32 * 3 + 32);  // three anchors a step, then one configuration
  const at::Tensor calib = train_x().narrow(0, 0, 512);
  for (const auto& a : net->anchors()) {
    EXPECT_GT(subnet_accuracy(*net, a, calib, test_x(), test_y()), 55);
  }
  const auto& space = dynamic_cast<const stitch::StitchSpace&>(net->space());
  EXPECT_GT(subnet_accuracy(*net, space.decisions({0, 1, 2}).value(), calib, test_x(), test_y()),
            45);
  o.schedule = "sandwich";
  EXPECT_EQ(check_schedule(o, *net).message(),
            "family stitch trains with --schedule stitch (anchors, then their stitches), got "
            "--schedule sandwich");
  o.schedule = "stitch";
  auto other = make_supernet(ofa::spec_text(ofa::OfaSpec{})).value();
  EXPECT_EQ(check_schedule(o, *other).message(),
            "--schedule stitch trains the anchors of a stitch supernet; family ofa takes "
            "progressive, sandwich, nested or deps");
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
