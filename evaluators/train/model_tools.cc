#include "evaluators/train/model_tools.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <vector>

#include "spaces/nets/network.h"

namespace sylva::evaluators {

double median_latency_ms(const std::function<void()>& run, int warmup, int runs) {
  for (int i = 0; i < warmup; ++i) run();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + runs / 2, ms.end());
  return ms[runs / 2];
}
namespace {

constexpr const char* kMagic = "sylva-weights-v1";

InputShape to_input(const ModelShape& s) {
  return InputShape{s.channels, s.height, s.width, s.classes};
}

}  // namespace

StatusOr<ModelCost> measure_architecture(const Space& space, const Architecture& arch,
                                         const ModelShape& shape) {
  auto net = build_network(space.build_spec(), arch, to_input(shape));
  if (!net.is_ok()) return net.status();
  auto cost = measure_cost(*net.value(), arch.key);
  if (!cost.is_ok()) return cost.status();
  return ModelCost{cost.value().params, cost.value().flops};
}

std::string pack_weights(const ModelShape& s, const std::string& weights) {
  return fmt::format("{} {} {} {} {}\n", kMagic, s.channels, s.height, s.width, s.classes) +
         weights;
}

StatusOr<PackedWeights> unpack_weights(const std::string& artifact) {
  size_t eol = artifact.find('\n');
  std::istringstream header(artifact.substr(0, eol == std::string::npos ? 0 : eol));
  std::string magic;
  PackedWeights out;
  if (eol == std::string::npos || !(header >> magic) || magic != kMagic ||
      !(header >> out.shape.channels >> out.shape.height >> out.shape.width >> out.shape.classes)) {
    return Status::corruption("the stored weights are not a sylva weights artifact");
  }
  out.weights = artifact.substr(eol + 1);
  return out;
}

Status export_torchscript(const Space& space, const Architecture& arch, const std::string& artifact,
                          const std::string& path) {
  auto packed = unpack_weights(artifact);
  if (!packed.is_ok()) return packed.status();
  auto net = build_network(space.build_spec(), arch, to_input(packed.value().shape));
  if (!net.is_ok()) return net.status();
  try {
    load_weights(*net.value(), packed.value().weights);
    net.value()->eval();
    torch::jit::Module module = to_torchscript(*net.value());
    module.save(path);
  } catch (const c10::Error& e) {
    return Status::io_error(
        fmt::format("cannot export to '{}': {}", path, e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return Status::io_error(fmt::format("cannot export to '{}': {}", path, e.what()));
  }
  return Status::ok();
}

Status write_untrained_torchscript(const Space& space, const Architecture& arch,
                                   const ModelShape& shape, uint64_t seed,
                                   const std::string& path) {
  auto net = build_network(space.build_spec(), arch, to_input(shape));
  if (!net.is_ok()) return net.status();
  try {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    init_weights(*net.value(), generator);
    net.value()->eval();
    to_torchscript(*net.value()).save(path);
  } catch (const c10::Error& e) {
    return Status::io_error(fmt::format("cannot write '{}': {}", path, e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return Status::io_error(fmt::format("cannot write '{}': {}", path, e.what()));
  }
  return Status::ok();
}

}  // namespace sylva::evaluators
