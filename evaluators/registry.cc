#include "evaluators/registry.h"

#include <fmt/format.h>

#include <map>

#include "base/strings.h"

namespace sylva::evaluators {
namespace {

std::map<std::string, EvaluatorDef>& registry() {
  static auto* r = new std::map<std::string, EvaluatorDef>;
  return *r;
}

}  // namespace

void register_evaluator(EvaluatorDef def) {
  const std::string name = def.name;
  registry()[name] = std::move(def);
}

StatusOr<const EvaluatorDef*> find_evaluator(const std::string& name) {
  auto it = registry().find(name);
  if (it != registry().end()) return &it->second;
  return Status::invalid_argument(fmt::format("--evaluator '{}' is unknown (evaluators: {})", name,
                                              join(evaluator_names(), ", ")));
}

std::vector<const EvaluatorDef*> evaluator_defs() {
  std::vector<const EvaluatorDef*> out;
  for (const auto& [name, def] : registry()) out.push_back(&def);
  return out;
}

std::vector<std::string> evaluator_names() {
  std::vector<std::string> names;
  for (const auto& [name, def] : registry()) names.push_back(name);
  return names;
}

}  // namespace sylva::evaluators
