#include "evaluators/supernet/supernet_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include "base/strings.h"
#include "evaluators/supernet/schedules.h"
#include "evaluators/train/train_evaluator.h"

namespace sylva::evaluators {
namespace {

// What a checkpoint must have been written with to continue this run: the
// options that shape the trajectory, the spec and the data.
std::string fingerprint(const SupernetTrainOptions& o, const std::string& spec,
                        const at::Tensor& images, const at::Tensor& labels) {
  const std::string only = o.only ? fmt::format("{}", fmt::join(*o.only, ",")) : "-";
  return fmt::format(
      "schedule={}\nepochs={}\nbatch-size={}\nlr={}\nrandom-subnets={}\nshrink-start={}\n"
      "epsilon={}\ntemperature={}\nkd-ratio={}\nsort-channels={}\nseed={}\nonly={}\nspec={}\n"
      "images={}\nlabel-sum={}\n",
      o.schedule, o.epochs, o.batch_size, o.lr, o.random_subnets, o.shrink_start, o.epsilon,
      o.temperature, o.kd_ratio, o.sort_channels, o.seed, only, spec, images.size(0),
      labels.sum().item<int64_t>());
}

// The first line where two fingerprints differ, as "key: a vs b".
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  while (true) {
    const bool ga = static_cast<bool>(std::getline(sa, la));
    const bool gb = static_cast<bool>(std::getline(sb, lb));
    if (!ga && !gb) return "";
    if (la != lb) {
      const std::string key = la.substr(0, la.find('='));
      return fmt::format("{} was {} there, {} here", key, la.substr(la.find('=') + 1),
                         lb.substr(lb.find('=') + 1));
    }
  }
}

SchedulePhase phase_at(const SupernetTrainOptions& o, int64_t step, int64_t total) {
  if (o.only) return {"standalone", false};
  return find_schedule(o.schedule)->phase(o, step, total);
}

// The first step of the phase whose channels are sorted (-1: none).
int64_t sort_step(const SupernetTrainOptions& o, int64_t total) {
  if (!o.sort_channels || o.only) return -1;
  for (int64_t s = 0; s < total; ++s) {
    const std::string name = phase_at(o, s, total).name;
    if (name == "expand" || name == "shrink") return s;
  }
  return -1;
}

Status write_checkpoint(const std::string& path, const std::string& print, int64_t step,
                        const std::string& phase, Supernet& net, torch::optim::SGD& opt,
                        Supernet* teacher) {
  const std::string tmp = path + ".tmp";
  try {
    torch::serialize::OutputArchive archive, model, optimizer;
    archive.write("fingerprint", c10::IValue(print));
    archive.write("step", c10::IValue(step));
    archive.write("phase", c10::IValue(phase));  // for people reading the file
    net.module().save(model);
    archive.write("model", model);
    opt.save(optimizer);
    archive.write("optimizer", optimizer);
    if (teacher) {
      torch::serialize::OutputArchive t;
      teacher->module().save(t);
      archive.write("teacher", t);
    }
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    return Status::io_error(fmt::format("cannot write checkpoint '{}': {}", tmp,
                                        std::string(e.what_without_backtrace())));
  }
  // A rename is atomic: a kill leaves the old checkpoint or the new one.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::io_error(fmt::format("cannot replace checkpoint '{}'", path));
  }
  return Status::ok();
}

// Loads a checkpoint into net, opt and teacher, its tensors read onto
// `device` (where the run that resumes it trains, whatever device wrote it);
// returns the step it holds.
StatusOr<int64_t> read_checkpoint(const std::string& path, const std::string& print, Supernet& net,
                                  torch::optim::SGD& opt, std::unique_ptr<Supernet>& teacher,
                                  const c10::Device& device) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const c10::Error&) {
    return Status::corruption(fmt::format("checkpoint '{}' is not readable", path));
  }
  c10::IValue stored, step;
  if (!archive.try_read("fingerprint", stored) || !stored.isString() ||
      !archive.try_read("step", step) || !step.isInt()) {
    return Status::corruption(fmt::format("'{}' is not a supernet checkpoint", path));
  }
  if (stored.toStringRef() != print) {
    return Status::failed_precondition(
        fmt::format("checkpoint '{}' belongs to another run ({}); delete it to start over", path,
                    first_difference(stored.toStringRef(), print)));
  }
  try {
    torch::serialize::InputArchive model, optimizer, t;
    archive.read("model", model);
    net.module().load(model);
    archive.read("optimizer", optimizer);
    opt.load(optimizer);
    if (archive.try_read("teacher", t)) {
      teacher = net.copy();
      teacher->module().to(device);
      teacher->module().load(t);
      teacher->module().eval();
    }
  } catch (const c10::Error& e) {
    return Status::corruption(fmt::format("checkpoint '{}' is damaged: {}", path,
                                          std::string(e.what_without_backtrace())));
  }
  return step.toInt();
}

