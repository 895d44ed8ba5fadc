#include "search/predictor_assisted.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <set>

#include "search/pareto.h"
#include "search/predictor.h"

namespace sylva::search {
namespace {

class PredictorAssisted : public Strategy {
 public:
  PredictorAssisted(std::string strategy, StrategyContext ctx, PredictorOptions o,
                    std::vector<Architecture> init)
      : strategy_(std::move(strategy)), ctx_(std::move(ctx)), o_(std::move(o)), rng_(ctx_.seed) {
    for (auto& a : init) queue_.push_back(std::move(a));
  }

  std::optional<Architecture> ask(int64_t number) override {
    while (true) {
      if (queue_.empty()) {
        if (static_cast<int>(real_.size() + pending_) < o_.warmup || real_.size() < 2) {
          // Warm-up (or nothing to fit yet): samples by the priors.
          auto a = fresh_sample();
          if (!a) return std::nullopt;
          queue_.push_back(*a);
        } else if (!refill()) {
          auto a = fresh_sample();
          if (!a) return std::nullopt;
          queue_.push_back(*a);
        }
      }
      Architecture a = std::move(queue_.front());
      queue_.pop_front();
      if (seen_.insert(a.canonical).second) {
        ++pending_;
        return a;
      }
    }
  }

  void tell(const Observation& obs) override {
    if (!seen_.insert(obs.arch.canonical).second && pending_ > 0) --pending_;
    if (!obs.ok) return;
    Observation o = obs;
    const auto known = ctx_.space->known_metrics(obs.arch.decisions);
    o.metrics.insert(known.begin(), known.end());
    for (const Objective& j : ctx_.objectives) {
      if (!o.metrics.count(j.metric)) return;  // cannot learn from it
    }
    real_.push_back(std::move(o));
    features_.push_back(ctx_.space->encode(obs.arch.decisions));
  }

  void pending(const Architecture& arch) override {
    if (seen_.insert(arch.canonical).second) ++pending_;
  }

 private:
  std::optional<Architecture> fresh_sample() {
    for (int tries = 0; tries < 200; ++tries) {
      Architecture a = sample_by_priors(*ctx_.space, rng_);
      if (!seen_.count(a.canonical)) return a;
    }
    return std::nullopt;
  }

  // Fits the predictors, runs the strategy against them, queues the best
  // unevaluated proposals. False when nothing new was proposed.
  bool refill() {
    ++round_;
    std::map<std::string, std::unique_ptr<Predictor>> predictors;
    for (const Objective& j : ctx_.objectives) {
      if (ctx_.space->known_metrics(real_.front().arch.decisions).count(j.metric)) continue;
      auto p = make_predictor(o_.kind, ctx_.seed + round_).value();
      std::vector<double> y;
      for (const auto& r : real_) y.push_back(r.metrics.at(j.metric));
      p->fit(features_, y);
      predictors[j.metric] = std::move(p);
    }
    StrategyContext inner = ctx_;
    inner.seed = ctx_.seed * 7919 + static_cast<uint64_t>(round_);
    inner.init.clear();
    auto made = make_strategy(strategy_, inner);
    if (!made.is_ok()) return false;
    std::unique_ptr<Strategy> strategy = std::move(made).value();
    int64_t n = 0;
    for (const auto& r : real_) {
      Observation o = r;
      o.number = n++;
      strategy->tell(o);
    }
    struct Candidate {
      Architecture arch;
      std::vector<double> objectives;  // signed: larger is better
    };
    std::vector<Candidate> proposed;
    std::set<std::string> proposed_keys;
    for (int s = 0; s < o_.steps; ++s) {
      auto a = strategy->ask(n);
      if (!a) break;
      Observation o;
      o.number = n++;
      o.arch = *a;
      o.ok = true;
      o.metrics = ctx_.space->known_metrics(a->decisions);
      const std::vector<double> x = ctx_.space->encode(a->decisions);
      for (auto& [metric, p] : predictors) o.metrics[metric] = p->predict(x);
      std::vector<double> signed_values;
      for (const Objective& j : ctx_.objectives) {
        const double v = o.metrics.at(j.metric);
        signed_values.push_back(j.maximize ? v : -v);
      }
      o.value = signed_values.front();
      strategy->tell(o);
      if (!seen_.count(a->canonical) && proposed_keys.insert(a->canonical).second) {
        proposed.push_back({*a, signed_values});
      }
    }
    if (proposed.empty()) return false;
    std::vector<std::vector<double>> points;
    for (const auto& c : proposed) points.push_back(c.objectives);
    const std::vector<int> ranks = pareto_ranks(points);
    std::vector<size_t> order(proposed.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (ranks[a] != ranks[b]) return ranks[a] < ranks[b];
      return points[a].front() > points[b].front();
    });
    for (size_t i = 0; i < order.size() && static_cast<int>(i) < o_.batch; ++i) {
      queue_.push_back(proposed[order[i]].arch);
    }
    return true;
  }

  std::string strategy_;
  StrategyContext ctx_;
  PredictorOptions o_;
  std::mt19937_64 rng_;
  std::deque<Architecture> queue_;
  std::set<std::string> seen_;  // evaluated, pending or handed out
  size_t pending_ = 0;
  std::vector<Observation> real_;
  std::vector<std::vector<double>> features_;
  int round_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<Strategy>> make_predictor_assisted(const std::string& strategy,
                                                            const StrategyContext& context,
                                                            const PredictorOptions& options) {
  SYLVA_ASSIGN(check, make_predictor(options.kind, 0));
  (void)check;
  if (options.warmup < 2) {
    return Status::invalid_argument(
        fmt::format("--predictor-warmup must be >= 2, got {}", options.warmup));
  }
  if (options.steps < 1) {
    return Status::invalid_argument(
        fmt::format("--predictor-steps must be >= 1, got {}", options.steps));
  }
  if (options.batch < 1) {
    return Status::invalid_argument(
        fmt::format("--predictor-batch must be >= 1, got {}", options.batch));
  }
  // The strategy and its options are checked once here, as the user gave them.
  StrategyContext probe = context;
  probe.init.clear();
  SYLVA_ASSIGN(inner, make_strategy(strategy, probe));
  (void)inner;
  SYLVA_ASSIGN(init, parse_init(*context.space, context.init, context.init_source));
  return std::unique_ptr<Strategy>(
      std::make_unique<PredictorAssisted>(strategy, context, options, std::move(init)));
}

const std::vector<OptionDef>& predictor_options() {
  static const PredictorOptions d;
  static const std::vector<OptionDef> kOptions = {
      {"predictor",
       "predictor-assisted search: ridge | mlp, fitted on the real results; the strategy runs "
       "against it and its best proposals are evaluated for real",
       "", OptionDef::kFilled, true},
      {"predictor-warmup", "predictor: real evaluations before the first fit",
       std::to_string(d.warmup), OptionDef::kFilled, true},
      {"predictor-steps", "predictor: predicted evaluations per round", std::to_string(d.steps),
       OptionDef::kFilled, true},
      {"predictor-batch", "predictor: real evaluations per round", std::to_string(d.batch),
       OptionDef::kFilled, true},
  };
  return kOptions;
}

}  // namespace sylva::search
