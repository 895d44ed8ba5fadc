// The hyperparameters the `train` evaluator honours per trial (`%hparam` and
// `--hparam`, Job::hparams): lr, weight_decay, optimizer (sgd | adamw),
// batch_size, epochs (Job::epochs from successive halving still wins),
// momentum (sgd's) and label_smoothing. A trial's settings are the
// evaluator's options with its values applied; values are read from their
// labels, and one that does not read is an error naming the hyperparameter
// and the value. Torch-free pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "evaluators/train/train_evaluator.h"
#include "spaces/hparam_space.h"

namespace sylva::evaluators {

// What one trial trains with.
struct TrainSettings {
  double lr = 0.05;               // peak of the cosine schedule, in (0, kMaxLr]
  double weight_decay = -1;       // in [0, kMaxWeightDecay]; negative: the optimizer's default
  std::string optimizer = "sgd";  // "sgd" or "adamw"
  int64_t batch_size = 128;       // >= 1
  int64_t epochs = 1;             // >= 1
  double momentum = 0.9;          // sgd (Nesterov while > 0), in [0, 1)
  double label_smoothing = 0;     // cross-entropy's, in [0, 1)
};

// The names, sorted.
const std::vector<std::string>& train_hparam_names();

// `options` with `hparams` applied; an unknown name or a value that does not
// read is an error naming it.
StatusOr<TrainSettings> train_settings(const TrainOptions& options,
                                       const std::vector<HparamValue>& hparams);

// Every declared name known and every value readable, before the first trial:
// "--evaluator train has no hyperparameter 'foo' (it knows ...)".
Status check_train_hparams(const std::vector<HparamDecl>& hparams);

}  // namespace sylva::evaluators
