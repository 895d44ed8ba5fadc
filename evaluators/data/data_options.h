// What `--dataset` and its companion options ask of load_dataset
// (evaluators/data/dataset.h). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/options.h"
#include "base/status.h"

namespace sylva::evaluators {

// Folder of the Debian package dataset-fashion-mnist.
inline constexpr char kDefaultDatasetDir[] = "/usr/share/datasets/fashion-mnist";

// Share of the examples held out as the test split where the data has none.
inline constexpr double kHeldOutTestShare = 0.1;

// The values of --dataset-format ("auto" recognises the format by content).
const std::vector<std::string>& dataset_format_names();

struct DataOptions {
  std::string path;             // empty: kDefaultDatasetDir
  std::string format = "auto";  // one of dataset_format_names()
  std::string label = "fine";   // cifar100: "fine" or "coarse"
  int64_t image_size = 0;       // folder: resize to this square size; 0: keep (all equal)
  std::string target;           // csv: the label column; empty: the last
};

// --dataset, --dataset-format, --label, --image-size and --target as given;
// options an older experiment lacks keep their defaults.
StatusOr<DataOptions> read_data_options(const OptionReader& options);

}  // namespace sylva::evaluators
