#include "experiments/options.h"

namespace sylva::experiments {
namespace {

OptionDef stored(const char* name, const char* help, const char* value = "") {
  return {name, help, value, OptionDef::kFilled, /*stored=*/true};
}
OptionDef resumable(const char* name, const char* help, const char* value) {
  return {name, help, value, OptionDef::kFilled, /*stored=*/true, /*resumable=*/true};
}

}  // namespace

const std::vector<OptionDef>& experiment_options() {
  static const std::vector<OptionDef> kOptions = {
      stored(
          "space",
          "built-in space (einspace, mlp, nas-bench-macro, nb201), grammar file, or supernet:FILE",
          "nas-bench-macro"),
      stored("max-nodes",
             "typed grammars: most derivation-tree nodes of a network [the grammar's %max-nodes]"),
      stored("max-params",
             "typed grammars and supernet spaces: most parameters of a network at the dataset's "
             "input [the grammar's %max-params]"),
      stored("max-flops",
             "supernet spaces: most multiply-accumulates per image of a configuration"),
      {"hparam",
       "NAME=V1,V2,... (or NAME=log(a,b,n), NAME=linear(a,b,n)): a hyperparameter searched with "
       "the architecture, once per hyperparameter; added to the space's own %hparam lines",
       "", OptionDef::kFilled, true, false, 0, OptionDef::kRepeated},
      stored("strategy", "search strategy", "random"),
      stored("init", "file of architectures (canonical form or key, one per line) evaluated first"),
      stored("evaluator", "evaluator", "train"),
      resumable("trials", "finished trials to reach (global, across resumes)", "20"),
      resumable("workers",
                "concurrent evaluations of this process; search and resume: 0 coordinates "
                "only, for `sylva worker` processes to evaluate",
                "1"),
      resumable("threads-per-worker", "intra-op threads per worker; 0: cores / workers", "0"),
      stored("seed", "experiment seed", "0"),
      resumable("trial-timeout", "seconds before a trial is stopped and marked FAIL; 0: none", "0"),
      resumable("heartbeat-timeout",
                "seconds without a heartbeat (by the database's clock) before a running trial "
                "is taken back from its worker and re-queued",
                "60"),
      resumable("max-retries",
                "times a trial is re-queued after its worker was lost; then it is FAIL", "3"),
      stored("keep-weights", "keep trained weights of the best K trials", "3"),
      {"objective",
       "metric[:max|min] to optimise, once per objective (nsga2: several); default val_acc "
       "(train) or --metric (table)",
       "", OptionDef::kFilled, true, false, 0, OptionDef::kRepeated},
  };
  return kOptions;
}

const std::vector<OptionDef>& halving_options() {
  static const std::vector<OptionDef> kOptions = {
      stored("fidelity", "none | epochs: successive halving (ASHA) over training epochs", "none"),
      stored("min-epochs", "successive halving: epochs of the first rung", "1"),
      stored("max-epochs", "successive halving: epochs of the top rung", "9"),
      stored("eta", "successive halving: 1/eta of each rung is promoted, budgets grow eta-fold",
             "3"),
      stored("prune",
             "none | median: stop a running trial whose best objective so far is worse than the "
             "median of completed trials at the same step (Optuna's MedianPruner); PRUNED",
             "none"),
      stored("prune-startup", "median pruning: completed trials before any trial is pruned", "5"),
      stored("prune-warmup", "median pruning: steps of a trial before it may be pruned", "0"),
  };
  return kOptions;
}

}  // namespace sylva::experiments
