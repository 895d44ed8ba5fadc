#include "cli/register_all.h"

#include <mutex>

#include "evaluators/registry.h"
#include "evaluators/supernet/supernet_evaluator.h"
#include "evaluators/train/train_evaluator.h"
#include "search/strategy.h"
#include "spaces/supernets/supernet.h"

namespace sylva::cli {

void register_all() {
  static std::once_flag once;
  std::call_once(once, [] {
    search::register_all_strategies();
    // A new evaluator adds its line here.
    evaluators::register_stub_evaluator();
    evaluators::register_table_evaluator();
    evaluators::register_train_evaluator();
    evaluators::register_supernet_evaluator();
    register_all_supernet_families();
  });
}

}  // namespace sylva::cli
