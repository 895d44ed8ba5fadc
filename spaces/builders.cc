#include "spaces/builders.h"

#include <stdexcept>

namespace sylva {
namespace {

const BuilderDef kBuilders[] = {
    {"chain", BuilderKind::kChain, false, "leaf ops in order, stages halving the resolution",
     OpDomain::kImage, "chain"},
    {"cell", BuilderKind::kCell, false, "NAS-Bench-201 cells of the leaf ops", OpDomain::kImage,
     "cell"},
    {"einspace", BuilderKind::kEinspace, true, "the network a typed grammar's derivation spells",
     OpDomain::kImage, "tree"},
    {"mlp", BuilderKind::kMlp, false,
     "layers in order on the flattened input: linear, normalisation, activation, dropout; a "
     "linear head",
     OpDomain::kVector, "chain"},
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

std::vector<std::string> builder_names(OpDomain domain) {
  std::vector<std::string> names;
  for (const BuilderDef& b : kBuilders) {
    if (!b.typed && b.ops == domain) names.push_back(b.name);
  }
  return names;
}

const BuilderDef& typed_builder() {
  for (const BuilderDef& b : kBuilders) {
    if (b.typed) return b;
  }
  throw std::logic_error("no builder of typed grammars");
}

}  // namespace sylva
