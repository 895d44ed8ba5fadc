// TrialState names: the strings stored in the database and shown by the CLI.
#include <cctype>
#include <string>

#include "evaluators/evaluator.h"

namespace sylva::evaluators {

namespace {
constexpr TrialState kAll[] = {TrialState::kWaiting, TrialState::kRunning, TrialState::kComplete,
                               TrialState::kPruned, TrialState::kFail};
}  // namespace

const char* state_name(TrialState s) {
  switch (s) {
    case TrialState::kWaiting:
      return "WAITING";
    case TrialState::kRunning:
      return "RUNNING";
    case TrialState::kComplete:
      return "COMPLETE";
    case TrialState::kPruned:
      return "PRUNED";
    case TrialState::kFail:
      return "FAIL";
  }
  return "UNKNOWN";
}

// Case-insensitive, so `--state complete` works on the command line.
StatusOr<TrialState> parse_state(const std::string& name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (TrialState s : kAll) {
    if (upper == state_name(s)) return s;
  }
  return Status::corruption("unknown trial state '" + name +
                            "' (expected WAITING, RUNNING, COMPLETE, PRUNED or FAIL)");
}

}  // namespace sylva::evaluators
