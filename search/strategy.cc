#include "search/strategy.h"

#include <fmt/format.h>

#include <mutex>

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

Architecture sample_by_priors(const Space& space, std::mt19937_64& rng) {
  std::vector<int> prefix;
  std::vector<double> weights;
  while (true) {
    auto ch = space.choices(prefix);
    if (ch.empty()) break;
    weights.clear();
    for (const auto& c : ch) weights.push_back(c.prior);
    prefix.push_back(static_cast<int>(sample_index(rng, weights)));
  }
  return space.make(prefix).value();
}

}  // namespace sylva::search
