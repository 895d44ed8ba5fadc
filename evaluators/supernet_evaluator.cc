#include "evaluators/supernet_evaluator.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <mutex>

#include "evaluators/idx_dataset.h"
#include "evaluators/supernet_trainer.h"
#include "spaces/ofa.h"
#include "spaces/ofa_space.h"

namespace sylva::evaluators {
namespace {

class SupernetEvaluator : public Evaluator {
 public:
  SupernetEvaluator(ofa::OfaNet net, at::Tensor val_x, at::Tensor val_y, at::Tensor calib,
                    at::Tensor test_x, at::Tensor test_y)
      : net_(std::move(net)),
        val_x_(std::move(val_x)),
        val_y_(std::move(val_y)),
        calib_(std::move(calib)),
        test_x_(std::move(test_x)),
        test_y_(std::move(test_y)) {}

  EvalResult evaluate(const Job& job, Reporter&) override {
    EvalResult r;
    const auto* space = dynamic_cast<const ofa::OfaSpace*>(job.space);
    if (!space) {
      r.state = TrialState::kFail;
      r.message = "--evaluator supernet evaluates the space supernet:FILE";
      return r;
    }
    auto config = space->config(job.arch.decisions);
    if (!config.is_ok()) {
      r.state = TrialState::kFail;
      r.message = config.status().message();
      return r;
    }
    // One supernet, activated per configuration: evaluations take turns.
    std::lock_guard<std::mutex> lock(mu_);
    torch::set_num_threads(std::max(1, job.threads));
    r.metrics["val_acc"] = subnet_accuracy(net_, config.value(), calib_, val_x_, val_y_);
    r.metrics["test_acc"] = subnet_accuracy(net_, config.value(), calib_, test_x_, test_y_);
    const ofa::OfaCost cost = net_->cost(config.value());
    r.metrics["params"] = static_cast<double>(cost.params);
    r.metrics["flops"] = static_cast<double>(cost.macs);
    return r;
  }

 private:
  std::mutex mu_;
  ofa::OfaNet net_;
  const at::Tensor val_x_, val_y_, calib_, test_x_, test_y_;
};

}  // namespace

StatusOr<std::unique_ptr<Evaluator>> make_supernet_evaluator(const SupernetEvalOptions& o) {
  auto net = ofa::load_supernet(o.path);
  if (!net.is_ok()) return net.status();
  auto data = load_idx_dataset(o.dataset.empty() ? kDefaultDatasetDir : o.dataset);
  if (!data.is_ok()) return data.status();
  const Dataset& d = data.value();
  const int64_t n = d.train_images.size(0);
  if (o.val_samples < 1 || o.val_samples + o.calibration > n) {
    return Status::error(
        fmt::format("--val-samples {} plus {} calibration images exceed the {} training images",
                    o.val_samples, o.calibration, n));
  }
  const int64_t test =
      o.test_samples > 0 ? std::min(o.test_samples, d.test_images.size(0)) : d.test_images.size(0);
  return std::unique_ptr<Evaluator>(
      new SupernetEvaluator(std::move(net).value(), d.train_images.narrow(0, 0, o.val_samples),
                            d.train_labels.narrow(0, 0, o.val_samples),
                            d.train_images.narrow(0, o.val_samples, o.calibration),
                            d.test_images.narrow(0, 0, test), d.test_labels.narrow(0, 0, test)));
}

Status export_subnet(const SupernetEvalOptions& o, const Space& space, const Architecture& arch,
                     const std::string& out) {
  const auto* configs = dynamic_cast<const ofa::OfaSpace*>(&space);
  if (!configs) return Status::error("export: not a supernet space");
  auto config = configs->config(arch.decisions);
  if (!config.is_ok()) return config.status();
  auto net = ofa::load_supernet(o.path);
  if (!net.is_ok()) return net.status();
  auto data = load_idx_dataset(o.dataset.empty() ? kDefaultDatasetDir : o.dataset);
  if (!data.is_ok()) return data.status();
  const at::Tensor calib = data.value().train_images.narrow(
      0, o.val_samples, std::min(o.calibration, data.value().train_images.size(0) - o.val_samples));
  net.value()->activate(config.value());
  std::vector<torch::Tensor> batches;
  for (int64_t i = 0; i < calib.size(0); i += 256) {
    batches.push_back(calib.narrow(0, i, std::min<int64_t>(256, calib.size(0) - i)));
  }
  net.value()->recalibrate(batches);
  net.value()->eval();
  try {
    net.value()->script(config.value()).save(out);
  } catch (const c10::Error& e) {
    return Status::error(
        fmt::format("export: cannot write '{}': {}", out, std::string(e.what_without_backtrace())));
  }
  return Status::ok();
}

}  // namespace sylva::evaluators
