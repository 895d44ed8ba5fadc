#include "experiments/config.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "base/strings.h"
#include "evaluators/proxy_scorer.h"
#include "evaluators/registry.h"
#include "evaluators/worker_pool.h"
#include "experiments/halving.h"
#include "experiments/run_support.h"
#include "search/predictor_assisted.h"
#include "search/proxy_filter.h"
#include "search/strategy.h"

namespace sylva::experiments {

std::string ExperimentConfig::to_json() const {
  nlohmann::json j;
  j["options"] = options;
  j["space_source"] = space_source;
  j["init_text"] = init_text;
  if (!files.empty()) j["files"] = files;
  if (!data.empty()) j["data"] = nlohmann::json::parse(data);
  return j.dump(2);
}

StatusOr<ExperimentConfig> ExperimentConfig::from_json(const std::string& json) {
  try {
    auto j = nlohmann::json::parse(json);
    ExperimentConfig c;
    c.options = j.at("options").get<std::map<std::string, std::string>>();
    c.space_source = j.at("space_source").get<std::string>();
    c.init_text = j.value("init_text", std::string());
    if (j.contains("files")) c.files = j.at("files").get<std::map<std::string, std::string>>();
    if (j.contains("data")) c.data = j.at("data").dump();
    return c;
  } catch (const std::exception& e) {
    return Status::corruption(
        fmt::format("stored experiment configuration is unreadable: {}", e.what()));
  }
}

const std::vector<std::string>& ExperimentConfig::strategy_options() {
  // What the registered strategies declare, so that a new strategy's options
  // reach it without a list to keep here.
  static const std::vector<std::string> kNames = [] {
    search::register_all_strategies();
    std::set<std::string> names;
    for (const search::StrategyDef* def : search::strategy_defs())
      for (const OptionDef& o : def->options) names.insert(o.name);
    return std::vector<std::string>(names.begin(), names.end());
  }();
  return kNames;
}

std::string ExperimentConfig::text(const std::string& name) const {
  return OptionReader(options).text(name);
}

StatusOr<int64_t> ExperimentConfig::integer(const std::string& name, int64_t min) const {
  return OptionReader(options).integer(name, min);
}

StatusOr<int64_t> ExperimentConfig::integer_or(const std::string& name, int64_t min,
                                               int64_t unset) const {
  return OptionReader(options).integer_or(name, min, unset);
}

StatusOr<double> ExperimentConfig::real(const std::string& name, double min) const {
  return OptionReader(options).real(name, min);
}

StatusOr<std::vector<Objective>> objectives_of(const ExperimentConfig& config) {
  std::vector<Objective> out;
  std::string rest = config.text("objective");
  while (true) {
    const size_t comma = rest.find(',');
    const std::string v = rest.substr(0, comma);
    Objective o;
    const size_t colon = v.find(':');
    o.metric = v.substr(0, colon);
    if (colon != std::string::npos) {
      std::string dir = v.substr(colon + 1);
      if (dir != "max" && dir != "min") {
        return Status::invalid_argument(
            fmt::format("--objective direction must be 'max' or 'min', got '{}'", dir));
      }
      o.maximize = dir == "max";
    }
    if (o.metric.empty()) {
      if (!out.empty() || comma != std::string::npos) {
        return Status::invalid_argument(fmt::format("--objective '{}' names no metric", v));
      }
      SYLVA_ASSIGN(evaluator, evaluators::find_evaluator(config.text("evaluator")));
      o.metric = "val_acc";
      if (evaluator->default_objective) {
        SYLVA_ASSIGN(metric, evaluator->default_objective(OptionReader(config.options)));
        o.metric = metric;
      }
    }
    for (const Objective& seen : out) {
      if (seen.metric == o.metric) {
        return Status::invalid_argument(fmt::format("--objective '{}' is given twice", o.metric));
      }
    }
    out.push_back(o);
    if (comma == std::string::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

StatusOr<Objective> objective_of(const ExperimentConfig& config) {
  SYLVA_ASSIGN(all, objectives_of(config));
  return all.front();
}

namespace {

StatusOr<std::unique_ptr<evaluators::Evaluator>> make_evaluator(const ExperimentConfig& c) {
  const std::string name = c.text("evaluator");
  SYLVA_ASSIGN(evaluator, evaluators::find_evaluator(name));
  const OptionReader options(c.options);
  for (const evaluators::EvaluatorDef* other : evaluators::evaluator_defs()) {
    if (other == evaluator) continue;
    for (const auto& [option, why] : other->exclusive) {
      if (options.given(option)) {  // older experiments lack the option
        return Status::invalid_argument(
            fmt::format("--{} applies to --evaluator {} ({}), got --evaluator {}", option,
                        other->name, why, name));
      }
    }
  }
  return evaluator->make(options);
}

std::string host_and_pid() { return fmt::format("{}:{}", internal::host_name(), getpid()); }

}  // namespace

// `made` screened by --proxy-filter's proxy (search/proxy_filter.h), whose
// scores the evaluator's registered scorer gives; unchanged without it.
static StatusOr<std::unique_ptr<search::Strategy>> proxy_filtered(
    const ExperimentConfig& c, const Space& space,
    StatusOr<std::unique_ptr<search::Strategy>> made) {
  const OptionReader options(c.options);
  if (!made.is_ok() || !options.given("proxy-filter")) return made;
  search::ProxyFilterOptions f;
  f.proxy = c.text("proxy-filter");
  SYLVA_ASSIGN(pool, c.integer_or("proxy-pool", 1, f.pool));
  f.pool = static_cast<int>(pool);
  SYLVA_ASSIGN(screened, c.integer_or("proxy-trials", 0, f.trials));
  f.trials = screened;
  SYLVA_ASSIGN(scorer, evaluators::make_proxy_scorer(c.text("evaluator"), f.proxy, options));
  SYLVA_ASSIGN(seed, c.integer("seed", 0));
  const Space* searched = &space;
  return search::make_proxy_filter(
      std::move(made).value(), f,
      [scorer, searched](const Architecture& arch, uint64_t s) {
        return scorer(*searched, arch, s);
      },
      static_cast<uint64_t>(seed));
}

StatusOr<std::unique_ptr<search::Strategy>> new_strategy(const ExperimentConfig& c,
                                                         const Space& space) {
  SYLVA_ASSIGN(seed, c.integer("seed", 0));
  search::StrategyContext ctx;
  ctx.space = &space;
  ctx.seed = static_cast<uint64_t>(seed);
  SYLVA_ASSIGN(objectives, objectives_of(c));
  ctx.objectives = objectives;
  for (const std::string& name : ExperimentConfig::strategy_options()) {
    auto it = c.options.find(name);
    if (it != c.options.end() && !it->second.empty()) ctx.params[name] = it->second;
  }
  auto init = c.options.find("init");
  if (init != c.options.end() && !init->second.empty()) {
    ctx.init_source = init->second;
    std::istringstream lines(c.init_text);
    for (std::string line; std::getline(lines, line);) ctx.init.push_back(line);
  }
  auto predictor = c.options.find("predictor");
  if (predictor != c.options.end() && !predictor->second.empty()) {
    search::PredictorOptions p;
    p.kind = predictor->second;
    SYLVA_ASSIGN(warmup, c.integer_or("predictor-warmup", 2, 10));
    SYLVA_ASSIGN(steps, c.integer_or("predictor-steps", 1, 500));
    SYLVA_ASSIGN(batch, c.integer_or("predictor-batch", 1, 5));
    p.warmup = static_cast<int>(warmup);
    p.steps = static_cast<int>(steps);
    p.batch = static_cast<int>(batch);
    return proxy_filtered(c, space, search::make_predictor_assisted(c.text("strategy"), ctx, p));
  }
  return proxy_filtered(c, space, search::make_strategy(c.text("strategy"), ctx));
}

// What can be known before the first trial about a run in which no trial
// could succeed: an objective the evaluator never reports, a space none of
// whose sampled architectures it can evaluate (a grammar whose %stages do
// not fit its layers, say).
Status check_before_first_trial(const ExperimentConfig& c, const Components& out) {
  const std::vector<std::string> reported = out.evaluator->metrics();
  if (!reported.empty()) {
    for (const std::string& metric : out.run.required_metrics) {
      if (std::find(reported.begin(), reported.end(), metric) == reported.end()) {
        return Status::invalid_argument(
            fmt::format("--objective {}: evaluator {} never reports it (it reports {})", metric,
                        c.text("evaluator"), join_words(reported, "and")));
      }
    }
  }
  constexpr int kSamples = 3;
  std::mt19937_64 rng(out.run.seed ^ 0x9e3779b97f4a7c15ULL);
  Status first = Status::ok();
  for (int i = 0; i < kSamples; ++i) {
    const Architecture arch = search::sample_by_priors(*out.space, rng);
    Status s = out.evaluator->check_architecture(*out.space, arch);
    if (s.is_ok()) return s;
    if (first.is_ok()) first = s;
  }
  return first.prefixed(fmt::format(
      "no architecture of space {} can be evaluated ({} sampled before the first trial): ",
      out.space->name(), kSamples));
}

StatusOr<Components> build_components(const ExperimentConfig& c) {
  Components out;
  SYLVA_ASSIGN(space, space_from_source(c.text("space"), c.space_source));
  out.space = std::move(space);
  // The evaluator (and its dataset) first: a typed grammar is derived for
  // the dataset's input, within the command line's budgets.
  SYLVA_ASSIGN(evaluator, make_evaluator(c));
  out.evaluator = std::move(evaluator);
  SpaceTarget target = out.evaluator->input();
  SYLVA_ASSIGN(max_nodes, c.integer_or("max-nodes", 1, -1));
  SYLVA_ASSIGN(max_params, c.integer_or("max-params", 1, -1));
  SYLVA_ASSIGN(max_flops, c.integer_or("max-flops", 1, -1));
  target.max_nodes = max_nodes;
  target.max_params = max_params;
  target.max_flops = max_flops;
  SYLVA_ASSIGN(retargeted, retarget_space(*out.space, target));
  if (retargeted) out.space = std::move(retargeted);
  // Hyperparameters the evaluator cannot honour stop the run before it starts.
  if (const HparamSpace* h = as_hparam_space(*out.space)) {
    SYLVA_RETURN_IF_ERROR(out.evaluator->check_hparams(h->hparams()));
  }
  SYLVA_ASSIGN(seed, c.integer("seed", 0));
  // A strategy the options cannot make stops the run before it starts; the
  // loop makes its own at each takeover.
  SYLVA_RETURN_IF_ERROR(new_strategy(c, *out.space).status());
  const Space* searched = out.space.get();
  out.new_strategy = [c, searched] { return new_strategy(c, *searched); };
  SYLVA_ASSIGN(objectives, objectives_of(c));
  SYLVA_ASSIGN(trials, c.integer("trials", 1));
  // 0: this process coordinates and evaluates nothing (`sylva worker`
  // processes do), e.g. on a cluster's login node.
  SYLVA_ASSIGN(workers, c.integer("workers", 0));
  SYLVA_ASSIGN(threads, c.integer("threads-per-worker", 0));
  SYLVA_ASSIGN(timeout, c.real("trial-timeout", 0));
  SYLVA_ASSIGN(keep, c.integer("keep-weights", 0));
  const Objective& objective = objectives.front();
  out.run.trials = trials;
  out.run.workers = static_cast<int>(workers);
  out.run.threads_per_worker =
      threads > 0
          ? static_cast<int>(threads)
          : std::max(1, evaluators::hardware_threads() / std::max(1, static_cast<int>(workers)));
  out.run.trial_timeout = timeout;
  out.run.keep_weights = static_cast<int>(keep);
  out.run.objective = objective.metric;
  out.run.maximize = objective.maximize;
  for (const Objective& o : objectives) out.run.required_metrics.push_back(o.metric);
  const std::string fidelity = c.text("fidelity");
  if (fidelity == "epochs") {
    const std::string ev = c.text("evaluator");
    SYLVA_ASSIGN(evaluator, evaluators::find_evaluator(ev));
    if (!evaluator->trains) {
      std::vector<std::string> trainers;
      for (const evaluators::EvaluatorDef* d : evaluators::evaluator_defs()) {
        if (d->trains) trainers.push_back(d->name);
      }
      return Status::invalid_argument(
          fmt::format("--fidelity epochs needs an evaluator that trains ({}), got --evaluator {}",
                      join_words(trainers), ev));
    }
    SYLVA_ASSIGN(min_epochs, c.integer("min-epochs", 1));
    SYLVA_ASSIGN(max_epochs, c.integer("max-epochs", 1));
    SYLVA_ASSIGN(eta, c.integer("eta", 2));
    SYLVA_ASSIGN(check, SuccessiveHalving::make(min_epochs, max_epochs, eta));
    out.run.min_budget = min_epochs;
    out.run.max_budget = max_epochs;
    out.run.eta = eta;
  } else if (fidelity != "none") {
    return Status::invalid_argument(
        fmt::format("--fidelity must be none or epochs, got '{}'", fidelity));
  }
  const std::string prune = c.options.count("prune") ? c.text("prune") : "none";
  if (prune != "none" && prune != "median") {
    return Status::invalid_argument(fmt::format("--prune must be none or median, got '{}'", prune));
  }
  if (prune == "median") {
    if (fidelity != "none") {
      return Status::invalid_argument(
          "--prune median stops trials by their reported values; successive halving (--fidelity "
          "epochs) prunes by rungs already: use one of them");
    }
    SYLVA_ASSIGN(startup, c.integer("prune-startup", 1));
    SYLVA_ASSIGN(warmup, c.integer("prune-warmup", 0));
    out.run.prune_median = true;
    out.run.prune_startup = static_cast<int>(startup);
    out.run.prune_warmup = static_cast<int>(warmup);
  }
  out.run.seed = static_cast<uint64_t>(seed);
  SYLVA_RETURN_IF_ERROR(check_before_first_trial(c, out));
  out.run.worker_name = host_and_pid();
  SYLVA_ASSIGN(heartbeat_timeout, c.real("heartbeat-timeout", 0.3));
  SYLVA_ASSIGN(max_retries, c.integer("max-retries", 0));
  out.run.heartbeat_timeout = heartbeat_timeout;
  out.run.max_retries = static_cast<int>(max_retries);
  return out;
}

}  // namespace sylva::experiments
