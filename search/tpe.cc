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

bool Tpe::Better::operator()(size_t a, size_t b) const {
  const Finished& x = (*finished)[a];
  const Finished& y = (*finished)[b];
  if (*x.value != *y.value) return *x.value > *y.value;
  return x.number != y.number ? x.number < y.number : a < b;
}

std::pair<std::vector<int>, double> Tpe::draw(const ChoiceCounts& good, const ChoiceCounts& bad,
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
  return {cursor->decisions(), score};
}

std::optional<Architecture> Tpe::ask(int64_t number) {
  Rng rng(mix_seed(seed_, static_cast<uint64_t>(number)));
  std::optional<Architecture> arch = first_unseen(init_, seen_);
  if (!arch && static_cast<int64_t>(finished_.size()) >= options_.startup) {
    // Good: the best n_good; bad: every other finished trial and the pending.
    const auto n = static_cast<int64_t>(ranked_.size());
    const int64_t n_good =
        std::min(options_.max_good, static_cast<int64_t>(std::ceil(options_.gamma * n)));
    ChoiceCounts good(contexts_);
    ChoiceCounts bad = all_;
    auto it = ranked_.begin();
    for (int64_t i = 0; i < n_good; ++i, ++it) {
      const Learnt& learnt = finished_[*it].learnt;
      good.add(learnt.keys, learnt.decisions);
      bad.add(learnt.keys, learnt.decisions, -1.0);
    }
    for (const auto& [hash, learnt] : pending_) bad.add(learnt.keys, learnt.decisions);

    // Candidates by score, best first (earlier drawn first among equals);
    // the first unseen one is proposed.
    for (int round = 0; round < kDrawRounds && !arch; ++round) {
      std::vector<std::pair<std::vector<int>, double>> drawn;
      for (int64_t i = 0; i < options_.candidates; ++i) drawn.push_back(draw(good, bad, rng));
      std::stable_sort(drawn.begin(), drawn.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      for (const auto& [decisions, score] : drawn) {
        auto made = space_.make(decisions);
        if (!made.is_ok()) throw std::logic_error("tpe: " + made.status().message());
        if (seen_.count(made.value().hash)) continue;
        arch = std::move(made).value();
        break;
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
  // A rejected proposal says nothing of how the architecture would do:
  // counted among the failures, it would fill the bad group with what the
  // good density proposes and stall the search.
  if (obs.withdrawn) {
    pending_.erase(obs.arch.hash);
    return;
  }
  Finished f;
  f.number = obs.number;
  if (obs.ok && obs.value && std::isfinite(*obs.value)) f.value = *obs.value;
  auto it = pending_.find(obs.arch.hash);
  if (it != pending_.end()) {
    f.learnt = std::move(it->second);
    pending_.erase(it);
  } else {
    f.learnt = {contexts_.learn(space_, obs.arch.decisions), obs.arch.decisions};
  }
  all_.add(f.learnt.keys, f.learnt.decisions);
  const bool has_value = f.value.has_value();
  finished_.push_back(std::move(f));
  if (has_value) ranked_.insert(finished_.size() - 1);
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
