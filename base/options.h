// OptionReader: typed reads of options kept as the text the user gave
// (option name without dashes -> value), with messages that name the option
// and the value ("--trials expects an integer, got 'x'"). Experiment
// configurations, evaluator and strategy factories and the verbs read their
// options through it. A missing key is a bug (the CLI fills every default),
// a bad value a Status. Holds a reference: the map must outlive the reader.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/status.h"

namespace sylva {

using OptionMap = std::map<std::string, std::string>;

class OptionReader {
 public:
  explicit OptionReader(const OptionMap& values) : values_(values) {}

  // The text; throws std::logic_error when the option is absent.
  const std::string& text(const std::string& name) const;
  // Present and not empty (optional options, and those older experiments lack).
  bool given(const std::string& name) const;
  StatusOr<int64_t> integer(const std::string& name, int64_t min) const;
  // The same, or `unset` when the option is empty.
  StatusOr<int64_t> integer_or(const std::string& name, int64_t min, int64_t unset) const;
  StatusOr<double> real(const std::string& name, double min) const;

 private:
  const OptionMap& values_;
};

}  // namespace sylva
