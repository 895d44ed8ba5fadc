// The verbs of the `sylva` program, registered by name next to their code
// (register_NAME_verbs() in each verb_*.cc, called by cli/register_all.cc).
// `sylva --help`, the "unknown verb" message and each verb's option set are
// read from here. Registration happens at start-up, before any look-up.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "base/option_def.h"

namespace sylva::cli {

struct VerbDef {
  std::string name;   // "search"; a sub-verb is "supernet train"
  std::string help;   // one line for `sylva --help`
  std::string usage;  // what `sylva VERB --help` prints above the options
  // Which options of option_table() the verb takes.
  std::function<bool(const OptionDef&)> accepts;
  // Runs the verb on its arguments (argv[0] is the verb); the exit code.
  std::function<int(int argc, char** argv)> run;
  bool listed = true;  // false for sub-verbs, which their verb dispatches
  // The message for an option of the table the verb does not take; empty:
  // "VERB: option '--X' does not apply to VERB".
  std::function<std::string(const OptionDef&)> refusal;
  // Options of the table this verb takes once per value (`report --name A
  // --name B`); their values are in ParsedOptions::lists.
  std::set<std::string> repeated = {};
};

void register_verb(VerbDef verb);
// The verb named `name`, or nullptr.
const VerbDef* find_verb(const std::string& name);
// Listed verbs in registration order.
std::vector<const VerbDef*> verbs();

// An `accepts` for a fixed list of option names.
std::function<bool(const OptionDef&)> accepts_names(std::vector<std::string> names);

}  // namespace sylva::cli
