#include "evaluators/registry.h"

#include <fmt/format.h>

#include <algorithm>
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

Status check_evaluator_options(const std::string& chosen, const std::set<std::string>& given) {
  auto it = registry().find(chosen);
  if (it == registry().end()) return Status::ok();  // find_evaluator names it
  const EvaluatorDef& mine = it->second;
  auto reads = [](const EvaluatorDef& d, const std::string& option) {
    for (const OptionDef& o : d.options) {
      if (o.name == option) return true;
    }
    return std::find(d.reads.begin(), d.reads.end(), option) != d.reads.end();
  };
  for (const std::string& option : given) {
    if (reads(mine, option)) continue;
    std::vector<std::string> readers;
    bool exclusive = false;
    for (const auto& [name, def] : registry()) {
      for (const auto& e : def.exclusive) exclusive |= e.first == option;
      if (reads(def, option)) readers.push_back("--evaluator " + name);
    }
    if (!readers.empty() && !exclusive) {
      return Status::invalid_argument(fmt::format("--{} applies to {}, got --evaluator {}", option,
                                                  join_words(readers, "and"), chosen));
    }
  }
  return Status::ok();
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
