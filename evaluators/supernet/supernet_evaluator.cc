#include "evaluators/supernet/supernet_evaluator.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

#include "base/thread_annotations.h"
#include "evaluators/data/dataset.h"
#include "evaluators/registry.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "evaluators/train/compute_threads.h"
#include "evaluators/train/device.h"
#include "evaluators/train/model_tools.h"
#include "spaces/supernets/supernet.h"

namespace sylva::evaluators {
namespace {

// The split's tensors copied to `device`.
DataSplit to_device(const DataSplit& s, const c10::Device& device) {
  return {s.val_x.to(device),  s.val_y.to(device),  s.rest_x.to(device),
          s.rest_y.to(device), s.test_x.to(device), s.test_y.to(device)};
}

class SupernetEvaluator : public Evaluator {
 public:
  SupernetEvaluator(std::unique_ptr<Supernet> net, double max_latency_ms, DevicePlan plan,
                    DataSplit data, std::string data_summary)
      : max_latency_ms_(max_latency_ms),
        plan_(std::move(plan)),
        master_(std::move(net)),
        data_(std::move(data)),
        data_summary_(std::move(data_summary)) {}

  EvalResult evaluate(const Job& job, Reporter&) override {
    EvalResult r;
    auto made = master_->space().make(job.arch.decisions);
    if (!made.is_ok()) {
      r.state = TrialState::kFail;
      r.message = made.status().message();
      return r;
    }
    set_compute_threads(std::max(1, job.threads));
    const c10::Device device = plan_.device_for_slot(job.slot);
    const DataSplit& data = data_on(device);
    Lease net(*this, device);  // back to the pool however this returns or throws
    const std::vector<int>& d = job.arch.decisions;
    activate_recalibrated(*net, d, data.rest_x);
    for (const auto& [name, value] : net->space().known_metrics(d)) r.metrics[name] = value;
    r.metrics["latency_ms"] = latency_ms(*net, d, job.threads);
    if (max_latency_ms_ > 0 && r.metrics["latency_ms"] > max_latency_ms_) {
      r.state = TrialState::kFail;
      r.message = fmt::format("latency {:.3f} ms per image is over --max-latency-ms {:g}",
                              r.metrics["latency_ms"], max_latency_ms_);
      return r;
    }
    r.metrics["val_acc"] = accuracy(*net, data.val_x, data.val_y);
    r.metrics["test_acc"] = accuracy(*net, data.test_x, data.test_y);
    return r;
  }

  std::string slot_device(int slot) const override { return plan_.slot_name(slot); }
  std::string data_summary() const override { return data_summary_; }

