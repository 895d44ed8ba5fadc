// The supernet training schedules (`supernet train --schedule NAME`), one
// entry each, declared in schedules.cc next to what it does per step. The
// --schedule help and its "must be one of" message are read from here; the
// training loop (supernet_trainer.cc) asks the schedule for the phase of
// each step and runs its step. A new schedule is one entry in schedules.cc.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "base/option_def.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "spaces/supernets/supernet.h"

namespace sylva::evaluators {

struct SchedulePhase {
  std::string name;
  bool shrink = false;  // sub-networks besides the largest are trained
};

// What one training step of a schedule works on: the batch is on
// options.device with the supernet; forward passes honour options.bf16.
struct ScheduleStep {
  Supernet& net;
  const torch::Tensor& x;
  const torch::Tensor& y;
  std::mt19937_64& rng;
  const SupernetTrainOptions& options;
  const SchedulePhase& phase;
  int64_t step, total;
  const std::vector<int>& largest;  // or the standalone configuration
  Supernet* teacher;                // set while `Schedule::teacher` phases shrink
  SupernetTrainReport& report;      // subnet_passes, last_loss
};

struct Schedule {
  std::string name;
  std::string help;  // one line
  // The phase at `step` of `total`.
  std::function<SchedulePhase(const SupernetTrainOptions&, int64_t step, int64_t total)> phase;
  // Why `net`'s family cannot follow the schedule; empty when it can.
  std::function<std::string(const Supernet& net)> unfit;
  // The forward and backward passes of one step (gradients accumulate).
  std::function<void(ScheduleStep&)> step;
  // A frozen copy of the full network teaches the shrinking phases.
  bool teacher = false;
  // The least --random-subnets it trains with.
  int min_random_subnets = 0;
};

// In the order of the help.
const std::vector<Schedule>& schedules();
// The schedule named `name`, or nullptr.
const Schedule* find_schedule(const std::string& name);
// The options the schedules read (--random-subnets, --shrink-start).
const std::vector<OptionDef>& schedule_options();

// Soft-target cross-entropy of `logits` against the teacher's probabilities.
torch::Tensor distillation(const torch::Tensor& logits, const torch::Tensor& teacher,
                           double temperature);

}  // namespace sylva::evaluators
