// The one-line specs of supernet families ("ofa in=1 widths=24,40 ...",
// "sorted in=1 dim=64 ..."): the family name, then key=integer[,integer...]
// words. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace sylva {

// The values of each key of `text`, which must start with `family`; every
// key must be one of `keys` and every value a positive integer. Errors name
// the family and the word.
StatusOr<std::map<std::string, std::vector<int64_t>>> parse_spec_words(
    const std::string& text, const std::string& family, const std::vector<std::string>& keys);

}  // namespace sylva
