#include "search/strategy_options.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace sylva::search {

const std::string* StrategyOptions::find(const std::string& name) {
  read_.insert(name);
  auto it = params_.find(name);
  return it == params_.end() ? nullptr : &it->second;
}

int64_t StrategyOptions::integer(const std::string& name, int64_t fallback, int64_t lo,
                                 int64_t hi) {
  const std::string* v = find(name);
  if (v == nullptr) return fallback;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE) {
    if (error_.is_ok()) {
      error_ = Status::invalid_argument(fmt::format("--{} expects an integer, got '{}'", name, *v));
    }
    return fallback;
  }
  if (x < lo || x > hi) {
    if (error_.is_ok()) {
      error_ = Status::invalid_argument(
          fmt::format("--{} must be in [{}, {}], got {}", name, lo, hi, x));
    }
    return fallback;
  }
  return x;
}

double StrategyOptions::real(const std::string& name, double fallback, double lo, double hi) {
  const std::string* v = find(name);
  if (v == nullptr) return fallback;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !std::isfinite(x)) {
    if (error_.is_ok()) {
      error_ = Status::invalid_argument(fmt::format("--{} expects a number, got '{}'", name, *v));
    }
    return fallback;
  }
  if (x < lo || x > hi) {
    if (error_.is_ok()) {
      error_ = Status::invalid_argument(
          fmt::format("--{} must be in [{:g}, {:g}], got {:g}", name, lo, hi, x));
    }
    return fallback;
  }
  return x;
}

Status StrategyOptions::check_all_read() const {
  if (!error_.is_ok()) return error_;
  for (const auto& [name, value] : params_) {
    if (!read_.count(name)) {
      return Status::invalid_argument(
          fmt::format("--{} does not apply to --strategy {}", name, strategy_));
    }
  }
  return Status::ok();
}

}  // namespace sylva::search
