// Accuracy predictors for predictor-assisted search (search/
// predictor_assisted.h): regressions from a space's architecture encoding
// (Space::encode) to a metric, fitted on the trials evaluated so far. As in
// once-for-all's and the hardware-aware NAS systems' accuracy predictors:
//   ridge  linear least squares with an L2 penalty (closed form);
//   mlp    one hidden layer of 32 tanh units, full-batch Adam on the
//          standardised targets, seeded.
// Inputs of different lengths are padded with zeros to the longest seen in
// fit(). Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace sylva::search {

class Predictor {
 public:
  virtual ~Predictor() = default;
  // Needs at least one sample.
  virtual void fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y) = 0;
  virtual double predict(const std::vector<double>& x) const = 0;
};

// "ridge" or "mlp"; an error naming --predictor otherwise.
StatusOr<std::unique_ptr<Predictor>> make_predictor(const std::string& kind, uint64_t seed);

}  // namespace sylva::search
