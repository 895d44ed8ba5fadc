#include "spaces/supernets/spec_words.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace sylva {

StatusOr<std::map<std::string, std::vector<int64_t>>> parse_spec_words(
    const std::string& text, const std::string& family, const std::vector<std::string>& keys) {
  std::istringstream in(text);
  std::string word;
  if (!(in >> word) || word != family) {
    return Status::invalid_argument(
        fmt::format("{} spec: starts with '{}', got '{}'", family, family, word));
  }
  std::map<std::string, std::vector<int64_t>> out;
  while (in >> word) {
    const size_t eq = word.find('=');
    const std::string key = word.substr(0, eq);
    if (eq == std::string::npos || std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return Status::invalid_argument(fmt::format("{} spec: unknown entry '{}'", family, word));
    }
    std::vector<int64_t> values;
    std::istringstream items(word.substr(eq + 1));
    for (std::string item; std::getline(items, item, ',');) {
      char* end = nullptr;
      const long long v = std::strtoll(item.c_str(), &end, 10);
      if (item.empty() || *end != '\0' || v < 1) {
        return Status::invalid_argument(
            fmt::format("{} spec: {} takes positive integers, got '{}'", family, key, item));
      }
      values.push_back(v);
    }
    if (values.empty())
      return Status::invalid_argument(fmt::format("{} spec: {} has no value", family, key));
    out[key] = values;
  }
  return out;
}

}  // namespace sylva
