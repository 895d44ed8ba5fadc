// Some CLI tests read stored experiments through the experiment layer, which
// finds evaluators by name once they are registered (the program does it at
// start-up, cli/register_all.cc).
#include "evaluators/registry.h"
#include "evaluators/train/train_evaluator.h"

namespace {
const bool kRegistered = [] {
  sylva::evaluators::register_stub_evaluator();
  sylva::evaluators::register_table_evaluator();
  sylva::evaluators::register_train_evaluator();
  return true;
}();
}  // namespace
