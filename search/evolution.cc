#include "search/evolution.h"

#include <fmt/format.h>

#include "search/strategy_options.h"
#include "search/variation.h"

namespace sylva::search {
namespace {

// Mutations tried for an unseen child before sampling one instead.
constexpr int kMutationAttempts = 32;

}  // namespace

Evolution::Evolution(const Space& space, uint64_t seed, EvolutionOptions options,
                     std::vector<Architecture> init)
    : space_(space), seed_(seed), options_(options), init_(std::move(init)) {}

const Evolution::Member& Evolution::tournament(Rng& rng) const {
  const Member* best = nullptr;
  for (int64_t i = 0; i < options_.sample_size; ++i) {
    const size_t k = static_cast<size_t>(uniform01(rng) * population_.size());
    if (best == nullptr || population_[k].value > best->value) best = &population_[k];
  }
  return *best;
}

std::optional<Architecture> Evolution::ask(int64_t number) {
  Rng rng(mix_seed(seed_, static_cast<uint64_t>(number)));
  std::optional<Architecture> child;
  if (static_cast<int64_t>(population_.size()) < options_.population) {
    child = first_unseen(init_, seen_);
    if (!child) child = sample_unseen(space_, seen_, rng);
  } else {
    for (int attempt = 0; attempt < kMutationAttempts && !child; ++attempt) {
      const Member& parent = tournament(rng);
      std::optional<Architecture> base;
      if (options_.crossover_prob > 0 && uniform01(rng) < options_.crossover_prob) {
        base = crossover(space_, parent.arch, tournament(rng).arch, rng);
      }
      auto mutated = mutate(space_, base ? *base : parent.arch, rng);
      if (mutated && !seen_.count(mutated->hash)) child = std::move(mutated);
    }
    if (!child) child = sample_unseen(space_, seen_, rng);
  }
  if (child) seen_.insert(child->hash);
  return child;
}

void Evolution::tell(const Observation& obs) {
  seen_.insert(obs.arch.hash);
  if (!obs.ok || !obs.value) return;
  population_.push_back(Member{obs.arch, *obs.value});
  while (static_cast<int64_t>(population_.size()) > options_.population) population_.pop_front();
}

void register_evolution() {
  const EvolutionOptions defaults;
  register_strategy({"evolution",
                     "regularized evolution: tournaments, subtree mutation, optional crossover",
                     {{"population", "population size", std::to_string(defaults.population),
                       OptionDef::kOwners, true},
                      {"sample-size", "tournament size", std::to_string(defaults.sample_size),
                       OptionDef::kOwners, true},
                      {"crossover-prob", "probability of a subtree crossover before mutating",
                       fmt::format("{:g}", defaults.crossover_prob), OptionDef::kOwners, true}},
                     [](const StrategyContext& ctx) -> StatusOr<std::unique_ptr<Strategy>> {
                       StrategyOptions read(ctx.params, "evolution");
                       EvolutionOptions o;
                       o.population = read.integer("population", o.population, 2, 1000000);
                       o.sample_size = read.integer("sample-size", o.sample_size, 1, 1000000);
                       o.crossover_prob = read.real("crossover-prob", o.crossover_prob, 0, 1);
                       Status s = read.check_all_read();
                       if (!s.is_ok()) return s;
                       if (o.sample_size > o.population) {
                         return Status::invalid_argument(
                             fmt::format("--sample-size ({}) must not exceed --population ({})",
                                         o.sample_size, o.population));
                       }
                       SYLVA_ASSIGN(init, parse_init(*ctx.space, ctx.init, ctx.init_source));
                       return std::unique_ptr<Strategy>(
                           new Evolution(*ctx.space, ctx.seed, o, std::move(init)));
                     }});
}

}  // namespace sylva::search
