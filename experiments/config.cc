#include "experiments/config.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "evaluators/stub_evaluator.h"
#include "evaluators/supernet_evaluator.h"
#include "evaluators/table_evaluator.h"
#include "evaluators/train_evaluator.h"
#include "evaluators/worker_pool.h"
#include "experiments/halving.h"
#include "experiments/run_support.h"
#include "search/predictor_assisted.h"

namespace sylva::experiments {

std::string ExperimentConfig::to_json() const {
  nlohmann::json j;
  j["options"] = options;
  j["space_source"] = space_source;
  j["init_text"] = init_text;
  return j.dump(2);
}

StatusOr<ExperimentConfig> ExperimentConfig::from_json(const std::string& json) {
  try {
    auto j = nlohmann::json::parse(json);
    ExperimentConfig c;
    c.options = j.at("options").get<std::map<std::string, std::string>>();
    c.space_source = j.at("space_source").get<std::string>();
    c.init_text = j.value("init_text", std::string());
    return c;
  } catch (const std::exception& e) {
    return Status::error(
        fmt::format("stored experiment configuration is unreadable: {}", e.what()));
  }
}

const std::vector<std::string>& ExperimentConfig::engine_options() {
  static const std::vector<std::string> kNames = {"population", "sample-size", "crossover-prob",
                                                  "uct-c"};
  return kNames;
}

std::string ExperimentConfig::text(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end())
    throw std::logic_error("option '" + name + "' missing from configuration");
  return it->second;
}

StatusOr<int64_t> ExperimentConfig::integer(const std::string& name, int64_t min) const {
  std::string v = text(name);
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE) {
    return Status::error(fmt::format("--{} expects an integer, got '{}'", name, v));
  }
  if (x < min) return Status::error(fmt::format("--{} must be >= {}, got {}", name, min, x));
  return static_cast<int64_t>(x);
}

StatusOr<int64_t> ExperimentConfig::integer_or(const std::string& name, int64_t min,
                                               int64_t unset) const {
  if (text(name).empty()) return unset;
  return integer(name, min);
}

StatusOr<double> ExperimentConfig::real(const std::string& name, double min) const {
  std::string v = text(name);
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x)) {
    return Status::error(fmt::format("--{} expects a number, got '{}'", name, v));
  }
  if (x < min) return Status::error(fmt::format("--{} must be >= {:g}, got {:g}", name, min, x));
  return x;
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
        return Status::error(
            fmt::format("--objective direction must be 'max' or 'min', got '{}'", dir));
      }
      o.maximize = dir == "max";
    }
    if (o.metric.empty()) {
      if (!out.empty() || comma != std::string::npos) {
        return Status::error(fmt::format("--objective '{}' names no metric", v));
      }
      std::string ev = config.text("evaluator");
      o.metric = ev == "table" ? config.text("metric") : "val_acc";
      if (o.metric.empty()) return Status::error("--evaluator table needs --metric COLUMN");
    }
    for (const Objective& seen : out) {
      if (seen.metric == o.metric) {
        return Status::error(fmt::format("--objective '{}' is given twice", o.metric));
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
  std::string name = c.text("evaluator");
  // Older experiments lack the option.
  auto latency = c.options.find("max-latency-ms");
  const bool latency_budget = latency != c.options.end() && !latency->second.empty();
  if (name != "supernet" && latency_budget) {
    return Status::error(fmt::format(
        "--max-latency-ms applies to --evaluator supernet (it measures each configuration), got "
        "--evaluator {}",
        name));
  }
  if (name == "train") {
    evaluators::TrainOptions t;
    t.dataset = c.text("dataset");
    SYLVA_ASSIGN(epochs, c.integer("epochs", 1));
    SYLVA_ASSIGN(train_samples, c.integer("train-samples", 0));
    SYLVA_ASSIGN(val_samples, c.integer("val-samples", 1));
    SYLVA_ASSIGN(test_samples, c.integer("test-samples", 0));
    SYLVA_ASSIGN(batch, c.integer("batch-size", 1));
    SYLVA_ASSIGN(lr, c.real("lr", 0));
    t.epochs = static_cast<int>(epochs);
    t.train_samples = train_samples;
    t.val_samples = val_samples;
    t.test_samples = test_samples;
    t.batch_size = static_cast<int>(batch);
    t.lr = lr;
    t.optimizer = c.text("optimizer");
    SYLVA_ASSIGN(weight_decay, c.real("weight-decay", -1));
    t.weight_decay = weight_decay;
    SYLVA_ASSIGN(reject_below, c.real("reject-below", 0));
    SYLVA_ASSIGN(reject_after, c.integer("reject-after", 0));
    t.reject_below = reject_below;
    t.reject_after = reject_after;
    return evaluators::make_train_evaluator(t);
  }
  if (name == "table") {
    evaluators::TableOptions t;
    t.path = c.text("table");
    t.metric = c.text("metric");
    if (t.path.empty()) return Status::error("--evaluator table needs --table PATH");
    if (t.metric.empty()) return Status::error("--evaluator table needs --metric COLUMN");
    SYLVA_ASSIGN(delay, c.integer("stub-delay-ms", 0));
    t.delay_ms = static_cast<int>(delay);
    return evaluators::make_table_evaluator(t);
  }
  if (name == "supernet") {
    const std::string space = c.text("space");
    if (space.rfind("supernet:", 0) != 0) {
      return Status::error(fmt::format(
          "--evaluator supernet needs --space supernet:FILE (a trained supernet), got '{}'",
          space));
    }
    evaluators::SupernetEvalOptions s;
    s.path = space.substr(9);
    s.dataset = c.text("dataset");
    SYLVA_ASSIGN(val_samples, c.integer("val-samples", 1));
    SYLVA_ASSIGN(test_samples, c.integer("test-samples", 0));
    s.val_samples = val_samples;
    s.test_samples = test_samples;
    if (latency_budget) {
      SYLVA_ASSIGN(ms, c.real("max-latency-ms", 0));
      s.max_latency_ms = ms;
    }
    if (c.options.count("calibration-samples")) {  // older experiments lack it
      SYLVA_ASSIGN(calibration, c.integer("calibration-samples", 1));
      s.calibration = calibration;
    }
    return evaluators::make_supernet_evaluator(s);
  }
  if (name == "stub") {
    evaluators::StubOptions s;
    SYLVA_ASSIGN(delay, c.integer("stub-delay-ms", 0));
    s.delay_ms = static_cast<int>(delay);
    return evaluators::make_stub_evaluator(s);
  }
  return Status::error(
      fmt::format("--evaluator '{}' is unknown (evaluators: stub, supernet, table, train)", name));
}

std::string host_and_pid() { return fmt::format("{}:{}", internal::host_name(), getpid()); }

}  // namespace