// The device of a module's weights (the CPU when it has none).
c10::Device device_of(torch::nn::Module& m) {
  const auto p = m.parameters();
  return p.empty() ? c10::Device(c10::kCPU) : p.front().device();
}

// Keeps a module on `device` while alive, then moves it back (weights,
// statistics and gradients) to where it was, however training returns.
class OnDevice {
 public:
  OnDevice(torch::nn::Module& m, const c10::Device& device) : m_(m), home_(device_of(m)) {
    if (device != home_) m_.to(device);
  }
  ~OnDevice() {
    if (device_of(m_) == home_) return;
    try {
      m_.to(home_);
      for (auto& p : m_.parameters()) {
        if (p.grad().defined()) p.mutable_grad() = p.grad().to(home_);
      }
    } catch (const c10::Error& e) {
      // A destructor must not throw; the weights stay where they trained.
      std::fprintf(stderr, "supernet: cannot move the weights back to %s: %s\n",
                   home_.str().c_str(), e.what_without_backtrace());
    }
  }
  OnDevice(const OnDevice&) = delete;
  OnDevice& operator=(const OnDevice&) = delete;

 private:
  torch::nn::Module& m_;
  const c10::Device home_;
};

}  // namespace

Status check_supernet_options(const SupernetTrainOptions& o) {
  if (!find_schedule(o.schedule)) {
    std::vector<std::string> names;
    for (const Schedule& s : schedules()) names.push_back(s.name);
    return Status::invalid_argument(
        fmt::format("--schedule must be {}, got '{}'", join_words(names), o.schedule));
  }
  if (o.epochs < 1)
    return Status::invalid_argument(fmt::format("--epochs must be >= 1, got {}", o.epochs));
  if (o.batch_size < 1) {
    return Status::invalid_argument(fmt::format("--batch-size must be >= 1, got {}", o.batch_size));
  }
  if (!(o.lr > 0 && o.lr <= kMaxLr)) {
    return Status::invalid_argument(
        fmt::format("--lr must be in (0, {:g}], got {:g}", kMaxLr, o.lr));
  }
  if (o.random_subnets < 0) {
    return Status::invalid_argument(
        fmt::format("--random-subnets must be >= 0, got {}", o.random_subnets));
  }
  const Schedule& schedule = *find_schedule(o.schedule);
  if (o.random_subnets < schedule.min_random_subnets) {
    return Status::invalid_argument(
        fmt::format("--random-subnets must be >= {} with --schedule {}, got {}",
                    schedule.min_random_subnets, schedule.name, o.random_subnets));
  }
  if (o.shrink_start < 0 || o.shrink_start >= 1) {
    return Status::invalid_argument(
        fmt::format("--shrink-start must be in [0, 1), got {}", o.shrink_start));
  }
  if (o.epsilon <= 0 || o.epsilon > 1) {
    return Status::invalid_argument(fmt::format("--epsilon must be in (0, 1], got {}", o.epsilon));
  }
  return Status::ok();
}

Status check_schedule(const SupernetTrainOptions& o, const Supernet& net) {
  if (o.only) return Status::ok();
  const std::string unfit = find_schedule(o.schedule)->unfit(net);
  if (!unfit.empty()) return Status::invalid_argument(unfit);
  return Status::ok();
}

std::string supernet_phase(const SupernetTrainOptions& o, int64_t step, int64_t total) {
  return phase_at(o, step, total).name;
}

