// The `supernet` evaluator: a configuration of a trained supernet (the space
// `supernet:FILE`) is evaluated with the weights it inherits, after
// batch-norm recalibration on training images, in milliseconds rather than a
// training run. Metrics: val_acc and test_acc (%), params, flops (MACs per
// image at the configuration's resolution), latency_ms (standalone network,
// one image, one thread, on the CPU whatever the device). Workers evaluate
// in parallel, each on its own copy of the supernet; on --device cuda,
// recalibration and scoring run on the worker slot's GPU
// (DevicePlan::device_for_slot), the images copied to each GPU once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/options.h"
#include "evaluators/data/data_options.h"
#include "evaluators/evaluator.h"

namespace sylva::evaluators {

struct Dataset;  // evaluators/data/dataset.h

struct SupernetEvalOptions {
  std::string path;  // the supernet file
  // What load_dataset reads (the train evaluator's options); empty dataset:
  // Fashion-MNIST. A table is refused: supernets take images.
  std::string dataset;
  std::string dataset_format = "auto";
  std::string label = "fine";
  int64_t image_size = 0;
  std::string target;
  // --device: cpu | cuda (a GPU per worker slot) | cuda:N | auto
  // (evaluators/train/device.h); always fp32.
  std::string device = "cpu";
  // The first val_samples training images (held out by `supernet train` with
  // the same --val-samples) score val_acc; the next `calibration` images
  // recalibrate batch norm.
  int64_t val_samples = 5000;
  int64_t calibration = 1000;
  int64_t test_samples = 0;  // 0: the whole test set
  // > 0: a configuration whose standalone TorchScript network takes longer
  // per image (batch 1, one thread, median of 11 runs after 3 warm-ups)
  // fails.
  double max_latency_ms = 0;
};

// The options of `--evaluator supernet` as stored with an experiment
// (`space` is supernet:FILE; options older experiments lack take their
// defaults), checked: one line naming the option.
StatusOr<SupernetEvalOptions> supernet_eval_options(const OptionReader& options);

// The dataset part of the options.
DataOptions data_options(const SupernetEvalOptions& options);

// load_dataset for a supernet (its verbs and this evaluator): a table is
// refused, "--dataset F is a csv table; supernets are networks of images".
StatusOr<Dataset> load_supernet_images(const DataOptions& options);

StatusOr<std::unique_ptr<Evaluator>> make_supernet_evaluator(const SupernetEvalOptions& options);

// Writes the sub-network of `arch` (a configuration of the supernet in
// options.path) as a standalone TorchScript file (weights on the CPU), its
// batch norm recalibrated on options.device on the same images the
// evaluator uses.
Status export_subnet(const SupernetEvalOptions& options, const Architecture& arch,
                     const std::string& out);

// Writes configuration `arch` of the supernet file at `supernet_path` as a
// standalone TorchScript module with the supernet's weights (not
// recalibrated): the command evaluator's model.pt for supernet spaces. The
// supernet is loaded once per path; thread-safe.
Status write_subnet_model(const std::string& supernet_path, const Architecture& arch,
                          const std::string& out);

// Registers `--evaluator supernet` (evaluators/registry.h).
void register_supernet_evaluator();

}  // namespace sylva::evaluators