StatusOr<std::unique_ptr<search::Strategy>> new_strategy(const ExperimentConfig& c,
                                                         const Space& space) {
  SYLVA_ASSIGN(seed, c.integer("seed", 0));
  search::StrategyContext ctx;
  ctx.space = &space;
  ctx.seed = static_cast<uint64_t>(seed);
  SYLVA_ASSIGN(objectives, objectives_of(c));
  ctx.objectives = objectives;
  for (const std::string& name : ExperimentConfig::engine_options()) {
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
    return search::make_predictor_assisted(c.text("strategy"), ctx, p);
  }
  return search::make_strategy(c.text("strategy"), ctx);
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
  SYLVA_ASSIGN(seed, c.integer("seed", 0));
  SYLVA_ASSIGN(strategy, new_strategy(c, *out.space));
  out.strategy = std::move(strategy);
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
    if (workers == 0) {
      return Status::error(
          "--fidelity epochs runs in one process, which needs --workers 1 or more, got 0");
    }
    const std::string ev = c.text("evaluator");
    if (ev != "train" && ev != "stub") {
      return Status::error(fmt::format(
          "--fidelity epochs needs an evaluator that trains (train, or stub for trying it), got "
          "--evaluator {}",
          ev));
    }
    SYLVA_ASSIGN(min_epochs, c.integer("min-epochs", 1));
    SYLVA_ASSIGN(max_epochs, c.integer("max-epochs", 1));
    SYLVA_ASSIGN(eta, c.integer("eta", 2));
    SYLVA_ASSIGN(check, SuccessiveHalving::make(min_epochs, max_epochs, eta));
    out.run.min_budget = min_epochs;
    out.run.max_budget = max_epochs;
    out.run.eta = eta;
  } else if (fidelity != "none") {
    return Status::error(fmt::format("--fidelity must be none or epochs, got '{}'", fidelity));
  }
  out.run.seed = static_cast<uint64_t>(seed);
  out.run.worker_name = host_and_pid();
  SYLVA_ASSIGN(heartbeat_timeout, c.real("heartbeat-timeout", 0.3));
  SYLVA_ASSIGN(max_retries, c.integer("max-retries", 0));
  out.run.heartbeat_timeout = heartbeat_timeout;
  out.run.max_retries = static_cast<int>(max_retries);
  return out;
}

}  // namespace sylva::experiments
