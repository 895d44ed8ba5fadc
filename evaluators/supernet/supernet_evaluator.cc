#include "evaluators/supernet/supernet_evaluator.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

#include "base/thread_annotations.h"
#include "evaluators/registry.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "evaluators/train/compute_threads.h"
#include "evaluators/train/idx_dataset.h"
#include "evaluators/train/model_tools.h"
#include "spaces/supernets/supernet.h"

namespace sylva::evaluators {
namespace {

class SupernetEvaluator : public Evaluator {
 public:
  SupernetEvaluator(std::unique_ptr<Supernet> net, double max_latency_ms, at::Tensor val_x,
                    at::Tensor val_y, at::Tensor calib, at::Tensor test_x, at::Tensor test_y)
      : max_latency_ms_(max_latency_ms),
        master_(std::move(net)),
        val_x_(std::move(val_x)),
        val_y_(std::move(val_y)),
        calib_(std::move(calib)),
        test_x_(std::move(test_x)),
        test_y_(std::move(test_y)) {}

  EvalResult evaluate(const Job& job, Reporter&) override {
    EvalResult r;
    auto made = master_->space().make(job.arch.decisions);
    if (!made.is_ok()) {
      r.state = TrialState::kFail;
      r.message = made.status().message();
      return r;
    }
    set_compute_threads(std::max(1, job.threads));
    Lease net(*this);  // back to the pool however this returns or throws
    const std::vector<int>& d = job.arch.decisions;
    activate_recalibrated(*net, d, calib_);
    for (const auto& [name, value] : net->space().known_metrics(d)) r.metrics[name] = value;
    r.metrics["latency_ms"] = latency_ms(*net, d, job.threads);
    if (max_latency_ms_ > 0 && r.metrics["latency_ms"] > max_latency_ms_) {
      r.state = TrialState::kFail;
      r.message = fmt::format("latency {:.3f} ms per image is over --max-latency-ms {:g}",
                              r.metrics["latency_ms"], max_latency_ms_);
      return r;
    }
    r.metrics["val_acc"] = accuracy(*net, val_x_, val_y_);
    r.metrics["test_acc"] = accuracy(*net, test_x_, test_y_);
    return r;
  }

 private:
  // Activation and recalibration change a supernet's state, so each
  // concurrent evaluation leases a copy of its own: copies of the loaded
  // supernet (which is never activated) made as workers first need them and
  // returned to the pool when the lease ends, also by an exception (a
  // c10::Error in a forward pass). Recalibration starts from reset
  // statistics, so a result does not depend on which copy computed it.
  class Lease {
   public:
    explicit Lease(SupernetEvaluator& owner) : owner_(owner), net_(owner.take()) {}
    ~Lease() { owner_.give(std::move(net_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Supernet& operator*() { return *net_; }
    Supernet* operator->() { return net_.get(); }

   private:
    SupernetEvaluator& owner_;
    std::unique_ptr<Supernet> net_;
  };

  std::unique_ptr<Supernet> take() LOCKS_EXCLUDED(mu_) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return master_->copy();
    std::unique_ptr<Supernet> net = std::move(free_.back());
    free_.pop_back();
    return net;
  }
  void give(std::unique_ptr<Supernet> net) LOCKS_EXCLUDED(mu_) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(net));
  }

  // The median time of the standalone network (as exported) on one image,
  // on one thread: a batch of one is too small to share, and a thread team
  // waking per operation measures the machine's load, not the network. The
  // thread count is the process's, so measurements take turns, and the
  // worker's `threads` come back after.
  double latency_ms(Supernet& net, const std::vector<int>& d, int threads) {
    torch::jit::Module script = net.script(d);
    const torch::Tensor x = val_x_.narrow(0, 0, 1);
    std::lock_guard<std::mutex> lock(latency_mu_);
    set_compute_threads(1);
    torch::NoGradGuard no_grad;
    const double ms = median_latency_ms([&] { script.forward({x}); }, 3, 11);
    set_compute_threads(std::max(1, threads));
    return ms;
  }

  // Constant after construction
  const double max_latency_ms_;
  const std::unique_ptr<Supernet> master_;
  const at::Tensor val_x_, val_y_, calib_, test_x_, test_y_;

