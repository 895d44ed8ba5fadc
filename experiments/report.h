// Reports read from the database only: `status`, `trials` and `best`, each
// as an aligned table, JSON or CSV (a header, then one row per item).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "experiments/store.h"

namespace sylva::experiments {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;  // numbers, strings or null
};

// "table", "json" or "csv"; anything else is an error naming the value.
StatusOr<std::string> render(const Table& table, const std::string& format);

// Number formatting shared by every report: integers exactly, others to 6
// significant digits.
std::string format_number(double v);

// Columns: number, state, key, one per hyperparameter of `hparam_names` (the
// space's, hparam_names_of_source: the value, as its label, read from the
// key's leading "name=value/" parts), the metrics (val_acc, test_acc first,
// then by name), message.
Table trials_table(const std::vector<TrialRow>& trials,
                   const std::vector<std::string>& hparam_names = {});

// The best `count` COMPLETE trials by the objective, best first, with rank and
// canonical form.
Table best_table(const std::vector<TrialRow>& trials, const Objective& objective, int64_t count,
                 const std::vector<std::string>& hparam_names = {});

// The COMPLETE trials that no other COMPLETE trial dominates on every
// objective, best first by the first objective; columns as best_table.
// O(n log n) for two objectives.
Table pareto_table(const std::vector<TrialRow>& trials, const std::vector<Objective>& objectives,
                   const std::vector<std::string>& hparam_names = {});

// Sorted copy: COMPLETE trials with the objective, best first (ties in
// trial order), the first `limit` of them. O(n log limit).
std::vector<TrialRow> ranked(const std::vector<TrialRow>& trials, const Objective& objective,
                             size_t limit = SIZE_MAX);

// One row per experiment: counts by state, best objective, space, strategy.
Table status_table(Store& store, const std::vector<ExperimentRow>& experiments);

// One row per worker process of an experiment: label (host:pid), state,
// slots, whether it coordinates, when it started and was last seen (the
// database's clock), the trials it holds.
Table workers_table(const std::vector<WorkerRow>& workers);

// The data an experiment was made with (ExperimentConfig::data), one line:
// "data: cifar10 /d: 45000 train, 5000 test, 3x32x32, 10 classes; mean
// 0.491 0.482 0.447, std 0.247 0.243 0.262"; empty when there is none.
std::string data_line(const std::string& data_json);

}  // namespace sylva::experiments