 private:
  // Activation and recalibration change a supernet's state, so each
  // concurrent evaluation leases a copy of its own, on its slot's device:
  // copies of the loaded supernet (which is never activated and stays on
  // the CPU) made as workers first need them and returned to that device's
  // pool when the lease ends, also by an exception (a c10::Error in a
  // forward pass). Recalibration starts from reset statistics, so a result
  // does not depend on which copy computed it.
  class Lease {
   public:
    Lease(SupernetEvaluator& owner, const c10::Device& device)
        : owner_(owner), device_(device), net_(owner.take(device)) {}
    ~Lease() { owner_.give(device_, std::move(net_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Supernet& operator*() { return *net_; }
    Supernet* operator->() { return net_.get(); }

   private:
    SupernetEvaluator& owner_;
    const c10::Device device_;
    std::unique_ptr<Supernet> net_;
  };

  std::unique_ptr<Supernet> take(const c10::Device& device) LOCKS_EXCLUDED(mu_) {
    std::unique_ptr<Supernet> net;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& pool = free_[device.str()];
      if (!pool.empty()) {
        net = std::move(pool.back());
        pool.pop_back();
        return net;
      }
      net = master_->copy();  // on the CPU
    }
    if (!device.is_cpu()) net->module().to(device);
    return net;
  }
  void give(const c10::Device& device, std::unique_ptr<Supernet> net) LOCKS_EXCLUDED(mu_) {
    std::lock_guard<std::mutex> lock(mu_);
    free_[device.str()].push_back(std::move(net));
  }

  // The images on `device`: the CPU's as loaded, a GPU's copied on its
  // first evaluation.
  const DataSplit& data_on(const c10::Device& device) LOCKS_EXCLUDED(data_mu_) {
    if (device.is_cpu()) return data_;
    std::lock_guard<std::mutex> lock(data_mu_);
    auto it = on_devices_.find(device.str());
    if (it == on_devices_.end())
      it = on_devices_.emplace(device.str(), to_device(data_, device)).first;
    return it->second;  // a map's elements stay where they are
  }

  // The median time of the standalone network (as exported, on the CPU) on
  // one image, on one thread: a batch of one is too small to share, and a
  // thread team waking per operation measures the machine's load, not the
  // network. The thread count is the process's, so measurements take
  // turns, and the worker's `threads` come back after.
  double latency_ms(Supernet& net, const std::vector<int>& d, int threads) {
    torch::jit::Module script = net.script(d);
    script.to(torch::kCPU);
    const torch::Tensor x = data_.val_x.narrow(0, 0, 1);
    std::lock_guard<std::mutex> lock(latency_mu_);
    set_compute_threads(1);
    torch::NoGradGuard no_grad;
    const double ms = median_latency_ms([&] { script.forward({x}); }, 3, 11);
    set_compute_threads(std::max(1, threads));
    return ms;
  }

  // Constant after construction
  const double max_latency_ms_;
  const DevicePlan plan_;
  const std::unique_ptr<Supernet> master_;
  const DataSplit data_;  // on the CPU; only read
  const std::string data_summary_;

  std::mutex latency_mu_;  // one latency measurement at a time
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Supernet>>> free_ GUARDED_BY(mu_);  // by device
  std::mutex data_mu_;
  std::map<std::string, DataSplit> on_devices_ GUARDED_BY(data_mu_);  // by GPU; only read once made
};

// The text of an option older experiments lack, or `fallback`.
std::string text_or(const OptionReader& c, const std::string& name, const std::string& fallback) {
  return c.given(name) ? c.text(name) : fallback;
}

}  // namespace

DataOptions data_options(const SupernetEvalOptions& o) {
  DataOptions d;
  d.path = o.dataset;
  d.format = o.dataset_format;
  d.label = o.label;
  d.image_size = o.image_size;
  d.target = o.target;
  return d;
}

StatusOr<Dataset> load_supernet_images(const DataOptions& options) {
  SYLVA_ASSIGN(data, load_dataset(options));
  if (!data.is_images()) {
    return Status::invalid_argument(fmt::format(
        "--dataset {} is a {} table; supernets are networks of images", data.path, data.format));
  }
  return data;
}

StatusOr<SupernetEvalOptions> supernet_eval_options(const OptionReader& c) {
  const std::string& space = c.text("space");
  if (space.rfind("supernet:", 0) != 0) {
    return Status::invalid_argument(fmt::format(
        "--evaluator supernet needs --space supernet:FILE (a trained supernet), got '{}'", space));
  }
  const SupernetEvalOptions d;
  SupernetEvalOptions s;
  s.path = space.substr(9);
  SYLVA_ASSIGN(data, read_data_options(c));
  s.dataset = data.path;
  s.dataset_format = data.format;
  s.label = data.label;
  s.image_size = data.image_size;
  s.target = data.target;
  s.device = text_or(c, "device", d.device);
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
  return s;
}

StatusOr<std::unique_ptr<Evaluator>> make_supernet_evaluator(const SupernetEvalOptions& o) {
  // The device first: a run that cannot start says so before anything loads.
  SYLVA_ASSIGN(plan, plan_device(o.device, "fp32", "off"));
  auto net = load_supernet(o.path);
  if (!net.is_ok()) return net.status();
  SYLVA_ASSIGN(data, load_supernet_images(data_options(o)));
  SYLVA_ASSIGN(split, split_for_calibration(data, o.val_samples, o.calibration, o.test_samples));
  return std::unique_ptr<Evaluator>(new SupernetEvaluator(std::move(net).value(), o.max_latency_ms,
                                                          std::move(plan), std::move(split),
                                                          data.summary_json()));
}

Status export_subnet(const SupernetEvalOptions& o, const Architecture& arch,
                     const std::string& out) {
  SYLVA_ASSIGN(plan, plan_device(o.device, "fp32", "off"));
  auto net = load_supernet(o.path);
  if (!net.is_ok()) return net.status();
  Supernet& sn = *net.value();
  auto made = sn.space().make(arch.decisions);
  if (!made.is_ok()) return made.status();
  SYLVA_ASSIGN(data, load_supernet_images(data_options(o)));
  const int64_t left = data.train_images.size(0) - o.val_samples;
  SYLVA_ASSIGN(split, split_for_training(data, o.val_samples, std::min(o.calibration, left)));
  const c10::Device device = plan.device_for_slot(0);
  sn.module().to(device);
  activate_recalibrated(sn, arch.decisions, split.rest_x.to(device));
  sn.module().eval();
  try {
    torch::jit::Module script = sn.script(arch.decisions);
    script.to(torch::kCPU);  // loads anywhere
    script.save(out);
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
         SYLVA_ASSIGN(s, supernet_eval_options(c));
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
       {"dataset", "dataset-format", "label", "image-size", "target", "device", "val-samples",
        "test-samples"}});
}

}  // namespace sylva::evaluators
