// ExperimentConfig: everything needed to (re)build an experiment, stored as
// JSON in the database so that `resume` and `export` need only the name and
// the database. Options are kept as the text the user gave (defaults filled
// in by cli/), and converted here with messages that name the option.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "evaluators/evaluator.h"
#include "experiments/run_options.h"
#include "search/strategy.h"
#include "spaces/space.h"

namespace sylva::experiments {

struct ExperimentConfig {
  std::map<std::string, std::string> options;  // option name (no dashes) -> value
  std::string space_source;                    // grammar text of the space
  std::string init_text;                       // contents of the --init file
  // Fingerprints of the files it reads, by option (experiments/stored_files.h).
  std::map<std::string, std::string> files;
  // What the evaluator read its data from (Evaluator::data_summary(): a
  // JSON object with the format, splits, shape, classes, per-channel mean
  // and standard deviation); empty: nothing.
  std::string data;

  // Options read by the search strategies (passed as StrategyParams when set).
  static const std::vector<std::string>& strategy_options();

  std::string to_json() const;
  static StatusOr<ExperimentConfig> from_json(const std::string& json);

  // Typed reads; a missing key is a bug (cli/ fills defaults), a bad value a
  // Status naming the option ("--trials expects an integer, got 'x'").
  std::string text(const std::string& name) const;
  StatusOr<int64_t> integer(const std::string& name, int64_t min) const;
  // The same, or `unset` when the option is empty.
  StatusOr<int64_t> integer_or(const std::string& name, int64_t min, int64_t unset) const;
  StatusOr<double> real(const std::string& name, double min) const;
};

// Objective "name[:max|min]"; empty name: the evaluator's default.
// What the experiment optimises: `--objective metric[:max|min]`, given once
// per objective (stored joined by ','); none given: the evaluator's default
// (val_acc for train, --metric for table). The first drives single-objective
// strategies, progress and `best`; nsga2 uses them all.
using Objective = search::Objective;
StatusOr<std::vector<Objective>> objectives_of(const ExperimentConfig& config);
StatusOr<Objective> objective_of(const ExperimentConfig& config);  // the first

// A new strategy for the experiment, as build_components makes it.
StatusOr<std::unique_ptr<search::Strategy>> new_strategy(const ExperimentConfig& config,
                                                         const Space& space);

struct Components {
  std::unique_ptr<Space> space;
  // A fresh strategy (each takeover of a coordinator); build_components
  // has made one already, so the options are known to be good.
  std::function<StatusOr<std::unique_ptr<search::Strategy>>()> new_strategy;
  std::unique_ptr<evaluators::Evaluator> evaluator;
  RunOptions run;
};

// Builds the space (from space_source), strategy, evaluator and run options.
StatusOr<Components> build_components(const ExperimentConfig& config);

}  // namespace sylva::experiments
