// Torch-free entry points to the network builder for experiments/ and cli/:
// cost of an architecture, packing trained weights with their input shape
// into an artifact, and exporting an artifact as a TorchScript file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "evaluators/model_shape.h"
#include "spaces/architecture.h"
#include "spaces/space.h"

namespace sylva::evaluators {

// Median wall time of `run` in milliseconds over `runs` calls, after
// `warmup` untimed ones: the latency_ms of the evaluators.
double median_latency_ms(const std::function<void()>& run, int warmup, int runs);

struct ModelCost {
  int64_t params = 0;
  int64_t flops = 0;  // MACs of conv and linear layers for one input
};

// Builds the network (untrained) and measures it; one that does not fit in
// memory is a failed_precondition naming it, its parameter count and `shape`.
StatusOr<ModelCost> measure_architecture(const Space& space, const Architecture& arch,
                                         const ModelShape& shape);

// A weights artifact: a one-line header with the input shape, then the
// serialised weights, so export needs nothing but the artifact.
std::string pack_weights(const ModelShape& shape, const std::string& weights);
struct PackedWeights {
  ModelShape shape;
  std::string weights;
};
StatusOr<PackedWeights> unpack_weights(const std::string& artifact);

// Rebuilds the trained network and writes it as TorchScript to `path`.
Status export_torchscript(const Space& space, const Architecture& arch, const std::string& artifact,
                          const std::string& path);

// Builds the untrained network of `arch` for `shape`, initialises it from
// `seed` as the train evaluator does, and writes it as TorchScript to
// `path`: the command evaluator's model.pt.
Status write_untrained_torchscript(const Space& space, const Architecture& arch,
                                   const ModelShape& shape, uint64_t seed, const std::string& path);

}  // namespace sylva::evaluators
