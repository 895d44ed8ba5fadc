#include "cli/verb.h"

#include <algorithm>
#include <memory>

namespace sylva::cli {
namespace {

std::vector<std::unique_ptr<VerbDef>>& registry() {
  static auto* r = new std::vector<std::unique_ptr<VerbDef>>;
  return *r;
}

}  // namespace

void register_verb(VerbDef verb) {
  for (auto& v : registry()) {
    if (v->name == verb.name) {
      *v = std::move(verb);
      return;
    }
  }
  registry().push_back(std::make_unique<VerbDef>(std::move(verb)));
}

const VerbDef* find_verb(const std::string& name) {
  for (const auto& v : registry()) {
    if (v->name == name) return v.get();
  }
  return nullptr;
}

std::vector<const VerbDef*> verbs() {
  std::vector<const VerbDef*> out;
  for (const auto& v : registry()) {
    if (v->listed) out.push_back(v.get());
  }
  return out;
}

std::function<bool(const OptionDef&)> accepts_names(std::vector<std::string> names) {
  return [names = std::move(names)](const OptionDef& o) {
    return std::find(names.begin(), names.end(), o.name) != names.end();
  };
}

}  // namespace sylva::cli