StatusOr<SupernetTrainReport> train_supernet(
    Supernet& net, const at::Tensor& images, const at::Tensor& labels,
    const SupernetTrainOptions& o, const SupernetCheckpoint& checkpoint,
    const std::function<void(const SupernetProgress&)>& progress) {
  Status ok = check_supernet_options(o);
  if (!ok.is_ok()) return ok;
  Status fits = check_schedule(o, net);
  if (!fits.is_ok()) return fits;
  if (o.only) {
    auto made = net.space().make(*o.only);
    if (!made.is_ok()) return made.status();
  }
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = images.size(0);
  const int64_t per_epoch = std::max<int64_t>(1, n / o.batch_size);
  SupernetTrainReport report;
  report.total = per_epoch * o.epochs;
  const int64_t total = report.total;
  // Initialised where the caller made it (the CPU, from its seed), trained
  // on the device.
  const OnDevice on_device(net.module(), o.device);
  torch::optim::SGD opt(
      net.module().parameters(),
      torch::optim::SGDOptions(o.lr).momentum(0.9).nesterov(true).weight_decay(5e-5));
  // Every gradient defined from the start: the optimizer then updates every
  // weight every step (decay, momentum), whether or not the step's
  // sub-networks used it, in a fresh run and a resumed one alike.
  for (auto& p : net.module().parameters()) p.mutable_grad() = torch::zeros_like(p);
  std::unique_ptr<Supernet> teacher;
  const std::string print = fingerprint(o, net.spec_text(), images, labels);
  if (!checkpoint.path.empty() && std::filesystem::exists(checkpoint.path)) {
    auto step = read_checkpoint(checkpoint.path, print, net, opt, teacher, o.device);
    if (!step.is_ok()) return step.status();
    report.resumed_from = report.steps = step.value();
    if (checkpoint.resumed) checkpoint.resumed(report.resumed_from, total);
  }
  const Schedule& schedule = *find_schedule(o.schedule);
  const int64_t sorted_at = sort_step(o, total);
  const std::vector<int> big = o.only ? *o.only : net.largest();
  net.module().train();
  int64_t done_here = 0;
  while (report.steps < total) {
    if (checkpoint.stop_after > 0 && done_here == checkpoint.stop_after) break;
    const int64_t step = report.steps;
    const int64_t epoch = step / per_epoch, b = step % per_epoch;
    const SchedulePhase phase = phase_at(o, step, total);
    if (step == sorted_at) {
      // The momentum belongs to the old channel order: the shrinking phase
      // starts with a fresh optimizer state, as once-for-all's phases do.
      if (net.sort_channels()) opt.state().clear();
    }
    if (step == 0 || phase_at(o, step - 1, total).name != phase.name) {
      // A fixed batch, whatever the step: resuming gives the same fit.
      net.begin_phase(phase.name, images.narrow(0, 0, std::min<int64_t>(256, n)).to(o.device));
    }
    if (schedule.teacher && phase.shrink && !teacher) {
      teacher = net.copy();  // made on the CPU
      teacher->module().to(o.device);
      teacher->module().eval();
    }
    const double lr = 0.5 * o.lr * (1 + std::cos(M_PI * static_cast<double>(step) / total));
    for (auto& group : opt.param_groups()) {
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    }
    // Drawn on the CPU whatever the device: the same batches everywhere.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed * 1000003 + epoch);
    const torch::Tensor order = torch::randperm(n, gen, torch::kLong);
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(step));
    const torch::Tensor idx = order.narrow(0, b * o.batch_size, std::min(o.batch_size, n));
    const torch::Tensor x = images.index_select(0, idx.to(images.device())).to(o.device);
    const torch::Tensor y = labels.index_select(0, idx.to(labels.device())).to(o.device);
    opt.zero_grad();
    ScheduleStep run{net, x, y, rng, o, phase, step, total, big, teacher.get(), report};
    schedule.step(run);
    opt.step();
    ++report.steps;
    ++done_here;
    if (!checkpoint.path.empty() && (report.steps % std::max<int64_t>(1, checkpoint.every) == 0 ||
                                     report.steps == total || done_here == checkpoint.stop_after)) {
      Status saved = write_checkpoint(checkpoint.path, print, report.steps, phase.name, net, opt,
                                      teacher.get());
      if (!saved.is_ok()) return saved;
    }
    if (progress) progress({report.steps, total, phase.name, report.last_loss});
  }
  net.activate(big);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace sylva::evaluators
