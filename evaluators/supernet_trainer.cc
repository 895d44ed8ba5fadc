#include "evaluators/supernet_trainer.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <random>

namespace sylva::evaluators {

Status check_supernet_options(const SupernetTrainOptions& o) {
  if (o.schedule != "sandwich" && o.schedule != "deps") {
    return Status::error(fmt::format("--schedule must be sandwich or deps, got '{}'", o.schedule));
  }
  if (o.epochs < 1) return Status::error(fmt::format("--epochs must be >= 1, got {}", o.epochs));
  if (o.batch_size < 1) {
    return Status::error(fmt::format("--batch-size must be >= 1, got {}", o.batch_size));
  }
  if (o.random_subnets < 0) {
    return Status::error(fmt::format("--random-subnets must be >= 0, got {}", o.random_subnets));
  }
  if (o.shrink_start < 0 || o.shrink_start >= 1) {
    return Status::error(fmt::format("--shrink-start must be in [0, 1), got {}", o.shrink_start));
  }
  if (o.epsilon <= 0 || o.epsilon > 1) {
    return Status::error(fmt::format("--epsilon must be in (0, 1], got {}", o.epsilon));
  }
  return Status::ok();
}

SupernetTrainReport train_supernet(ofa::OfaNet& net, const at::Tensor& images,
                                   const at::Tensor& labels, const SupernetTrainOptions& o,
                                   const std::function<void(int64_t, int64_t)>& progress) {
  Status ok = check_supernet_options(o);
  if (!ok.is_ok()) throw std::invalid_argument(ok.message());
  const auto start = std::chrono::steady_clock::now();
  torch::manual_seed(o.seed);
  std::mt19937_64 rng(o.seed);
  const ofa::OfaSpec& spec = net->spec();
  const int64_t n = images.size(0);
  const int64_t per_epoch = std::max<int64_t>(1, n / o.batch_size);
  const int64_t total = per_epoch * o.epochs;
  torch::optim::SGD opt(
      net->parameters(),
      torch::optim::SGDOptions(o.lr).momentum(0.9).nesterov(true).weight_decay(5e-5));
  net->train();
  SupernetTrainReport report;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const torch::Tensor order = torch::randperm(n, torch::kLong);
    for (int64_t b = 0; b < per_epoch; ++b) {
      const int64_t step = epoch * per_epoch + b;
      const double lr = 0.5 * o.lr * (1 + std::cos(M_PI * static_cast<double>(step) / total));
      for (auto& group : opt.param_groups()) {
        static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
      }
      const torch::Tensor idx = order.narrow(0, b * o.batch_size, std::min(o.batch_size, n));
      const torch::Tensor x = images.index_select(0, idx);
      const torch::Tensor y = labels.index_select(0, idx);
      opt.zero_grad();
      // The largest sub-network learns from the labels and teaches the rest.
      net->activate(ofa::largest(spec));
      const torch::Tensor logits = net->forward(x);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      ++report.subnet_passes;
      report.last_loss = loss.item<double>();
      double scale = 1;
      bool shrink = true;
      if (o.schedule == "deps") {
        const double begin = o.shrink_start * static_cast<double>(total);
        shrink = step >= begin;
        // Linear ramp of the sub-networks' scale from epsilon to 1.
        const double t = (step - begin) / std::max(1.0, total - begin);
        scale = o.epsilon + (1 - o.epsilon) * std::clamp(t, 0.0, 1.0);
      }
      if (shrink) {
        const torch::Tensor teacher = torch::softmax(logits.detach() / o.temperature, 1);
        std::vector<ofa::OfaConfig> subnets = {ofa::smallest(spec)};
        for (int i = 0; i < o.random_subnets; ++i) subnets.push_back(ofa::random_config(spec, rng));
        for (const auto& c : subnets) {
          net->activate(c);
          const torch::Tensor student = torch::log_softmax(net->forward(x) / o.temperature, 1);
          const torch::Tensor kd = -(teacher * student).sum(1).mean();
          (kd * scale).backward();
          ++report.subnet_passes;
        }
      }
      opt.step();
      ++report.steps;
      if (progress) progress(report.steps, total);
    }
  }
  net->activate(ofa::largest(spec));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

double subnet_accuracy(ofa::OfaNet& net, const ofa::OfaConfig& config,
                       const at::Tensor& calibration, const at::Tensor& images,
                       const at::Tensor& labels, int64_t batch) {
  net->activate(config);
  std::vector<torch::Tensor> batches;
  for (int64_t i = 0; i < calibration.size(0); i += batch) {
    batches.push_back(calibration.narrow(0, i, std::min(batch, calibration.size(0) - i)));
  }
  net->recalibrate(batches);
  net->eval();
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t i = 0; i < images.size(0); i += batch) {
    const int64_t m = std::min(batch, images.size(0) - i);
    const torch::Tensor pred = net->forward(images.narrow(0, i, m)).argmax(1);
    correct += pred.eq(labels.narrow(0, i, m)).sum().item<int64_t>();
  }
  net->train();
  return 100.0 * static_cast<double>(correct) / static_cast<double>(images.size(0));
}

}  // namespace sylva::evaluators
