// Training a once-for-all supernet (spaces/ofa.h) with a sampling policy and
// a teacher policy rather than one hard-coded recipe:
//   sandwich  every step: the largest sub-network on the labels, then the
//             smallest and `random_subnets` random ones distilled in place
//             from the largest's outputs (BigNAS / once-for-all's sandwich
//             rule), gradients accumulated, one optimizer step;
//   deps      delayed epsilon-shrinking: the largest alone until
//             `shrink_start` of the steps, then the sandwich with the
//             sub-networks' loss scaled by a factor ramped from `epsilon`
//             to 1 over the rest, distilled from the partly trained largest.
// SGD with Nesterov momentum 0.9, weight decay 5e-5 and a cosine learning
// rate; seeded and deterministic for a given thread count.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>

#include "spaces/ofa.h"
#include "spaces/status.h"

namespace sylva::evaluators {

struct SupernetTrainOptions {
  std::string schedule = "sandwich";  // sandwich | deps
  int64_t epochs = 1;
  int64_t batch_size = 128;
  double lr = 0.05;
  int random_subnets = 2;
  double shrink_start = 0.5;  // deps: fraction of the steps trained by the largest alone
  double epsilon = 0.01;      // deps: the sub-networks' first loss scale
  double temperature = 1.0;   // of the in-place distillation
  uint64_t seed = 0;
};

struct SupernetTrainReport {
  int64_t steps = 0;
  int64_t subnet_passes = 0;  // forward + backward passes of sub-networks
  double seconds = 0;
  double last_loss = 0;  // of the largest sub-network, last step
};

// Validates the options: one line naming the option.
Status check_supernet_options(const SupernetTrainOptions& o);

// Trains `net` on `images` [N, C, H, W] and `labels` [N]. `progress` (may be
// empty) is called after each step with the step and the total.
SupernetTrainReport train_supernet(ofa::OfaNet& net, const at::Tensor& images,
                                   const at::Tensor& labels, const SupernetTrainOptions& options,
                                   const std::function<void(int64_t, int64_t)>& progress = {});

// Top-1 accuracy (%) of sub-network `config` after batch-norm recalibration
// on `calibration` images (in batches of `batch`).
double subnet_accuracy(ofa::OfaNet& net, const ofa::OfaConfig& config,
                       const at::Tensor& calibration, const at::Tensor& images,
                       const at::Tensor& labels, int64_t batch = 256);

}  // namespace sylva::evaluators
