// Registers every built-in engine; called before any look-up by name.
#include <mutex>

#include "search/random_search.h"
#include "search/strategy.h"

namespace sylva::search {

void register_all_strategies() {
  static std::once_flag once;
  std::call_once(once, [] { register_random_search(); });
}

}  // namespace sylva::search
