#include "base/options.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "base/strings.h"

namespace sylva {

const std::string& OptionReader::text(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    throw std::logic_error("option '" + name + "' missing from configuration");
  }
  return it->second;
}

bool OptionReader::given(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

StatusOr<int64_t> OptionReader::integer(const std::string& name, int64_t min) const {
  const std::string& v = text(name);
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE) {
    return Status::invalid_argument(
        fmt::format("--{} expects an integer, got '{}'", name, quote_cut(v)));
  }
  if (x < min)
    return Status::invalid_argument(fmt::format("--{} must be >= {}, got {}", name, min, x));
  return static_cast<int64_t>(x);
}

StatusOr<int64_t> OptionReader::integer_or(const std::string& name, int64_t min,
                                           int64_t unset) const {
  if (text(name).empty()) return unset;
  return integer(name, min);
}

StatusOr<double> OptionReader::real(const std::string& name, double min) const {
  const std::string& v = text(name);
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x)) {
    return Status::invalid_argument(
        fmt::format("--{} expects a number, got '{}'", name, quote_cut(v)));
  }
  if (x < min)
    return Status::invalid_argument(fmt::format("--{} must be >= {:g}, got {:g}", name, min, x));
  return x;
}

}  // namespace sylva
