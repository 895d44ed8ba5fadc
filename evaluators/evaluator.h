// Evaluator: turns one architecture into metrics. Torch-free interface; the
// `train` implementation trains with LibTorch, `table` looks metrics up in a
// CSV. evaluate() is called concurrently from worker-pool threads and must be
// thread-safe; an exception thrown from it makes the trial FAIL with its
// message (the pool catches it), an expected failure is returned as a state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/status.h"
#include "spaces/architecture.h"
#include "spaces/hparam_space.h"
#include "spaces/space.h"

namespace sylva::evaluators {

enum class TrialState { kWaiting, kRunning, kComplete, kPruned, kFail };
const char* state_name(TrialState s);  // "WAITING", ...
StatusOr<TrialState> parse_state(const std::string& name);
inline bool is_finished(TrialState s) {
  return s == TrialState::kComplete || s == TrialState::kPruned || s == TrialState::kFail;
}

struct Job {
  int64_t trial_number = 0;
  uint64_t seed = 0;  // derived from the experiment seed and trial number
  // The architecture to build, without hyperparameter decisions, and its
  // space (a space with hyperparameters passes its inner space).
  Architecture arch;
  const Space* space = nullptr;
  // The searched architecture's key and canonical form, hyperparameters
  // included (equal to arch's when the space has none).
  std::string key;
  std::string canonical;
  std::vector<HparamValue> hparams;  // in declaration order; empty: none
  int threads = 1;                   // intra-op threads this job may use
  double timeout_seconds = 0;        // 0: none
  int64_t epochs = 0;                // training budget (successive halving); 0: the evaluator's own
  // The concurrent-evaluation slot of this process that runs the job, in
  // [0, workers): evaluators that hand out devices per slot (--gpus) read it.
  int slot = 0;
  std::string experiment;  // the experiment's name
  std::string objective;   // the metric the search optimises (the first objective)
  bool maximize = true;
  // A successive-halving promotion: the number of the rung run before this
  // one's budget (its epochs), 0: none. Evaluators with per-run state (the
  // command evaluator's trial directory) continue from it.
  int64_t previous_epochs = 0;
};

// Called by an evaluator while it runs, from the worker thread.
class Reporter {
 public:
  virtual ~Reporter() = default;
  // An intermediate value (e.g. val_acc after epoch `step`).
  virtual void intermediate(int step, const std::string& name, double value) = 0;
  // Whether the loop asks the trial to stop (a pruner judged its
  // intermediate values): an evaluator checks it after reporting and returns
  // kPruned with the metrics it has.
  virtual bool should_stop() const { return false; }
  // Why, once should_stop() is true.
  virtual std::string stop_reason() const { return ""; }
};

struct EvalResult {
  TrialState state = TrialState::kComplete;
  std::string message;  // why FAIL / PRUNED
  std::map<std::string, double> metrics;
  std::string weights;  // trained weights (bytes), may be empty
  // Other artifacts to keep with the trial, by kind (the command
  // evaluator's "stdout" and "stderr" tails); replaced on each run.
  std::map<std::string, std::string> artifacts;
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual EvalResult evaluate(const Job& job, Reporter& reporter) = 0;
  // The input networks are built for (from the dataset); typed grammars are
  // derived for it. All zero: the evaluator builds no network.
  virtual SpaceTarget input() const { return {}; }
  // The device slot `slot` (Job::slot) evaluates on, as `sylva status`
  // shows it ("GPU 1"); empty when the evaluator hands out none.
  virtual std::string slot_device(int slot) const {
    (void)slot;
    return "";
  }
  // What the evaluator reads its data from, as a JSON object (format,
  // splits, shape, classes, per-channel mean and standard deviation) stored
  // with the experiment; empty: no data of its own.
  virtual std::string data_summary() const { return ""; }
  // Whether the evaluator honours the space's hyperparameters (names and
  // every value), checked once before the first trial; an error names the
  // hyperparameter and the value. Default: any is accepted (stub, table).
  virtual Status check_hparams(const std::vector<HparamDecl>& hparams) const {
    (void)hparams;
    return Status::ok();
  }
  // The metrics every finished trial reports, so that an --objective no
  // trial could report is refused before the first; empty: not known in
  // advance (a command's program reports what it likes).
  virtual std::vector<std::string> metrics() const { return {}; }
  // Whether a job takes microseconds (a table look-up): the experiment loop
  // then evaluates it on its own thread, since handing it to a worker
  // thread and back would cost more than the evaluation.
  virtual bool instant() const { return false; }
  // Whether `arch` can be evaluated at all (its network builds for the
  // input and runs), checked before the first trial on a few architectures
  // the search may propose: the run is refused when none can. Default: any.
  virtual Status check_architecture(const Space& space, const Architecture& arch) const {
    (void)space;
    (void)arch;
    return Status::ok();
  }
};

// Thrown by evaluators when a job runs past its timeout.
struct TimeoutError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace sylva::evaluators
