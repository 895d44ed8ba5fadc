// The data behind `sylva report` and `sylva dashboard`: what each view of an
// experiment plots, computed from the database alone, as JSON that the page's
// script (experiments/report_assets/report.js) draws with Chart.js.
//
// Nothing here is quadratic in trials: fronts are found by sorting (two
// objectives) or against the current front (more), the hypervolume is kept on
// an incrementally updated front and read at a few hundred checkpoints, and a
// plot that would hold more points than the eye can tell apart gets a thinned
// or aggregated set with a note saying so (ViewLimits). The trials table's
// columns are compact (keys as indices into a label list) so that 100,000
// trials stay a few megabytes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "experiments/config.h"
#include "experiments/store.h"

namespace sylva::experiments {

// Everything of one experiment the views read.
struct ExperimentData {
  ExperimentRow row;
  ExperimentConfig config;
  std::vector<TrialRow> trials;  // by number
  std::vector<IntermediateRow> intermediates;
  std::vector<EventRow> events;
  std::vector<WorkerRow> workers;
};

// Reads the experiment; a stored configuration that does not parse is an
// error naming the experiment.
StatusOr<ExperimentData> load_experiment(Store& store, const ExperimentRow& row);

// How many marks a plot holds before it is thinned or aggregated.
struct ViewLimits {
  size_t history_points = 4000;  // objective per trial (min and max per bin beyond)
  size_t scatter_points = 6000;  // Pareto scatter (one per grid cell beyond)
  size_t curves = 120;           // learning curves drawn
  size_t curve_steps = 100;      // points per learning curve
  size_t lines = 300;            // parallel-coordinate lines
  size_t timeline_bars = 3000;   // worker timeline (adjacent trials merged beyond)
  size_t timeline_marks = 2000;  // failures and re-queues on the timeline
  size_t hypervolume_points = 400;
  size_t comparison_points = 600;  // per best-so-far curve
  size_t best = 5;                 // best trials drawn
};

// Now as ISO-8601 UTC to the second ("2026-12-01T18:00:00Z"): when a page
// was made.
std::string utc_now();

// Seconds since 1970 of an ISO-8601 UTC time as the store writes it
// ("2026-12-01T18:00:00.123Z"); NaN for anything else.
double parse_utc(const std::string& iso);

// The views of one experiment: summary, history, learning curves, Pareto
// front and hypervolume (two objectives) or parallel coordinates (more),
// decision importance, worker timeline and the best trials. `now` (seconds
// since 1970, NaN: the latest time in the data) ends the bars of running
// trials.
nlohmann::json experiment_views(const ExperimentData& data, const ViewLimits& limits = {},
                                double now = std::nan(""));

// The trials table of one experiment, from trial number `first` on:
// {"first", "count", "columns", "states", "labels", "number", "state", "key"
// (label indices joined by '.'), "metrics" {name: [value|null]}, "started",
// "seconds", "worker", "workers", "retries", "messages" {number: text}}.
nlohmann::json trial_columns(const ExperimentData& data, int64_t first = 0);

// Best-so-far curves of several experiments by trial number (each by its own
// first objective, grouped by objective), and for experiments whose stored
// options differ only by seed, their mean and min-max spread.
nlohmann::json comparison_view(const std::vector<const ExperimentData*>& experiments,
                               const ViewLimits& limits = {});

// The whole model a page draws: {"generated", "database", "experiments":
// [views + "trials"], "comparison"}.
nlohmann::json report_model(const std::vector<const ExperimentData*>& experiments,
                            const std::string& database, const ViewLimits& limits = {});

// --- The computations, exposed for tests. Points are minimised on every
// coordinate (negate what is maximised).

// Indices of the non-dominated points of two objectives (equal points all),
// by the first ascending. O(n log n).
std::vector<size_t> front_2d(const std::vector<std::pair<double, double>>& points);

// The hypervolume dominated by points[0..k] with respect to `ref` (worse than
// every point), for k at `checkpoints` (ascending indices). O(n log n + checkpoints * front).
std::vector<double> hypervolume_2d_over(const std::vector<std::pair<double, double>>& points,
                                        std::pair<double, double> ref,
                                        const std::vector<size_t>& checkpoints);

// How much of the variance of `y` the groups explain: the between-group sum
// of squares over the total (eta squared, one-way ANOVA), 0 when y is
// constant. `group[i]` is y[i]'s group, from 0.
double variance_share(const std::vector<double>& y, const std::vector<int>& group, int groups);

// The JSON text safe to put inside <script>...</script>: '<', '>' and '&'
// written as \u003c, \u003e and \u0026 (they appear only inside strings).
std::string script_safe(const nlohmann::json& value);

}  // namespace sylva::experiments
