// Predictor-assisted search, as the hardware-aware NAS systems search a
// trained supernet: real evaluations are few, predicted ones cheap.
//   1. `warmup` architectures (the --init ones first, then samples by the
//      priors) are evaluated for real;
//   2. a predictor (search/predictor.h) is fitted, per objective the space
//      does not know analytically (Space::known_metrics), on every real
//      result so far;
//   3. a fresh instance of the chosen strategy is told the real results, then
//      runs `steps` ask/tell rounds against the predictions (known metrics
//      exact);
//   4. the best `batch` of the architectures it proposed that were not yet
//      evaluated (single objective: the highest predicted value; several:
//      by Pareto rank of the predicted objectives, then the first) are
//      evaluated for real; back to 2.
// A Strategy like any other: the experiment loop, its workers, its database
// and resume do not know the difference. Deterministic for a seed.
#pragma once

#include <memory>
#include <string>

#include "search/strategy.h"

namespace sylva::search {

struct PredictorOptions {
  std::string kind = "ridge";  // ridge | mlp
  int warmup = 10;             // real evaluations before the first fit
  int steps = 500;             // predicted evaluations per round
  int batch = 5;               // real evaluations per round
};

// Its options (--predictor, --predictor-warmup, ...), stored with the experiment.
const std::vector<OptionDef>& predictor_options();

StatusOr<std::unique_ptr<Strategy>> make_predictor_assisted(const std::string& strategy,
                                                            const StrategyContext& context,
                                                            const PredictorOptions& options);

}  // namespace sylva::search
