#include "search/tpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "search/strategy_options.h"
#include "search/variation.h"

namespace sylva::search {
namespace {

// Rounds of `candidates` draws before searching for any unseen architecture
// (only a nearly exhausted space needs more than the first).
constexpr int kDrawRounds = 4;

}  // namespace

Tpe::Tpe(const Space& space, uint64_t seed, TpeOptions options, std::vector<Architecture> init)
    : space_(space), seed_(seed), options_(options), init_(std::move(init)) {}

std::pair<Architecture, double> Tpe::draw(const ChoiceCounts& good, const ChoiceCounts& bad,
                                          Rng& rng) {
  auto cursor = space_.cursor();
  DecisionContexts::Walk walk(contexts_);
  std::vector<double> l, g;
  double score = 0;
  while (true) {
    const std::vector<Choice>& choices = cursor->choices();
    if (choices.empty()) break;
    const DecisionContexts::Key key = walk.next(choices, false);
    good.density(key, choices, options_.prior_weight, &l);
    bad.density(key, choices, options_.prior_weight, &g);
    const int c = static_cast<int>(sample_index(rng, l));
    score += std::log(l[c]) - std::log(g[c]);
    cursor->choose(c);
  }
  auto arch = space_.make(cursor->decisions());
  if (!arch.is_ok()) throw std::logic_error("tpe: " + arch.status().message());
  return {std::move(arch).value(), score};
}

std::optional<Architecture> Tpe::ask(int64_t number) {
  Rng rng(mix_seed(seed_, static_cast<uint64_t>(number)));
  std::optional<Architecture> arch = first_unseen(init_, seen_);
  if (!arch && static_cast<int64_t>(finished_.size()) >= options_.startup) {
    // The groups: best values first, earlier trials first among equals.
    std::vector<const Finished*> ranked;
    for (const Finished& f : finished_)
      if (f.value) ranked.push_back(&f);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const Finished* a, const Finished* b) { return *a->value > *b->value; });
    const auto n = static_cast<int64_t>(ranked.size());
    const int64_t n_good =
        std::min(options_.max_good, static_cast<int64_t>(std::ceil(options_.gamma * n)));
    ChoiceCounts good(contexts_), bad(contexts_);
    std::unordered_set<const Finished*> in_good;
    for (int64_t i = 0; i < n_good; ++i) {
      good.add(ranked[i]->learnt.keys, ranked[i]->learnt.decisions);
      in_good.insert(ranked[i]);
    }
    for (const Finished& f : finished_)
      if (!in_good.count(&f)) bad.add(f.learnt.keys, f.learnt.decisions);
    for (const auto& [hash, learnt] : pending_) bad.add(learnt.keys, learnt.decisions);

    double best_score = -std::numeric_limits<double>::infinity();
    for (int round = 0; round < kDrawRounds && !arch; ++round) {
      for (int64_t i = 0; i < options_.candidates; ++i) {
        auto [candidate, score] = draw(good, bad, rng);
        if (seen_.count(candidate.hash) || score <= best_score) continue;
        best_score = score;
        arch = std::move(candidate);
      }
    }
  }
  if (!arch) arch = sample_unseen(space_, seen_, rng);
  if (!arch) return std::nullopt;
  pending(*arch);
  return arch;
}

void Tpe::pending(const Architecture& arch) {
  seen_.insert(arch.hash);
  pending_[arch.hash] = {contexts_.learn(space_, arch.decisions), arch.decisions};
}

void Tpe::tell(const Observation& obs) {
  seen_.insert(obs.arch.hash);
  pending_.erase(obs.arch.hash);
  Finished f;
  f.number = obs.number;
  if (obs.ok && obs.value && std::isfinite(*obs.value)) f.value = *obs.value;
  f.learnt = {contexts_.learn(space_, obs.arch.decisions), obs.arch.decisions};
  finished_.push_back(std::move(f));
}

void register_tpe() {
  const TpeOptions defaults;
  register_strategy(
      {"tpe",
       "tree-structured Parzen estimator: densities of the best and the rest per decision context",
       {{"tpe-startup", "trials drawn by the priors before the densities are used",
         std::to_string(defaults.startup), OptionDef::kOwners, true},
        {"tpe-candidates", "draws from the good density per proposal",
         std::to_string(defaults.candidates), OptionDef::kOwners, true},
        {"tpe-gamma", "fraction of finished trials in the good group (at most 25)",
         fmt::format("{:g}", defaults.gamma), OptionDef::kOwners, true}},
       [](const StrategyContext& ctx) -> StatusOr<std::unique_ptr<Strategy>> {
         StrategyOptions read(ctx.params, "tpe");
         TpeOptions o;
         o.startup = read.integer("tpe-startup", o.startup, 1, 1000000);
         o.candidates = read.integer("tpe-candidates", o.candidates, 1, 100000);
         o.gamma = read.real("tpe-gamma", o.gamma, 1e-6, 1);
         Status s = read.check_all_read();
         if (!s.is_ok()) return s;
         SYLVA_ASSIGN(init, parse_init(*ctx.space, ctx.init, ctx.init_source));
         return std::unique_ptr<Strategy>(new Tpe(*ctx.space, ctx.seed, o, std::move(init)));
       }});
}

}  // namespace sylva::search
