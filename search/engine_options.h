// EngineOptions: typed reads of an engine's options (StrategyParams, as the
// user wrote them, e.g. "population" -> "10") with messages that name the
// option and the value. Each engine reads what it knows, then check_all_read()
// rejects the rest, so `--uct-c` given to evolution is an error, not silence.
#pragma once

#include <set>
#include <string>

#include "search/strategy.h"

namespace sylva::search {

class EngineOptions {
 public:
  EngineOptions(const StrategyParams& params, std::string engine)
      : params_(params), engine_(std::move(engine)) {}

  // The value if given, else `fallback`; a bad value or one outside
  // [lo, hi] sets the first error.
  int64_t integer(const std::string& name, int64_t fallback, int64_t lo, int64_t hi);
  double real(const std::string& name, double fallback, double lo, double hi);

  // The first bad value, or an option this engine does not read.
  Status check_all_read() const;

 private:
  const std::string* find(const std::string& name);

  const StrategyParams& params_;
  const std::string engine_;
  std::set<std::string> read_;
  Status error_;
};

}  // namespace sylva::search
