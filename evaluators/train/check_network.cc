#include "evaluators/train/check_network.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "base/strings.h"

namespace sylva::evaluators {

Status check_network_runs(const Space& space, const Architecture& arch, const InputShape& input) {
  auto built = build_network(space.build_spec(), arch, input);
  if (!built.is_ok()) return Status::invalid_argument(built.status().message());
  try {
    auto cost = measure_cost(*built.value(), arch.key);
    if (!cost.is_ok()) return cost.status();
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    return Status::invalid_argument(
        fmt::format("{}: {}", quote_cut(arch.key), why.substr(0, why.find('\n'))));
  }
  return Status::ok();
}

}  // namespace sylva::evaluators