  std::mutex latency_mu_;  // one latency measurement at a time
  std::mutex mu_;
  std::vector<std::unique_ptr<Supernet>> free_ GUARDED_BY(mu_);
};

}  // namespace

StatusOr<std::unique_ptr<Evaluator>> make_supernet_evaluator(const SupernetEvalOptions& o) {
  auto net = load_supernet(o.path);
  if (!net.is_ok()) return net.status();
  auto data = load_idx_dataset(o.dataset.empty() ? kDefaultDatasetDir : o.dataset);
  if (!data.is_ok()) return data.status();
  SYLVA_ASSIGN(split,
               split_for_calibration(data.value(), o.val_samples, o.calibration, o.test_samples));
  return std::unique_ptr<Evaluator>(new SupernetEvaluator(std::move(net).value(), o.max_latency_ms,
                                                          split.val_x, split.val_y, split.rest_x,
                                                          split.test_x, split.test_y));
}

Status export_subnet(const SupernetEvalOptions& o, const Architecture& arch,
                     const std::string& out) {
  auto net = load_supernet(o.path);
  if (!net.is_ok()) return net.status();
  Supernet& sn = *net.value();
  auto made = sn.space().make(arch.decisions);
  if (!made.is_ok()) return made.status();
  auto data = load_idx_dataset(o.dataset.empty() ? kDefaultDatasetDir : o.dataset);
  if (!data.is_ok()) return data.status();
  const int64_t left = data.value().train_images.size(0) - o.val_samples;
  SYLVA_ASSIGN(split,
               split_for_training(data.value(), o.val_samples, std::min(o.calibration, left)));
  const at::Tensor calib = split.rest_x;
  activate_recalibrated(sn, arch.decisions, calib);
  sn.module().eval();
  try {
    sn.script(arch.decisions).save(out);
  } catch (const c10::Error& e) {
    return Status::io_error(
        fmt::format("export: cannot write '{}': {}", out, std::string(e.what_without_backtrace())));
  }
  return Status::ok();
}

Status write_subnet_model(const std::string& supernet_path, const Architecture& arch,
                          const std::string& out) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Supernet>> loaded;
  std::lock_guard<std::mutex> lock(mu);
  auto it = loaded.find(supernet_path);
  if (it == loaded.end()) {
    SYLVA_ASSIGN(net, load_supernet(supernet_path));
    it = loaded.emplace(supernet_path, std::move(net)).first;
  }
  Supernet& sn = *it->second;
  SYLVA_ASSIGN(made, sn.space().make(arch.decisions));
  (void)made;
  try {
    sn.module().eval();
    sn.script(arch.decisions).save(out);
  } catch (const c10::Error& e) {
    return Status::io_error(
        fmt::format("cannot write '{}': {}", out, std::string(e.what_without_backtrace())));
  }
  return Status::ok();
}

void register_supernet_evaluator() {
  register_evaluator(
      {"supernet",
       "a configuration of a trained supernet with inherited weights (--space supernet:FILE)",
       /*trains=*/false,
       nullptr,
       [](const OptionReader& c) -> StatusOr<std::unique_ptr<Evaluator>> {
         const std::string& space = c.text("space");
         if (space.rfind("supernet:", 0) != 0) {
           return Status::invalid_argument(fmt::format(
               "--evaluator supernet needs --space supernet:FILE (a trained supernet), got '{}'",
               space));
         }
         SupernetEvalOptions s;
         s.path = space.substr(9);
         s.dataset = c.text("dataset");
         SYLVA_ASSIGN(val_samples, c.integer("val-samples", 1));
         SYLVA_ASSIGN(test_samples, c.integer("test-samples", 0));
         s.val_samples = val_samples;
         s.test_samples = test_samples;
         if (c.given("max-latency-ms")) {  // older experiments lack it
           SYLVA_ASSIGN(ms, c.real("max-latency-ms", 0));
           s.max_latency_ms = ms;
         }
         if (c.given("calibration-samples")) {  // older experiments lack it
           SYLVA_ASSIGN(calibration, c.integer("calibration-samples", 1));
           s.calibration = calibration;
         }
         return make_supernet_evaluator(s);
       },
       {{"calibration-samples",
         "supernet evaluator and sweep: training images (after the validation ones) that "
         "recalibrate batch norm per configuration",
         std::to_string(SupernetEvalOptions().calibration), OptionDef::kFilled, true},
        {"max-latency-ms",
         "--evaluator supernet: a configuration whose standalone network takes longer per image "
         "(batch 1, one thread, median of 11 runs) fails with its measured latency",
         "", OptionDef::kFilled, true}},
       {{"max-latency-ms", "it measures each configuration"}},
       {"dataset", "val-samples", "test-samples"}});
}

}  // namespace sylva::evaluators
