// Stub evaluator: a deterministic pseudo-accuracy from the architecture hash
// (of the searched canonical form, Job::canonical, so that hyperparameters
// change it too), after an optional delay; with a training budget (Job::epochs) it follows a
// learning curve that keeps the architectures' order. For tests and demos of the search
// machinery where training is not the point.
#pragma once

#include <memory>

#include "evaluators/evaluator.h"

namespace sylva::evaluators {

struct StubOptions {
  // Milliseconds each evaluation sleeps, >= 0.
  int delay_ms = 0;
};

StatusOr<std::unique_ptr<Evaluator>> make_stub_evaluator(const StubOptions& options);

}  // namespace sylva::evaluators
