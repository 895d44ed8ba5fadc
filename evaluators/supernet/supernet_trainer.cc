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

namespace sylva::evaluators {
namespace {

const char* const kSchedules[] = {"progressive", "sandwich", "nested", "deps", "stitch"};

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

struct Phase {
  std::string name;
  bool shrink = false;  // sub-networks besides the largest are trained
};

Phase phase_at(const SupernetTrainOptions& o, int64_t step, int64_t total) {
  if (o.only) return {"standalone", false};
  const double t = static_cast<double>(step) / static_cast<double>(total);
  if (o.schedule == "progressive") {
    static const char* const names[] = {"full", "kernel", "depth", "expand"};
    const int q = std::min(3, static_cast<int>(step * 4 / total));
    return {names[q], q > 0};
  }
  if (o.schedule == "deps") return t < o.shrink_start ? Phase{"full"} : Phase{"shrink", true};
  if (o.schedule == "nested") return {"nested", true};
  if (o.schedule == "stitch") return t < o.shrink_start ? Phase{"anchors"} : Phase{"stitch", true};
  return {"sandwich", true};
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

// Soft-target cross-entropy of `logits` against the teacher's probabilities.
torch::Tensor distillation(const torch::Tensor& logits, const torch::Tensor& teacher,
                           double temperature) {
  return -(teacher * torch::log_softmax(logits / temperature, 1)).sum(1).mean();
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
    return Status::error(fmt::format("cannot write checkpoint '{}': {}", tmp,
                                     std::string(e.what_without_backtrace())));
  }
  // A rename is atomic: a kill leaves the old checkpoint or the new one.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::error(fmt::format("cannot replace checkpoint '{}'", path));
  }
  return Status::ok();
}

// Loads a checkpoint into net, opt and teacher; returns the step it holds.
StatusOr<int64_t> read_checkpoint(const std::string& path, const std::string& print, Supernet& net,
                                  torch::optim::SGD& opt, std::unique_ptr<Supernet>& teacher) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    return Status::error(fmt::format("checkpoint '{}' is not readable", path));
  }
  c10::IValue stored, step;
  if (!archive.try_read("fingerprint", stored) || !stored.isString() ||
      !archive.try_read("step", step) || !step.isInt()) {
    return Status::error(fmt::format("'{}' is not a supernet checkpoint", path));
  }
  if (stored.toStringRef() != print) {
    return Status::error(
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
      teacher->module().load(t);
      teacher->module().eval();
    }
  } catch (const c10::Error& e) {
    return Status::error(fmt::format("checkpoint '{}' is damaged: {}", path,
                                     std::string(e.what_without_backtrace())));
  }
  return step.toInt();
}

}  // namespace

Status check_supernet_options(const SupernetTrainOptions& o) {
  if (std::find(std::begin(kSchedules), std::end(kSchedules), o.schedule) == std::end(kSchedules)) {
    return Status::error(fmt::format(
        "--schedule must be progressive, sandwich, nested, deps or stitch, got '{}'", o.schedule));
  }
  if (o.epochs < 1) return Status::error(fmt::format("--epochs must be >= 1, got {}", o.epochs));
  if (o.batch_size < 1) {
    return Status::error(fmt::format("--batch-size must be >= 1, got {}", o.batch_size));
  }
  if (o.random_subnets < 0) {
    return Status::error(fmt::format("--random-subnets must be >= 0, got {}", o.random_subnets));
  }
  if (o.schedule == "progressive" && o.random_subnets < 1) {
    return Status::error("--random-subnets must be >= 1 with --schedule progressive, got 0");
  }
  if (o.shrink_start < 0 || o.shrink_start >= 1) {
    return Status::error(fmt::format("--shrink-start must be in [0, 1), got {}", o.shrink_start));
  }
  if (o.epsilon <= 0 || o.epsilon > 1) {
    return Status::error(fmt::format("--epsilon must be in (0, 1], got {}", o.epsilon));
  }
  return Status::ok();
}

