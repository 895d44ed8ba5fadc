#include "search/nsga2.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "search/pareto.h"
#include "search/strategy_options.h"
#include "search/variation.h"

namespace sylva::search {
namespace {

// Variations tried for an unseen child before sampling one instead.
constexpr int kVariationAttempts = 32;

}  // namespace

Nsga2::Nsga2(const Space& space, uint64_t seed, Nsga2Options options,
             std::vector<Objective> objectives, std::vector<Architecture> init)
    : space_(space),
      seed_(seed),
      options_(options),
      objectives_(std::move(objectives)),
      init_(std::move(init)) {}

void Nsga2::sort_population() {
  std::vector<std::vector<double>> points;
  for (const auto& m : population_) points.push_back(m.values);
  const std::vector<int> ranks = pareto_ranks(points);
  std::map<int, std::vector<int>> fronts;
  for (size_t i = 0; i < ranks.size(); ++i) fronts[ranks[i]].push_back(static_cast<int>(i));
  for (const auto& [rank, front] : fronts) {
    const std::vector<double> d = crowding_distances(points, front);
    for (size_t i = 0; i < front.size(); ++i) {
      population_[front[i]].rank = rank;
      population_[front[i]].crowding = d[i];
    }
  }
}

const Nsga2::Member& Nsga2::tournament(Rng& rng) const {
  const Member& a = population_[static_cast<size_t>(uniform01(rng) * population_.size())];
  const Member& b = population_[static_cast<size_t>(uniform01(rng) * population_.size())];
  if (a.rank != b.rank) return a.rank < b.rank ? a : b;
  return b.crowding > a.crowding ? b : a;
}

std::optional<Architecture> Nsga2::ask(int64_t number) {
  Rng rng(mix_seed(seed_, static_cast<uint64_t>(number)));
  std::optional<Architecture> child;
  if (static_cast<int64_t>(population_.size()) < options_.population) {
    child = first_unseen(init_, seen_);
  } else {
    for (int attempt = 0; attempt < kVariationAttempts && !child; ++attempt) {
      const Member& first = tournament(rng);
      const Member& second = tournament(rng);
      std::optional<Architecture> base;
      if (uniform01(rng) < options_.crossover_prob) {
        base = crossover(space_, first.arch, second.arch, rng);
      }
      auto mutated = mutate(space_, base ? *base : first.arch, rng);
      if (mutated && !seen_.count(mutated->hash)) child = std::move(mutated);
    }
  }
  if (!child) child = sample_unseen(space_, seen_, rng);
  if (child) seen_.insert(child->hash);
  return child;
}

void Nsga2::tell(const Observation& obs) {
  seen_.insert(obs.arch.hash);
  if (!obs.ok) return;
  Member m{obs.arch, {}, obs.number};
  for (const Objective& o : objectives_) {
    auto it = obs.metrics.find(o.metric);
    if (it == obs.metrics.end() || !std::isfinite(it->second)) return;
    m.values.push_back(o.maximize ? it->second : -it->second);
  }
  population_.push_back(std::move(m));
  if (static_cast<int64_t>(population_.size()) > options_.population) {
    sort_population();
    size_t worst = 0;
    for (size_t i = 1; i < population_.size(); ++i) {
      const Member& a = population_[i];
      const Member& w = population_[worst];
      if (a.rank > w.rank || (a.rank == w.rank && a.crowding < w.crowding) ||
          (a.rank == w.rank && a.crowding == w.crowding && a.number < w.number)) {
        worst = i;
      }
    }
    population_.erase(population_.begin() + static_cast<std::ptrdiff_t>(worst));
  }
  sort_population();
}

void register_nsga2() {
  const Nsga2Options defaults;
  register_strategy({"nsga2",
                     "NSGA-II: non-dominated sorting over several objectives",
                     {{"population", "population size", std::to_string(defaults.population),
                       OptionDef::kOwners, true},
                      {"crossover-prob", "probability of a subtree crossover before mutating",
                       fmt::format("{:g}", defaults.crossover_prob), OptionDef::kOwners, true}},
                     [](const StrategyContext& ctx) -> StatusOr<std::unique_ptr<Strategy>> {
                       StrategyOptions read(ctx.params, "nsga2");
                       Nsga2Options o;
                       o.population = read.integer("population", o.population, 2, 1000000);
                       o.crossover_prob = read.real("crossover-prob", o.crossover_prob, 0, 1);
                       Status s = read.check_all_read();
                       if (!s.is_ok()) return s;
                       if (ctx.objectives.empty())
                         return Status::invalid_argument("--strategy nsga2 needs an --objective");
                       SYLVA_ASSIGN(init, parse_init(*ctx.space, ctx.init, ctx.init_source));
                       return std::unique_ptr<Strategy>(
                           new Nsga2(*ctx.space, ctx.seed, o, ctx.objectives, std::move(init)));
                     }});
}

}  // namespace sylva::search
