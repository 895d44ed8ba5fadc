// Whether an architecture becomes a network that runs: it builds for the
// input and a forward pass of one blank image runs. The check the evaluators
// that build networks (train, proxy) make before the first trial.
#pragma once

#include "base/status.h"
#include "spaces/architecture.h"
#include "spaces/nets/network.h"
#include "spaces/space.h"

namespace sylva::evaluators {

// An error names the architecture's key; running out of memory is named with
// the network's size and input, not LibTorch's allocator line.
Status check_network_runs(const Space& space, const Architecture& arch, const InputShape& input);

}  // namespace sylva::evaluators
