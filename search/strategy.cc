#include "search/strategy.h"

#include <fmt/format.h>

#include <mutex>

#include "search/variation.h"
#include "spaces/random.h"

namespace sylva::search {
namespace {

std::map<std::string, StrategyFactory>& registry() {
  static std::map<std::string, StrategyFactory> r;
  return r;
}
std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}

}  // namespace

void register_strategy(const std::string& name, StrategyFactory factory) {
  std::lock_guard<std::mutex> lock(registry_mu());
  registry()[name] = std::move(factory);
}

std::vector<std::string> strategy_names() {
  register_all_strategies();
  std::lock_guard<std::mutex> lock(registry_mu());
  std::vector<std::string> names;
  for (const auto& [name, f] : registry()) names.push_back(name);
  return names;
}

StatusOr<std::unique_ptr<Strategy>> make_strategy(const std::string& name,
                                                  const StrategyContext& context) {
  register_all_strategies();
  StrategyFactory factory;
  {
    std::lock_guard<std::mutex> lock(registry_mu());
    auto it = registry().find(name);
    if (it != registry().end()) factory = it->second;
  }
  if (!factory) {
    return Status::error(fmt::format("--strategy '{}' is unknown (strategies: {})", name,
                                     join(strategy_names(), ", ")));
  }
  return factory(context);
}

StatusOr<std::vector<Architecture>> parse_init(const Space& space,
                                               const std::vector<std::string>& init,
                                               const std::string& source) {
  std::vector<Architecture> out;
  for (size_t i = 0; i < init.size(); ++i) {
    const size_t first = init[i].find_first_not_of(" \t\r");
    if (first == std::string::npos || init[i][first] == '#') continue;  // blank or comment
    auto arch = space.parse(init[i]);
    if (!arch.is_ok()) {
      return Status::error(fmt::format("{}:{}: {}", source, i + 1, arch.status().message()));
    }
    out.push_back(std::move(arch).value());
  }
  return out;
}

Architecture sample_by_priors(const Space& space, std::mt19937_64& rng) {
  return complete_by_priors(space, {}, rng);
}

}  // namespace sylva::search
