// Supernets on a device: --device is checked before anything loads (a GPU
// asked of a machine without one is one line), bfloat16 autocast trains,
// and on a GPU (the *_CUDA tests, skipped without one) training runs with
// a finite loss, hands the network back on the CPU, and its checkpoint
// continues on the CPU and back; the evaluator recalibrates and scores on
// the slot's GPU and agrees with the CPU.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "evaluators/data/dataset.h"
#include "evaluators/supernet/supernet_evaluator.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "spaces/supernets/ofa/ofa.h"
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

// The first 512 Fashion-MNIST training images, standardised.
struct Images {
  at::Tensor x, y;
};
const Images& images() {
  static const Images kImages = [] {
    const Dataset d = load_idx_dataset(kDefaultDatasetDir).value();
    return Images{d.normalise(d.train_images.narrow(0, 0, 512)),
                  d.train_labels.narrow(0, 0, 512).clone()};
  }();
  return kImages;
}

c10::Device device_of(Supernet& net) { return net.module().parameters().front().device(); }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sylva-device-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class NoReporter : public Reporter {
 public:
  void intermediate(int, const std::string&, double) override {}
};

TEST(SupernetDevice, ADeviceTheMachineLacksIsOneLineBeforeAnythingLoads) {
  SupernetEvalOptions o;
  o.path = "/nonexistent/supernet.pt";  // never read: the device is checked first
  o.device = "tpu";
  auto bad = make_supernet_evaluator(o);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "--device must be cpu, cuda, cuda:N or auto, got 'tpu'");
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is visible";
  o.device = "cuda";
  auto none = make_supernet_evaluator(o);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = none.status().message();
  EXPECT_EQ(m.rfind("--device cuda: no CUDA GPU is available (", 0), 0u) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_EQ(export_subnet(o, Architecture{}, "/nonexistent/out.pt").message(), m);
}

// bfloat16 autocast on the CPU (emulated where the CPU lacks the
// instructions): the forward passes run in bfloat16, the losses in float32,
// and the run learns.
TEST(SupernetDevice, Bf16AutocastTrains) {
  torch::set_num_threads(1);
  SupernetTrainOptions o;
  o.batch_size = 64;
  o.epochs = 2;
  o.bf16 = true;
  torch::manual_seed(1);
  auto net = make_supernet(ofa::spec_text(small_spec())).value();
  auto report = train_supernet(*net, images().x, images().y, o).value();
  EXPECT_EQ(report.steps, 16);
  EXPECT_TRUE(std::isfinite(report.last_loss));
  EXPECT_LT(report.last_loss, 2.0);  // chance is ln 10 = 2.3
  for (const auto& p : net->module().parameters()) ASSERT_EQ(p.scalar_type(), torch::kFloat);
}

TEST(SupernetDevice, TrainsOnGpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  const c10::Device gpu(c10::kCUDA, 0);
  TempDir dir;
  stitch::StitchSpec stitch_spec;
  stitch_spec.depth = 3;
  stitch_spec.dims = {8, 16};
  stitch_spec.expand = 2;
  // progressive: a teacher on the GPU; stitch: least squares on the GPU.
  for (const std::string schedule : {"sandwich", "progressive", "stitch"}) {
    SCOPED_TRACE(schedule);
    auto make_net = [&] {
      return schedule == "stitch" ? make_supernet(stitch::spec_text(stitch_spec)).value()
                                  : make_supernet(ofa::spec_text(small_spec())).value();
    };
    SupernetTrainOptions o;
    o.schedule = schedule;
    o.batch_size = 32;  // 16 steps
    o.seed = 3;
    SupernetCheckpoint ck;
    ck.path = dir.path() + "/" + schedule + ".ckpt";
    ck.every = 2;
    // 9 steps on the GPU (past the teacher's copy at 4 and the stitches' fit
    // at 8), 3 on the CPU from its checkpoint, the rest on the GPU from the
    // CPU's: three processes, three fresh networks.
    std::vector<int64_t> resumed;
    int k = 0;
    for (const auto& [device, stop] :
         {std::pair{gpu, 9}, std::pair{c10::Device(c10::kCPU), 3}, std::pair{gpu, 0}}) {
      torch::manual_seed(10 + k++);
      auto net = make_net();
      o.device = device;
      ck.stop_after = stop;
      auto r = train_supernet(*net, images().x, images().y, o, ck);
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      resumed.push_back(r.value().resumed_from);
      EXPECT_TRUE(std::isfinite(r.value().last_loss));
      EXPECT_TRUE(device_of(*net).is_cpu());  // given back where it was made
      for (const auto& p : net->module().parameters()) {
        ASSERT_TRUE(torch::isfinite(p).all().item<bool>());
      }
      EXPECT_EQ(r.value().finished(), stop == 0);
    }
    EXPECT_EQ(resumed, (std::vector<int64_t>{0, 9, 12}));
  }
  // bfloat16 autocast on the GPU.
  SupernetTrainOptions o;
  o.batch_size = 64;
  o.device = gpu;
  o.bf16 = true;
  torch::manual_seed(1);
  auto net = make_supernet(ofa::spec_text(small_spec())).value();
  auto report = train_supernet(*net, images().x, images().y, o).value();
  EXPECT_EQ(report.steps, 8);
  EXPECT_TRUE(std::isfinite(report.last_loss));
}

TEST(SupernetDevice, EvaluatesOnTheSlotsGpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  TempDir dir;
  torch::set_num_threads(1);
  SupernetTrainOptions t;
  t.batch_size = 64;
  torch::manual_seed(2);
  auto trained = make_supernet(ofa::spec_text(small_spec())).value();
  ASSERT_TRUE(train_supernet(*trained, images().x, images().y, t).is_ok());
  const std::string path = dir.path() + "/ofa.pt";
  ASSERT_TRUE(save_supernet(*trained, path).is_ok());

  SupernetEvalOptions o;
  o.path = path;
  o.val_samples = 1000;
  o.calibration = 500;
  o.test_samples = 1000;
  Job job;
  job.arch = trained->space().make(trained->smallest()).value();
  NoReporter reporter;
  std::map<std::string, double> metrics[2];
  for (int i = 0; i < 2; ++i) {
    o.device = i == 0 ? "cpu" : "cuda";
    auto evaluator = make_supernet_evaluator(o).value();
    EXPECT_EQ(evaluator->slot_device(0), i == 0 ? "" : "cuda:0");
    EvalResult r = evaluator->evaluate(job, reporter);
    ASSERT_EQ(r.state, TrialState::kComplete) << r.message;
    metrics[i] = r.metrics;
  }
  // cuDNN's kernels differ from the CPU's in the last bits: a few images
  // of a thousand may change class, no more.
  EXPECT_NEAR(metrics[1]["val_acc"], metrics[0]["val_acc"], 1.0);
  EXPECT_NEAR(metrics[1]["test_acc"], metrics[0]["test_acc"], 1.0);
  EXPECT_EQ(metrics[1]["flops"], metrics[0]["flops"]);
  EXPECT_GT(metrics[1]["latency_ms"], 0);
  // The export calibrates on the GPU and writes weights that load on the CPU.
  o.device = "cuda";
  ASSERT_TRUE(export_subnet(o, job.arch, dir.path() + "/small.pt").is_ok());
  torch::jit::Module m = torch::jit::load(dir.path() + "/small.pt", torch::kCPU);
  for (const auto& p : m.parameters()) EXPECT_TRUE(p.device().is_cpu());
}

}  // namespace
}  // namespace sylva::evaluators
