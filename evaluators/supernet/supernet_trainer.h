// Training a weight-sharing supernet (spaces/supernet.h) with a sampling
// policy and a teacher policy rather than one hard-coded recipe:
//   progressive  once-for-all's progressive shrinking: the largest
//                sub-network alone for the first quarter of the steps, then
//                a quarter each of elastic kernel, elastic depth (kernel and
//                depth sampled) and elastic expand ratio (everything
//                sampled), `random_subnets` sub-networks per step with their
//                gradients accumulated, each learning from the labels and
//                from a frozen copy of the full network taken at the end of
//                the first quarter (knowledge distillation); channels are
//                sorted by importance when the expand phase begins;
//   sandwich     every step: the largest sub-network on the labels, then the
//                smallest and `random_subnets` random ones distilled in
//                place from the largest's outputs (BigNAS / once-for-all's
//                sandwich rule), gradients accumulated, one optimizer step;
//   nested       SortedNet / MatFormer: every step the largest and
//                `random_subnets` models of the family's nested ladder, each
//                on the labels, gradients accumulated;
//   stitch       SN-Net: every anchor on its own (each on the labels) until
//                `shrink_start` of the steps, then the stitching layers are
//                fitted by least squares and one configuration a step is
//                trained (anchors and stitches alike);
//   deps         delayed epsilon-shrinking: the largest alone until
//                `shrink_start` of the steps, channels sorted, then the
//                sandwich with the sub-networks' loss scaled by a factor
//                ramped from `epsilon` to 1 over the rest, distilled in
//                place from the partly trained largest.
// Every schedule samples what the family makes elastic (ofa: the input
// resolution too). progressive needs a family with its phases (ofa).
// SGD with Nesterov momentum 0.9, weight decay 5e-5 and one cosine learning
// rate over all the steps.
//
// Runs are seeded and resumable: the order of each epoch's images and the
// sub-networks of each step are functions of (seed, epoch) and (seed, step),
// so a checkpoint (weights and statistics, optimizer state, step, phase and
// the teacher) is all a killed run needs to continue exactly where it
// stopped, giving the same weights as a run that was never interrupted.
//
// Training runs on `SupernetTrainOptions::device` (the CLI's --device,
// evaluators/train/device.h): the supernet, its teacher and each batch are
// moved there, while every random draw stays on CPU generators, so the
// batches and sub-networks of a run are the same on any device. A
// checkpoint is read onto the device of the run that resumes it, so one
// written on a GPU continues on the CPU and back (the device is not part of
// its fingerprint).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/status.h"
#include "spaces/supernets/supernet.h"

namespace sylva::evaluators {

struct SupernetTrainOptions {
  std::string schedule = "sandwich";  // progressive | sandwich | nested | deps | stitch
  int64_t epochs = 1;
  int64_t batch_size = 128;
  double lr = 0.05;
  int random_subnets = 2;
  double shrink_start = 0.5;  // deps: fraction of the steps trained by the largest alone;
                              // stitch: by the anchors alone
  double epsilon = 0.01;      // deps: the sub-networks' first loss scale
  double temperature = 1.0;   // of the distillation
  double kd_ratio = 1.0;      // progressive: weight of the distillation loss
  bool sort_channels = true;  // progressive and deps: sort before widths shrink
  uint64_t seed = 0;
  // Where the forward and backward passes run; the supernet comes back on
  // the device it was given on.
  c10::Device device = c10::Device(c10::kCPU);
  // Forward passes under bfloat16 autocast (--precision bf16); the losses
  // are computed in float32.
  bool bf16 = false;
  // Standalone training of one configuration (labels only, nothing shared):
  // the baseline the schedules are measured against.
  std::optional<std::vector<int>> only;  // decisions in the supernet's space
};

// Where and how often train_supernet saves its state.
struct SupernetCheckpoint {
  std::string path;        // empty: no checkpoints; resumes when the file exists
  int64_t every = 10;      // steps between checkpoints (and after the last)
  int64_t stop_after = 0;  // > 0: return after this many steps of this call
  // Called once the checkpoint at `path` is read and accepted, before the
  // first step, with the step it holds and the run's total (may be empty).
  std::function<void(int64_t step, int64_t total)> resumed;
};

struct SupernetTrainReport {
  int64_t steps = 0;          // done in total, resumed ones included
  int64_t total = 0;          // of the whole run
  int64_t resumed_from = 0;   // the step the checkpoint held (0: a fresh run)
  int64_t subnet_passes = 0;  // forward + backward passes of this call
  double seconds = 0;         // of this call
  double last_loss = 0;       // of the labels' loss, last step
  bool finished() const { return steps == total; }
};

struct SupernetProgress {
  int64_t step, total;
  std::string phase;
  double loss;
};

// Validates the options: one line naming the option.
Status check_supernet_options(const SupernetTrainOptions& o);
// Whether `net`'s family can follow the schedule (progressive: ofa only).
Status check_schedule(const SupernetTrainOptions& o, const Supernet& net);

// The schedule's phase at `step` of `total`: full, kernel, depth, expand
// (progressive), full, shrink (deps), anchors, stitch (stitch), nested,
// sandwich, standalone.
std::string supernet_phase(const SupernetTrainOptions& o, int64_t step, int64_t total);

// Trains `net` on `images` [N, C, H, W] (normalised float) and `labels`
// [N], on any device, resuming from `checkpoint.path` when it exists (an
// error when it was written for other options, data or spec). `progress`
// (may be empty) is called after each step.
StatusOr<SupernetTrainReport> train_supernet(
    Supernet& net, const at::Tensor& images, const at::Tensor& labels,
    const SupernetTrainOptions& options, const SupernetCheckpoint& checkpoint = {},
    const std::function<void(const SupernetProgress&)>& progress = {});

}  // namespace sylva::evaluators
