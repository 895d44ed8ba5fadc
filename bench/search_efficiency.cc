// Search efficiency on a tabular benchmark: for each strategy, many seeds of a
// single-worker search through the table evaluator (in process, no
// database), and the mean best value of the metric after 25, 50, 100 and 200
// trials, with its standard error. Every trial is a new architecture (the
// strategies never propose one twice), so budgets count unique queries.
//
//   search_efficiency [--space S] TABLE.csv METRIC [SEEDS] [TRIALS] [ENGINE[:k=v,...] ...]
//
// k=v are the engine's options as on the command line without "--", plus
// predictor=ridge|mlp (predictor-warmup, -steps, -batch) for the engine
// steered by a predictor (search/predictor_assisted.h), and
// proxy-filter=params|flops (proxy-pool=K, proxy-trials=N) for proposals screened by the
// table's cost columns (search/proxy_filter.h).
//
// S is the space whose keys the table uses (default nas-bench-macro; nb201 or
// a grammar file for other tabular benchmarks).
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "evaluators/proxy_scorer.h"
#include "evaluators/table_evaluator.h"
#include "search/predictor_assisted.h"
#include "search/proxy_filter.h"
#include "search/strategy.h"

namespace {

using namespace sylva;

class NullReporter : public evaluators::Reporter {
 public:
  void intermediate(int, const std::string&, double) override {}
};

// "evolution:population=10,sample-size=3" -> name and params.
std::pair<std::string, search::StrategyParams> parse_engine(const std::string& spec) {
  search::StrategyParams params;
  const size_t colon = spec.find(':');
  std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string kv = rest.substr(0, comma);
    const size_t eq = kv.find('=');
    params[kv.substr(0, eq)] = kv.substr(eq + 1);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  return {spec.substr(0, colon), params};
}

}  // namespace

int main(int argc, char** argv) {
  std::string space_name = "nas-bench-macro";
  if (argc > 2 && std::string(argv[1]) == "--space") {
    space_name = argv[2];
    argv[2] = argv[0];
    argv += 2;
    argc -= 2;
  }
  if (argc < 3) {
    fmt::print(stderr,
               "usage: {} [--space S] TABLE.csv METRIC [SEEDS] [TRIALS] [ENGINE[:k=v,...] ...]\n",
               argv[0]);
    return 2;
  }
  const std::string table = argv[1], metric = argv[2];
  const int seeds = argc > 3 ? std::atoi(argv[3]) : 50;
  const int trials = argc > 4 ? std::atoi(argv[4]) : 200;
  std::vector<std::string> strategies;
  for (int i = 5; i < argc; ++i) strategies.push_back(argv[i]);
  if (strategies.empty())
    strategies = {"random", "evolution:population=10,sample-size=3", "evolution", "mcts"};

  evaluators::register_table_proxy_scorer();
  auto evaluator = evaluators::make_table_evaluator({table, metric});
  if (!evaluator.is_ok()) {
    fmt::print(stderr, "{}\n", evaluator.status().message());
    return 1;
  }
  auto made = make_space(space_name);
  if (!made.is_ok()) {
    fmt::print(stderr, "{}\n", made.status().message());
    return 1;
  }
  auto space = std::move(made).value();
  const std::vector<int> budgets = {25, 50, 100, 200, 400, 1000};
  fmt::print("{} seeds x {} trials, metric {}; mean best (standard error)\n", seeds, trials,
             metric);
  for (const std::string& spec : strategies) {
    auto [name, params] = parse_engine(spec);
    std::vector<std::vector<double>> best_at(budgets.size());
    for (int seed = 0; seed < seeds; ++seed) {
      search::StrategyContext ctx;
      ctx.space = space.get();
      ctx.seed = static_cast<uint64_t>(seed);
      ctx.params = params;
      ctx.objectives = {{metric, true}};
      // predictor=ridge|mlp (and predictor-warmup, -steps, -batch): the
      // engine steered by a predictor, as --predictor does.
      std::optional<search::PredictorOptions> predictor;
      if (auto it = ctx.params.find("predictor"); it != ctx.params.end()) {
        predictor.emplace();
        predictor->kind = it->second;
        ctx.params.erase(it);
        const std::pair<const char*, int*> ints[] = {{"predictor-warmup", &predictor->warmup},
                                                     {"predictor-steps", &predictor->steps},
                                                     {"predictor-batch", &predictor->batch}};
        for (auto [key, field] : ints) {
          if (auto p = ctx.params.find(key); p != ctx.params.end()) {
            *field = std::atoi(p->second.c_str());
            ctx.params.erase(p);
          }
        }
      }
      // proxy-filter=params|flops (and proxy-pool=K): proposals screened by
      // the table's own cost columns, as --proxy-filter does.
      std::optional<search::ProxyFilterOptions> filter;
      if (auto it = ctx.params.find("proxy-filter"); it != ctx.params.end()) {
        filter.emplace();
        filter->proxy = it->second;
        ctx.params.erase(it);
        if (auto p = ctx.params.find("proxy-pool"); p != ctx.params.end()) {
          filter->pool = std::atoi(p->second.c_str());
          ctx.params.erase(p);
        }
        if (auto p = ctx.params.find("proxy-trials"); p != ctx.params.end()) {
          filter->trials = std::atoll(p->second.c_str());
          ctx.params.erase(p);
        }
      }
      auto strategy = predictor ? search::make_predictor_assisted(name, ctx, *predictor)
                                : search::make_strategy(name, ctx);
      if (filter && strategy.is_ok()) {
        auto scorer = evaluators::make_proxy_scorer("table", filter->proxy,
                                                    OptionReader(OptionMap{{"table", table}}));
        if (!scorer.is_ok()) {
          fmt::print(stderr, "{}\n", scorer.status().message());
          return 1;
        }
        const Space* searched = space.get();
        strategy = search::make_proxy_filter(
            std::move(strategy).value(), *filter,
            [score = scorer.value(), searched](const Architecture& a, uint64_t s) {
              return score(*searched, a, s);
            },
            ctx.seed);
      }
      if (!strategy.is_ok()) {
        fmt::print(stderr, "{}\n", strategy.status().message());
        return 1;
      }
      NullReporter reporter;
      double best = -1e300;
      size_t next = 0;
      for (int n = 0; n < trials; ++n) {
        auto arch = strategy.value()->ask(n);
        if (!arch) break;
        evaluators::Job job;
        job.trial_number = n;
        job.arch = *arch;
        job.space = space.get();
        auto r = evaluator.value()->evaluate(job, reporter);
        search::Observation obs;
        obs.number = n;
        obs.arch = *arch;
        obs.metrics = r.metrics;
        obs.ok = r.state == evaluators::TrialState::kComplete;
        if (obs.ok) obs.value = r.metrics.at(metric);
        if (obs.ok) best = std::max(best, *obs.value);
        strategy.value()->tell(obs);
        while (next < budgets.size() && n + 1 == budgets[next]) best_at[next++].push_back(best);
      }
    }
    std::string line = fmt::format("{:<40}", spec);
    for (size_t b = 0; b < budgets.size() && budgets[b] <= trials; ++b) {
      const auto& v = best_at[b];
      double mean = 0, var = 0;
      for (double x : v) mean += x;
      mean /= v.size();
      for (double x : v) var += (x - mean) * (x - mean);
      const double se = v.size() > 1 ? std::sqrt(var / (v.size() - 1) / v.size()) : 0;
      line += fmt::format("  @{}: {:.2f} ({:.3f})", budgets[b], mean, se);
    }
    fmt::print("{}\n", line);
  }
  return 0;
}
