// The network builders a grammar may name with `%builder NAME`, declared once
// in a torch-free table (builders.cc) so that grammars validate without
// LibTorch; spaces/nets/network.cc builds each kind. A new builder is one
// entry of the table and its case in build_network.
#pragma once

#include <string>
#include <vector>

#include "spaces/op_registry.h"

namespace sylva {

enum class BuilderKind {
  kChain,     // leaves in order, in stages that halve the resolution
  kCell,      // NAS-Bench-201 cells
  kEinspace,  // the canonical bracket form of a typed grammar
  kMlp,       // leaves in order on the flattened input, then a linear head
};

struct BuilderDef {
  const char* name;
  BuilderKind kind;
  bool typed;  // builds typed grammars (%state tensor), and only those
  const char* help;
  OpDomain ops;         // untyped builders: the registry ops they build
  const char* drawing;  // how a report draws its networks: "chain", "cell" or "tree"
};

// The builder named `name`, or nullptr.
const BuilderDef* find_builder(const std::string& name);
// In table order.
std::vector<std::string> builder_names();
// The untyped builders of ops of `domain`, in table order.
std::vector<std::string> builder_names(OpDomain domain);
// The builder of typed grammars.
const BuilderDef& typed_builder();

}  // namespace sylva
