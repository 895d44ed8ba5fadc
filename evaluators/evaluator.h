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
  Architecture arch;
  const Space* space = nullptr;
  int threads = 1;             // intra-op threads this job may use
  double timeout_seconds = 0;  // 0: none
  int64_t epochs = 0;          // training budget (successive halving); 0: the evaluator's own
};

// Called by an evaluator while it runs, from the worker thread.
class Reporter {
 public:
  virtual ~Reporter() = default;
  // An intermediate value (e.g. val_acc after epoch `step`).
  virtual void intermediate(int step, const std::string& name, double value) = 0;
};

struct EvalResult {
  TrialState state = TrialState::kComplete;
  std::string message;  // why FAIL / PRUNED
  std::map<std::string, double> metrics;
  std::string weights;  // trained weights (bytes), may be empty
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual EvalResult evaluate(const Job& job, Reporter& reporter) = 0;
  // The input networks are built for (from the dataset); typed grammars are
  // derived for it. All zero: the evaluator builds no network.
  virtual SpaceTarget input() const { return {}; }
};

// Thrown by evaluators when a job runs past its timeout.
struct TimeoutError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace sylva::evaluators
