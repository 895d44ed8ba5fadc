// The options the experiment layer reads: what an experiment is (space,
// strategy, evaluator, budgets, seed, objectives) and how it runs (workers,
// timeouts, retries), and successive halving's. Stored with each experiment;
// those `resume` may change are marked resumable. Strategies, evaluators and
// schedules declare their own options next to their code.
#pragma once

#include <vector>

#include "base/option_def.h"

namespace sylva::experiments {

const std::vector<OptionDef>& experiment_options();
const std::vector<OptionDef>& halving_options();

}  // namespace sylva::experiments
