// StrategyOptions: typed reads of a strategy's options (StrategyParams, as the
// user wrote them, e.g. "population" -> "10") with messages that name the
// option and the value. Each strategy reads what it knows, then check_all_read()
// rejects the rest, so `--uct-c` given to evolution is an error, not silence.
#pragma once

#include <set>
#include <string>

#include "search/strategy.h"

namespace sylva::search {

class StrategyOptions {
 public:
  StrategyOptions(const StrategyParams& params, std::string strategy)
      : params_(params), strategy_(std::move(strategy)) {}

  // The value if given, else `fallback`; a bad value or one outside
  // [lo, hi] sets the first error.
  int64_t integer(const std::string& name, int64_t fallback, int64_t lo, int64_t hi);
  double real(const std::string& name, double fallback, double lo, double hi);

  // The first bad value, or an option this strategy does not read.
  Status check_all_read() const;

 private:
  const std::string* find(const std::string& name);

  const StrategyParams& params_;
  const std::string strategy_;
  std::set<std::string> read_;
  Status error_;
};

}  // namespace sylva::search
