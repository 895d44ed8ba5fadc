// The `train` evaluator: builds each candidate with LibTorch, trains it on a
// dataset (evaluators/data/dataset.h: IDX, CIFAR-10/100, image folders, CSV
// tables; Fashion-MNIST by default) and reports its accuracy.
//
// Batches come from a BatchLoader (evaluators/data/loader.h) that gathers,
// augments (--augment) and standardises the next ones on its own thread;
// training runs on --device (evaluators/train/device.h: cpu, cuda, a GPU per
// slot) at --precision fp32 or bf16.
//
// The dataset is loaded once by the factory and shared read-only by every
// worker. A fixed validation set of `val_samples` training images (the same
// for every trial and every run: the tail of a permutation drawn with a
// constant seed) is never trained on; the training subset is the first
// `train_samples` of the remaining images in that same permuted order. The
// test subset, when `test_samples` > 0, is likewise fixed.
//
// evaluate() is thread-safe and keeps no global state: it sets the intra-op
// thread count to job.threads, draws every random number (initial weights,
// batch order) from a generator seeded with job.seed, so one trial run twice
// single-threaded gives identical metrics and weights. Per epoch it reports
// the intermediates "train_loss" and "val_acc" at step = epoch (1-based).
// Metrics: val_acc and test_acc (percent), train_loss (mean of the last
// epoch), params, flops (MACs at batch 1), train_seconds (wall time of the
// training and evaluation loop), latency_ms (median eval-mode forward of one
// input on the job's threads). A rejected candidate (see reject_below) is
// kPruned with val_acc (on the rejection images), params, flops,
// train_seconds and rejected_at_step, and no weights. EvalResult::weights holds the trained
// weights with their input shape (pack_weights of model_tools.h), ready for
// export_torchscript. After each epoch, a Reporter whose should_stop() is
// true (the loop's median pruner) ends the training: kPruned with its
// stop_reason(), val_acc, train_loss, params, flops, train_seconds and
// epochs (trained so far). A network the builder rejects is
// returned as kFail. A non-finite loss throws std::runtime_error ("loss is NaN
// at epoch E step S"); running past job.timeout_seconds (checked before every
// batch) throws TimeoutError.
//
// Also reported: data_wait_share, the share of the training loop's wall time
// spent waiting for the loader's next batch.
//
// A trial's hyperparameters (Job::hparams) override lr, weight_decay,
// optimizer, batch_size and epochs and set sgd's momentum and the loss's
// label_smoothing (train_hparams.h); a value that does not read makes the
// trial kFail naming it, and check_hparams() refuses unknown names and such
// values before the first trial.
//
// This header is torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "evaluators/data/data_options.h"
#include "evaluators/evaluator.h"

namespace sylva::evaluators {

struct Dataset;  // evaluators/data/dataset.h

struct TrainOptions {
  // What load_dataset reads (DataOptions); empty path: kDefaultDatasetDir
  // (Fashion-MNIST).
  std::string dataset;
  std::string dataset_format = "auto";
  std::string label = "fine";
  int64_t image_size = 0;
  std::string target;
  // --augment: "crop,flip,cutout", a subset, or "none" (evaluators/data/augment.h).
  std::string augment = "none";
  // --device, --precision, --channels-last (evaluators/train/device.h).
  std::string device = "cpu";
  std::string precision = "fp32";
  std::string channels_last = "auto";
  // Passes over the training subset, >= 1 (Job::epochs, when set, wins).
  int epochs = 1;
  // Training images used; 0: all that are left after the validation set.
  int64_t train_samples = 0;
  // Training images held out for validation (val_acc), >= 1.
  int64_t val_samples = 5000;
  // Test images evaluated for test_acc; 0: the whole test set.
  int64_t test_samples = 0;
  // Mini-batch size, >= 1. A last partial batch is dropped (unless it is the only one).
  int batch_size = 128;
  // Peak learning rate, in (0, kMaxLr], annealed to 0 by a per-step cosine
  // schedule over all epochs. 0.05 suits "sgd"; "adamw" usually wants about 1e-3.
  double lr = 0.05;
  // "sgd" (momentum 0.9, Nesterov) or "adamw" (betas 0.9, 0.999).
  std::string optimizer = "sgd";
  // Weight decay, in [0, kMaxWeightDecay]; -1: the optimizer's default, 5e-4
  // for sgd, 0.05 for adamw.
  double weight_decay = -1;
  // Early rejection (as in the EvoNorm paper's rejection protocol): after
  // `reject_after` training steps, a candidate whose accuracy on the first
  // kRejectionImages validation images is below `reject_below` percent stops
  // and is returned PRUNED, so a sparse space does not burn the budget on
  // networks that cannot learn. 0 and 0: off.
  double reject_below = 0;
  int64_t reject_after = 0;
};

// Bounds of the learning rate and the weight decay (options and
// hyperparameters): above them training diverges at the first step, so
// they are refused before the first trial rather than failing every trial.
inline constexpr double kMaxLr = 10;
inline constexpr double kMaxWeightDecay = 1;

// Validation images the early-rejection check scores.
inline constexpr int64_t kRejectionImages = 1000;

// Validates the options (messages name the CLI option, e.g. "--epochs must be
// >= 1, got 0") and loads the dataset.
StatusOr<std::unique_ptr<Evaluator>> make_train_evaluator(const TrainOptions& options);

// Same, on an already loaded dataset (options.dataset is ignored); lets
// several evaluators or tests share one copy.
StatusOr<std::unique_ptr<Evaluator>> make_train_evaluator(const TrainOptions& options,
                                                          std::shared_ptr<const Dataset> data);

// The dataset part of the options.
DataOptions data_options(const TrainOptions& options);

// Registers `--evaluator train` (evaluators/registry.h).
void register_train_evaluator();

}  // namespace sylva::evaluators