Status check_schedule(const SupernetTrainOptions& o, const Supernet& net) {
  if ((o.schedule == "stitch") != (net.family() == "stitch") && !o.only) {
    return Status::error(
        net.family() == "stitch"
            ? fmt::format("family stitch trains with --schedule stitch (anchors, then their "
                          "stitches), got --schedule {}",
                          o.schedule)
            : fmt::format("--schedule stitch trains the anchors of a stitch supernet; family {} "
                          "takes progressive, sandwich, nested or deps",
                          net.family()));
  }
  if (o.schedule == "progressive" && !net.has_phase("kernel")) {
    return Status::error(fmt::format(
        "--schedule progressive shrinks kernels, depths and expand ratios (family ofa); family "
        "{} has none",
        net.family()));
  }
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
    auto step = read_checkpoint(checkpoint.path, print, net, opt, teacher);
    if (!step.is_ok()) return step.status();
    report.resumed_from = report.steps = step.value();
  }
  const int64_t sorted_at = sort_step(o, total);
  const std::vector<int> big = o.only ? *o.only : net.largest();
  net.module().train();
  int64_t done_here = 0;
  while (report.steps < total) {
    if (checkpoint.stop_after > 0 && done_here == checkpoint.stop_after) break;
    const int64_t step = report.steps;
    const int64_t epoch = step / per_epoch, b = step % per_epoch;
    const Phase phase = phase_at(o, step, total);
    if (step == sorted_at) {
      // The momentum belongs to the old channel order: the shrinking phase
      // starts with a fresh optimizer state, as once-for-all's phases do.
      if (net.sort_channels()) opt.state().clear();
    }
    if (step == 0 || phase_at(o, step - 1, total).name != phase.name) {
      // A fixed batch, whatever the step: resuming gives the same fit.
      net.begin_phase(phase.name, images.narrow(0, 0, std::min<int64_t>(256, n)));
    }
    if (o.schedule == "progressive" && phase.shrink && !teacher) {
      teacher = net.copy();
      teacher->module().eval();
    }
    const double lr = 0.5 * o.lr * (1 + std::cos(M_PI * static_cast<double>(step) / total));
    for (auto& group : opt.param_groups()) {
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    }
    auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed * 1000003 + epoch);
    const torch::Tensor order = torch::randperm(n, gen, torch::kLong);
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(step));
    const torch::Tensor idx = order.narrow(0, b * o.batch_size, std::min(o.batch_size, n));
    const torch::Tensor x = images.index_select(0, idx);
    const torch::Tensor y = labels.index_select(0, idx);
    opt.zero_grad();
    if (o.schedule == "stitch") {
      // Anchors first, each on its own; then one configuration a step.
      std::vector<std::vector<int>> configs = net.anchors();
      if (phase.shrink) configs = {net.sample("", rng)};
      for (const auto& c : configs) {
        net.activate(c);
        const torch::Tensor ce = torch::nn::functional::cross_entropy(net.forward(x), y);
        ce.backward();
        ++report.subnet_passes;
        report.last_loss = ce.item<double>();
      }
    } else if (o.schedule == "progressive" && phase.shrink) {
      torch::Tensor soft;
      {
        torch::NoGradGuard no_grad;
        soft = torch::softmax(teacher->forward(x) / o.temperature, 1);
      }
      for (int i = 0; i < o.random_subnets; ++i) {
        net.activate(net.sample(phase.name, rng));
        const torch::Tensor logits = net.forward(x);
        const torch::Tensor ce = torch::nn::functional::cross_entropy(logits, y);
        (ce + o.kd_ratio * distillation(logits, soft, o.temperature)).backward();
        ++report.subnet_passes;
        report.last_loss = ce.item<double>();
      }
    } else {
      // The largest sub-network learns from the labels and teaches the rest.
      net.activate(big);
      const torch::Tensor logits = net.forward(x);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      ++report.subnet_passes;
      report.last_loss = loss.item<double>();
      if (phase.shrink) {
        double scale = 1;
        if (o.schedule == "deps") {
          // Linear ramp of the sub-networks' scale from epsilon to 1.
          const double begin = std::ceil(o.shrink_start * static_cast<double>(total));
          const double t = (step - begin) / std::max(1.0, total - begin);
          scale = o.epsilon + (1 - o.epsilon) * std::clamp(t, 0.0, 1.0);
        }
        if (o.schedule == "nested") {
          // SortedNet / MatFormer: nested models on the labels alone.
          for (int i = 0; i < o.random_subnets; ++i) {
            net.activate(net.sample("nested", rng));
            torch::nn::functional::cross_entropy(net.forward(x), y).backward();
            ++report.subnet_passes;
          }
        } else {
          const torch::Tensor soft = torch::softmax(logits.detach() / o.temperature, 1);
          std::vector<std::vector<int>> subnets = {net.smallest()};
          for (int i = 0; i < o.random_subnets; ++i) subnets.push_back(net.sample("", rng));
          for (const auto& c : subnets) {
            net.activate(c);
            (distillation(net.forward(x), soft, o.temperature) * scale).backward();
            ++report.subnet_passes;
          }
        }
      }
    }
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
