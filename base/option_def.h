// OptionDef: one command-line option as its owner declares it. Strategies
// (search/), evaluators (evaluators/), training schedules and the CLI's
// common options each declare theirs in one table next to the code that
// reads them; the CLI's option table is the common options plus what the
// registries declare (cli/options.cc), and generates every verb's
// Boost.Program_options description, its --config reader and its help. Values
// are read, typed and range-checked where they are consumed (OptionReader,
// search::StrategyOptions), with the defaults declared here.
#pragma once

#include <string>

namespace sylva {

struct OptionDef {
  enum Kind {
    kValue,     // --name VALUE
    kFlag,      // --name (no value)
    kRepeated,  // --name VALUE, once per value (stored joined by ',')
  };
  std::string name;           // long name, also the --config key and the stored key
  std::string help;           // one line, without the default (added from default_value)
  std::string default_value;  // shown in the help as [default_value] when not empty
  enum Default {
    kFilled,  // the CLI fills default_value in when the option is not given
    kOwners,  // the CLI stores it empty; its owner applies default_value (strategies,
              // whose defaults differ: evolution's population is not nsga2's)
    kAbsent,  // absent unless given
  };
  Default defaults = kFilled;
  bool stored = false;     // part of an experiment's stored configuration
  bool resumable = false;  // `resume` may change it
  char short_name = 0;     // 0: none
  Kind kind = kValue;
};

}  // namespace sylva
