// RungBook: successive halving as the experiment loop keeps it, with the
// rungs, results and promotions in the database so that any process can run
// any rung and any process can coordinate (cluster.h).
//
// The database holds all of it:
//   - a trial's result at each rung it finished is the intermediate value
//     kRungValue at step = the rung's epochs (NaN for a failure);
//   - a trial's "epochs" metric is the rung its latest run finished; a
//     WAITING or RUNNING trial with one is promoted (or taken back during a
//     promotion) and runs the next rung (SuccessiveHalving::target_rung);
//   - a promotion is Store::promote_trial (PRUNED -> WAITING, a 'promoted'
//     event), which happens once whatever the coordinators do.
// The worker side (any process) runs a claimed trial at its target rung and
// finishes it through finish_rung(). The coordinator side rebuilds the
// scheduler at each takeover (rebuild), then follows the finished trials
// (saw) and promotes into free slots. Strategies hear each trial once, with
// its first rung's value. Torch-free; not thread-safe (the loop thread).
// Implemented in rung_book.cc.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "evaluators/evaluator.h"
#include "experiments/halving.h"
#include "experiments/run_options.h"
#include "experiments/store.h"

namespace sylva::experiments::internal {

class RungBook {
 public:
  // `halving` as made, with no results.
  RungBook(SuccessiveHalving halving, const RunOptions& options)
      : empty_(halving),
        halving_(std::move(halving)),
        objective_(options.objective),
        maximize_(options.maximize) {}

  const SuccessiveHalving& halving() const { return halving_; }

  // Worker side. The rung a claimed trial (with its stored metrics) runs at.
  int target_rung(const TrialRow& row) const { return halving_.target_rung(row.metrics); }
  // A run at rung `rung` ended with `r`: the rung's result is written (as
  // the trial's holder `holder`), the "epochs" metric set, and a trial that
  // completed below the top rung becomes PRUNED there until promoted.
  void finish_rung(Store& store, int64_t trial_id, int rung, const std::string& holder,
                   evaluators::EvalResult& r) const;

  // Coordinator side. Forgets everything and reads the scheduler's state
  // from the experiment's trials and their kRungValue intermediates. Returns
  // the trials as a strategy should be told them: a trial that finished its
  // first rung is told that result (finished, even while a promotion runs).
  std::vector<TrialRow> rebuild(const std::vector<TrialRow>& rows,
                                const std::vector<IntermediateRow>& values);
  // A trial the coordinator read: a finished one records its rung's result.
  void saw(const TrialRow& row);
  // The lowest number of a promoted trial whose result is not in yet; the
  // coordinator reads trials from there.
  int64_t first_awaited() const {
    return awaited_.empty() ? std::numeric_limits<int64_t>::max() : awaited_.begin()->first;
  }
  // Promotes the next due trial in the database; false when none is due.
  // A promotion the database refuses (the trial moved meanwhile) is skipped.
  bool promote(Store& store);
  bool due() const { return halving_.due(); }

 private:
  double signed_value(double v) const { return maximize_ ? v : -v; }
  void record(const TrialRow& row, int rung, double raw);

  const SuccessiveHalving empty_;  // as made: what rebuild() starts from
  SuccessiveHalving halving_;
  const std::string objective_;
  const bool maximize_;
  std::map<int64_t, int> recorded_;       // trial id -> highest rung recorded
  std::map<int64_t, int64_t> number_of_;  // trial id -> number, of those recorded
  std::map<int64_t, int64_t> awaited_;    // number -> id: promoted, result not in
};

}  // namespace sylva::experiments::internal
