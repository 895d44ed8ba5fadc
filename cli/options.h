// Every command-line option, declared once (name, verbs, default, help). The
// table generates each verb's Boost.Program_options description and its
// --config INI reader; unknown keys in either are errors.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace sylva::cli {

enum Verb : unsigned {
  kSearch = 1,
  kResume = 2,
  kStatus = 4,
  kTrials = 8,
  kBest = 16,
  kExport = 32,
  kSample = 64,
  kSupernet = 128,
  kSupernetSelect = 256,
  kWorker = 512,
};

struct OptionDef {
  const char* name;           // long name, also the INI key and config key
  char short_name;            // 0: none
  const char* default_value;  // nullptr: no default (absent unless given)
  unsigned verbs;             // where it is accepted
  bool stored;                // part of the experiment's stored configuration
  bool resumable;             // may be changed by `resume`
  const char* help;
};

const std::vector<OptionDef>& option_table();

struct ParsedOptions {
  std::map<std::string, std::string> values;  // given or defaulted
  std::set<std::string> given;                // given on the command line or in --config
  bool help = false;
};

// Parses a verb's arguments (argv[0] is the verb) and its --config file.
StatusOr<ParsedOptions> parse_options(Verb verb, const std::string& verb_name, int argc,
                                      char** argv);

// The verb's options, formatted for --help.
std::string options_help(Verb verb);

}  // namespace sylva::cli
