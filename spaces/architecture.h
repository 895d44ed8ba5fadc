// Architecture: one complete path through a space's decision tree.
//
// `decisions` are the indices chosen at each open decision, in order; `labels`
// the matching choice labels. The key is the labels joined by '/'; the
// canonical string is a bracket form of the derivation that the space parses
// back to the same architecture; the hash is a stable 64-bit FNV-1a of the
// canonical string, used to de-duplicate evaluations. Plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/strings.h"  // fnv1a64, hash_hex, join

namespace sylva {

struct Architecture {
  std::vector<int> decisions;           // index chosen at each decision
  std::vector<std::string> labels;      // label of each choice
  std::vector<std::string> primitives;  // leaf op names, left to right
  std::string key;                      // labels joined by '/'
  std::string canonical;                // bracket form, parses back
  uint64_t hash = 0;                    // fnv1a64(canonical)

  bool operator==(const Architecture& o) const { return canonical == o.canonical; }
};

}  // namespace sylva
