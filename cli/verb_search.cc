// `sylva search` creates an experiment and runs it; `sylva resume` continues
// one from the database alone. Both end in the same loop (run_experiment).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/options.h"
#include "cli/progress.h"
#include "cli/verbs.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "experiments/runner.h"
#include "experiments/store.h"

namespace sylva::cli {

using experiments::Components;
using experiments::ExperimentConfig;
using experiments::Store;

int fail(const Status& status, int code) {
  fmt::print(stderr, "sylva: {}\n", status.message());
  return code;
}

namespace {

void print_best(Store& store, int64_t experiment_id, const ExperimentConfig& config,
                const std::string& name, const std::string& db) {
  auto objective = experiments::objective_of(config).value();
  auto best = experiments::ranked(store.trials(experiment_id), objective);
  if (best.empty()) {
    fmt::print("no trial completed\n");
    return;
  }
  const auto& t = best.front();
  std::string metrics;
  for (const auto& [m, v] : t.metrics)
    metrics += fmt::format("  {} {}", m, experiments::format_number(v));
  fmt::print("best trial {}:{}\n  key       {}\n  canonical {}\n", t.number, metrics, t.arch_key,
             t.arch_canonical);
  fmt::print(
      "(sylva best --name {} --db {}; sylva export --name {} --db {} --trial best "
      "--format torchscript --out model.pt)\n",
      name, db, name, db);
}

// Ctrl-C (or SIGTERM) stops at once: what has finished is in the database,
// and trials that were running are re-queued by `resume`. The handler only
// writes a message prepared beforehand and exits (async-signal-safe); waiting
// for a training job to end could take minutes.
char interrupt_message[1024];
size_t interrupt_length = 0;

extern "C" void on_interrupt(int signal) {
  if (write(STDERR_FILENO, interrupt_message, interrupt_length) < 0) {
    // Nothing more can be done in a signal handler.
  }
  _exit(128 + signal);
}

void stop_cleanly_on_interrupt(const std::string& name, const std::string& db) {
  const std::string text = fmt::format(
      "\nsylva: interrupted; finished trials are saved, running ones will be re-queued by "
      "`sylva resume --name {} --db {}`\n",
      name, db);
  interrupt_length = std::min(text.size(), sizeof(interrupt_message));
  std::memcpy(interrupt_message, text.data(), interrupt_length);
  struct sigaction action = {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int execute(Store& store, int64_t experiment_id, const std::string& name, const std::string& db,
            const ExperimentConfig& config, Components& c) {
  stop_cleanly_on_interrupt(name, db);
  int64_t finished_before = 0;
  for (const auto& t : store.trials(experiment_id))
    finished_before += evaluators::is_finished(t.state);
  bool live = isatty(fileno(stdout));
  Progress progress(stdout, live, c.run.objective, finished_before);
  fmt::print(
      "experiment '{}' in {}: space {}, strategy {}, evaluator {}, {} trials, {} worker(s) "
      "x {} thread(s)\n",
      name, db, c.space->name(), config.text("strategy"), config.text("evaluator"), c.run.trials,
      c.run.workers, c.run.threads_per_worker);
  std::fflush(stdout);
  auto summary =
      experiments::run_experiment(store, experiment_id, *c.space, *c.strategy, *c.evaluator, c.run,
                                  [&](const experiments::RunEvent& e) { progress.update(e); });
  progress.finish();
  if (!summary.is_ok()) return fail(summary.status());
  const auto& s = summary.value();
  if (s.requeued || s.replayed) {
    fmt::print("resumed: {} finished trial(s) replayed, {} interrupted trial(s) re-queued\n",
               s.replayed, s.requeued);
  }
  int64_t complete = 0, pruned = 0, failed = 0;
  for (const auto& t : store.trials(experiment_id)) {
    complete += t.state == evaluators::TrialState::kComplete;
    pruned += t.state == evaluators::TrialState::kPruned;
    failed += t.state == evaluators::TrialState::kFail;
  }
  fmt::print("{} finished trial(s) of {}: {} complete, {}{} failed{}\n", s.finished, c.run.trials,
             complete, pruned ? fmt::format("{} pruned, ", pruned) : "", failed,
             s.exhausted ? " (the space has no new architecture left)" : "");
  print_best(store, experiment_id, config, name, db);
  return 0;
}

}  // namespace

int run_search(int argc, char** argv) {
  auto parsed = parse_options(kSearch, "search", argc, argv);
  if (!parsed.is_ok()) return fail(parsed.status(), 2);
  auto& v = parsed.value().values;
  if (parsed.value().help) {
    fmt::print("usage: sylva search --name NAME [--db FILE] [options]\n\n{}",
               options_help(kSearch));
    return 0;
  }
  if (!v.count("name") || v["name"].empty())
    return fail(Status::error("search: --name is required"), 2);
  auto space = make_space(v["space"]);
  if (!space.is_ok()) return fail(space.status(), 2);
  ExperimentConfig config;
  for (const auto& o : option_table()) {
    if (o.stored) config.options[o.name] = v[o.name];
  }
  config.space_source = space.value()->source();
  if (!v["init"].empty()) {
    std::ifstream in(v["init"]);
    if (!in) return fail(Status::error(fmt::format("--init: cannot read '{}'", v["init"])), 2);
    std::stringstream text;
    text << in.rdbuf();
    config.init_text = text.str();
  }
  // Everything is validated (and the dataset loaded) before the experiment exists.
  auto components = experiments::build_components(config);
  if (!components.is_ok()) return fail(components.status(), 2);
  // A typed grammar is stored as derived for the dataset, so that export and
  // resume read the same space.
  config.space_source = components.value().space->source();
  auto store = Store::open(v["db"]);
  if (!store.is_ok()) return fail(store.status());
  auto id = store.value()->create_experiment(v["name"], config.to_json());
  if (!id.is_ok()) return fail(id.status());
  return execute(*store.value(), id.value(), v["name"], v["db"], config, components.value());
}

int run_resume(int argc, char** argv) {
  auto parsed = parse_options(kResume, "resume", argc, argv);
  if (!parsed.is_ok()) return fail(parsed.status(), 2);
  auto& v = parsed.value().values;
  if (parsed.value().help) {
    fmt::print("usage: sylva resume --name NAME [--db FILE] [--trials N] [--workers N]\n\n{}",
               options_help(kResume));
    return 0;
  }
  if (!v.count("name") || v["name"].empty())
    return fail(Status::error("resume: --name is required"), 2);
  if (access(v["db"].c_str(), F_OK) != 0) {
    return fail(Status::error(fmt::format("resume: database '{}' does not exist", v["db"])));
  }
  auto store = Store::open(v["db"]);
  if (!store.is_ok()) return fail(store.status());
  auto experiment = store.value()->find_experiment(v["name"]);
  if (!experiment.is_ok()) return fail(experiment.status());
  auto config = ExperimentConfig::from_json(experiment.value().config_json);
  if (!config.is_ok()) return fail(config.status());
  for (const auto& o : option_table()) {
    // An experiment made by an older sylva lacks options added since: they
    // take their defaults, which reproduce the old behaviour.
    if (o.stored && o.default_value && !config.value().options.count(o.name)) {
      config.value().options[o.name] = o.default_value;
    }
    if (o.resumable && parsed.value().given.count(o.name))
      config.value().options[o.name] = v[o.name];
  }
  auto components = experiments::build_components(config.value());
  if (!components.is_ok()) return fail(components.status(), 2);
  store.value()->update_config(experiment.value().id, config.value().to_json());
  return execute(*store.value(), experiment.value().id, v["name"], v["db"], config.value(),
                 components.value());
}

}  // namespace sylva::cli
