// The `command` evaluator: any program, in any language, evaluates a trial.
//
// Per trial it makes a fresh directory, writes trial.json (the architecture,
// its hyperparameters, budget, input and seed) and model.pt (the untrained
// candidate as TorchScript, through the model writer the LibTorch side
// registers), runs the command there under a guard (child_process.h) and
// reads the JSON lines it appends to $SYLVA_REPORT while it runs: a
// {"step": S, ...} line gives intermediate values, a {"final": true, ...}
// line (or result.json) the final metrics. README "The command evaluator"
// is the protocol; python/sylva_trial.py implements it for Python.
//
// A trial stops early when its values are rejected (--reject-after STEP
// --reject-below VALUE on the objective), when the loop's pruner asks
// (Reporter::should_stop: --prune median) or past --trial-timeout: the stop
// file is created, the group gets SIGTERM and, after --kill-grace seconds,
// SIGKILL. Pruned trials keep the last value of each reported metric.
// stdout and stderr go to files in the trial directory (at most
// kLogFileLimit bytes each) and their last kLogTail bytes to the trial's
// "stdout" and "stderr" artifacts (`sylva logs`).
//
// With --gpus, slot s of this process gets GPU gpus[s / trials-per-gpu]
// through CUDA_VISIBLE_DEVICES. evaluate() is thread-safe. Torch-free.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "evaluators/evaluator.h"

namespace sylva::evaluators {

inline constexpr size_t kLogTail = 64 * 1024;
inline constexpr size_t kLogFileLimit = 16 * 1024 * 1024;

struct CommandOptions {
  std::string command;     // run by /bin/sh -c in the trial directory
  std::string trial_root;  // trial directories are TRIAL_ROOT/EXPERIMENT/NUMBER
  SpaceTarget input;       // channels, height, width, classes of model.pt
  std::vector<int> gpus;   // empty: CUDA_VISIBLE_DEVICES is left alone
  int trials_per_gpu = 1;
  double kill_grace = 10;  // seconds between SIGTERM and SIGKILL
  bool write_model = true;
  int64_t reject_after = 0;  // 0: no rejection
  double reject_below = 0;
};

// Writes the untrained network of `arch` (of `space`, built for `input`,
// initialised from `seed`) as TorchScript to `path`. Registered by the
// LibTorch side (register_train_evaluator); without it no model.pt is
// written.
using ModelWriter =
    std::function<Status(const Space& space, const Architecture& arch, const SpaceTarget& input,
                         uint64_t seed, const std::string& path)>;
void set_model_writer(ModelWriter writer);

// Parses --gpus: "0,1,3" or "all" (every GPU in /proc/driver/nvidia/gpus);
// "" gives none. A GPU named twice or a non-number is an error naming it.
StatusOr<std::vector<int>> parse_gpus(const std::string& text);

// Checks that the command's program exists (on PATH, or as an absolute
// path): "--command: 'pyhton3' is not found on PATH". Commands that start
// with shell syntax are not checked.
Status check_command(const std::string& command);

StatusOr<std::unique_ptr<Evaluator>> make_command_evaluator(const CommandOptions& options);

void register_command_evaluator();

}  // namespace sylva::evaluators
