#include "search/random_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "spaces/random.h"

namespace sylva::search {
namespace {
constexpr int kSampleAttempts = 64;
constexpr int64_t kSearchNodes = 200000;
}  // namespace

std::optional<Architecture> RandomSearch::ask(int64_t number) {
  for (int attempt = 0; attempt < kSampleAttempts; ++attempt) {
    Rng rng(mix_seed(seed_, mix_seed(static_cast<uint64_t>(number), attempt)));
    Architecture arch = sample_by_priors(space_, rng);
    if (seen_.insert(arch.hash).second) return arch;
  }
  Rng rng(mix_seed(seed_, mix_seed(static_cast<uint64_t>(number), kSampleAttempts)));
  std::vector<int> prefix;
  int64_t budget = kSearchNodes;
  auto found = find_unseen(prefix, rng, &budget);
  if (found) seen_.insert(found->hash);
  return found;
}

std::optional<Architecture> RandomSearch::find_unseen(std::vector<int>& prefix, Rng& rng,
                                                      int64_t* budget) {
  if (--*budget < 0) return std::nullopt;
  auto ch = space_.choices(prefix);
  if (ch.empty()) {
    Architecture arch = space_.make(prefix).value();
    if (seen_.count(arch.hash)) return std::nullopt;
    return arch;
  }
  std::vector<int> order(ch.size());
  std::iota(order.begin(), order.end(), 0);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  for (int c : order) {
    prefix.push_back(c);
    auto found = find_unseen(prefix, rng, budget);
    prefix.pop_back();
    if (found) return found;
  }
  return std::nullopt;
}

void register_random_search() {
  register_strategy(
      "random", [](const StrategyContext& ctx) -> StatusOr<std::unique_ptr<Strategy>> {
        if (!ctx.params.empty()) {
          return Status::error(fmt::format("--strategy random takes no engine options, got '{}'",
                                           ctx.params.begin()->first));
        }
        return std::unique_ptr<Strategy>(new RandomSearch(*ctx.space, ctx.seed));
      });
}

}  // namespace sylva::search
