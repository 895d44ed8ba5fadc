// The registry of evaluators: one entry per evaluator, declared next to its
// implementation (register_NAME_evaluator() in its file) and registered by
// register_all_evaluators() (evaluators/register_all.cc). The `--evaluator`
// help and its "one of ..." message are read from here. Torch-free: the
// experiment layer builds evaluators through it without LibTorch.
// Registration happens at start-up, before any look-up.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/option_def.h"
#include "base/options.h"
#include "base/status.h"
#include "evaluators/evaluator.h"

namespace sylva::evaluators {

struct EvaluatorDef {
  std::string name;
  std::string help;  // one line
  // Whether it honours a training budget (Job::epochs), as successive
  // halving needs.
  bool trains = false;
  // The metric optimised when no --objective is given; empty: val_acc. A
  // failed Status when the options lack what names it.
  std::function<StatusOr<std::string>(const OptionReader& options)> default_objective;
  // Validates the options (messages name the option) and builds the
  // evaluator; may load its data.
  std::function<StatusOr<std::unique_ptr<Evaluator>>(const OptionReader& options)> make;
  // The options it owns (stored with the experiment); options it shares
  // with another evaluator are declared by one of them.
  std::vector<OptionDef> options;
  // Options only this evaluator reads, with why: set for another evaluator
  // they are an error ("--max-latency-ms applies to --evaluator supernet (it
  // measures each configuration), got --evaluator train").
  std::vector<std::pair<std::string, std::string>> exclusive;
  // Options declared by another evaluator that it reads too (the supernet
  // evaluator's --val-samples); any other evaluator's option given with it
  // is an error ("--lr applies to --evaluator train, got --evaluator stub").
  std::vector<std::string> reads;
};

// An option of some evaluator given on the command line (`given`) that the
// evaluator `chosen` does not read: "--lr applies to --evaluator train, got
// --evaluator stub". Options in an `exclusive` list are left to their own
// messages.
Status check_evaluator_options(const std::string& chosen, const std::set<std::string>& given);

// Every registered evaluator, by name.
std::vector<const EvaluatorDef*> evaluator_defs();

void register_evaluator(EvaluatorDef def);

// The evaluator named `name`, or "--evaluator 'X' is unknown (evaluators: ...)".
StatusOr<const EvaluatorDef*> find_evaluator(const std::string& name);
// Sorted by name.
std::vector<std::string> evaluator_names();

// Registers the torch-free evaluators (stub, table), for programs that link
// no LibTorch; register_all_evaluators() (evaluators/register_all.cc, with
// LibTorch) registers those and the rest.
void register_stub_evaluator();   // stub_evaluator.cc
void register_table_evaluator();  // table_evaluator.cc

}  // namespace sylva::evaluators
