// The CLI's option table: the common options declared here (cli/options.cc)
// plus those the registries declare next to their code (strategies, the
// predictor, evaluators, training schedules, successive halving), each
// declared once. The table generates each verb's Boost.Program_options
// description, its --config INI reader and its help; unknown keys in either
// are errors. A verb's options are those its VerbDef accepts.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/option_def.h"
#include "base/options.h"
#include "base/status.h"
#include "cli/verb.h"

namespace sylva::cli {

// Every option, common ones first; an option several owners declare (an
// strategy option two strategies read) appears once, its help naming each owner.
// Built on first use, after registration.
const std::vector<OptionDef>& option_table();

struct ParsedOptions {
  std::map<std::string, std::string> values;  // given or defaulted
  std::set<std::string> given;                // given on the command line or in --config
  // Every value of a repeated option, as given (kRepeated options and a
  // verb's VerbDef::repeated ones).
  std::map<std::string, std::vector<std::string>> lists;
  bool help = false;
};

// Parses a verb's arguments (argv[0] is the verb) and its --config file.
StatusOr<ParsedOptions> parse_options(const VerbDef& verb, int argc, char** argv);

// The verb's options, formatted for --help.
std::string options_help(const VerbDef& verb);

// The verb's arguments parsed, or the exit code when the verb ends here:
// 0 after printing its --help (usage and options), 2 after a usage error,
// a missing one of `required` ("VERB: --NAME is required") or an --name
// with control characters or over 200 bytes.
struct Begun {
  ParsedOptions options;
  int exit_code = -1;  // >= 0: return it
};
Begun begin_verb(const std::string& name, int argc, char** argv,
                 const std::vector<std::string>& required = {});

}  // namespace sylva::cli
