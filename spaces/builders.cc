#include "spaces/builders.h"

#include <stdexcept>

namespace sylva {
namespace {

const BuilderDef kBuilders[] = {
    {"chain", BuilderKind::kChain, false, "leaf ops in order, stages halving the resolution"},
    {"cell", BuilderKind::kCell, false, "NAS-Bench-201 cells of the leaf ops"},
    {"einspace", BuilderKind::kEinspace, true, "the network a typed grammar's derivation spells"},
};

}  // namespace

const BuilderDef* find_builder(const std::string& name) {
  for (const BuilderDef& b : kBuilders) {
    if (name == b.name) return &b;
  }
  return nullptr;
}

std::vector<std::string> builder_names() {
  std::vector<std::string> names;
  for (const BuilderDef& b : kBuilders) names.push_back(b.name);
  return names;
}

const BuilderDef& typed_builder() {
  for (const BuilderDef& b : kBuilders) {
    if (b.typed) return b;
  }
  throw std::logic_error("no builder of typed grammars");
}

}  // namespace sylva
