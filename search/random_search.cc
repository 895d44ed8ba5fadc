#include "search/random_search.h"

#include <fmt/format.h>

#include "base/random.h"
#include "search/strategy_options.h"
#include "search/variation.h"

namespace sylva::search {

std::optional<Architecture> RandomSearch::ask(int64_t number) {
  Rng rng(mix_seed(seed_, static_cast<uint64_t>(number)));
  auto found = sample_unseen(space_, seen_, rng);
  if (found) seen_.insert(found->hash);
  return found;
}

void register_random_search() {
  register_strategy({"random",
                     "each decision drawn by its prior",
                     {},
                     [](const StrategyContext& ctx) -> StatusOr<std::unique_ptr<Strategy>> {
                       StrategyOptions options(ctx.params, "random");
                       Status s = options.check_all_read();
                       if (!s.is_ok()) return s;
                       if (!ctx.init.empty())
                         return Status::invalid_argument(
                             "--init does not apply to --strategy random");
                       return std::unique_ptr<Strategy>(new RandomSearch(*ctx.space, ctx.seed));
                     }});
}

}  // namespace sylva::search
