// The readers behind load_dataset, one per format, and what they share.
// Internal to evaluators/data/.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "evaluators/data/dataset.h"

namespace sylva::evaluators::data_internal {

// Each fills the splits, classes and class names; load_dataset adds the
// statistics (images) and the held-out test split where there is none.
StatusOr<Dataset> load_idx(const DataOptions& options);
StatusOr<Dataset> load_cifar(const DataOptions& options, bool hundred);
StatusOr<Dataset> load_folder(const DataOptions& options);
StatusOr<Dataset> load_csv(const DataOptions& options);

// Whether `path` looks like each format (cheap checks of names and the first
// bytes), for detect_format.
bool looks_like_idx(const std::string& path);
// 0: no; 10 or 100: CIFAR-10 / CIFAR-100 records.
int looks_like_cifar(const std::string& path);
bool looks_like_folder(const std::string& path);
bool looks_like_csv(const std::string& path);

// The whole file, or an error naming it.
StatusOr<std::string> read_file(const std::string& path);

// Rows `index` of `t`.
at::Tensor take_rows(const at::Tensor& t, const std::vector<int64_t>& index);

}  // namespace sylva::evaluators::data_internal
