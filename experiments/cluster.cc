#include "experiments/cluster.h"

#include "experiments/loop.h"

namespace sylva::experiments {

StatusOr<RunSummary> run_cluster(Store& store, int64_t experiment_id, const Space& space,
                                 evaluators::Evaluator& evaluator, const RunOptions& options,
                                 const ClusterHooks& hooks, const RunListener& listener) {
  ExperimentLoop loop(store, experiment_id, space, evaluator, options, hooks, listener);
  return loop.run();
}

}  // namespace sylva::experiments
