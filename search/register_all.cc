// Registers every built-in strategy; called before any look-up by name.
#include <mutex>

#include "search/evolution.h"
#include "search/mcts.h"
#include "search/nsga2.h"
#include "search/random_search.h"
#include "search/strategy.h"
#include "search/tpe.h"

namespace sylva::search {

void register_all_strategies() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_random_search();
    register_evolution();
    register_mcts();
    register_nsga2();
    register_tpe();
  });
}

}  // namespace sylva::search
