// `sylva search` creates an experiment and runs it; `sylva resume` continues
// one from the database alone; `sylva worker` joins one from any host. All
// three end in the same loop (run_cluster), successive halving included.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/strings.h"
#include "cli/hand_over.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/verbs.h"
#include "evaluators/command/command_evaluator.h"
#include "evaluators/registry.h"
#include "experiments/cluster.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "experiments/store.h"
#include "experiments/stored_files.h"
#include "spaces/hparam_space.h"

namespace sylva::cli {

using experiments::Components;
using experiments::ExperimentConfig;
using experiments::Store;

int fail(const Status& status) {
  fmt::print(stderr, "sylva: {}\n", status.message());
  return exit_code(status);
}

StatusOr<std::unique_ptr<Store>> open_existing(const std::string& verb, const std::string& db,
                                               Store::Access access) {
  if (!experiments::is_database_url(db) && ::access(db.c_str(), F_OK) != 0) {
    return Status::not_found(fmt::format("{}: database '{}' does not exist", verb, db));
  }
  SYLVA_ASSIGN(store, Store::open(db, access));
  // `sylva` reads no experiment that needs LibTorch (its evaluator names
  // its default objective): such a database is sylva-torch's.
  if (!kWithTorch) {
    for (const auto& e : store->experiments()) {
      auto config = ExperimentConfig::from_json(e.config_json);
      const std::string need = config.is_ok() ? torch_need(config.value().options) : "";
      if (!need.empty()) {
        store.reset();
        hand_over(need + " (experiment '" + e.name + "')");
      }
    }
  }
  return StatusOr<std::unique_ptr<Store>>(std::move(store));
}

StatusOr<OpenedExperiment> open_experiment(const std::string& verb, const std::string& db,
                                           const std::string& name, Store::Access access) {
  OpenedExperiment e;
  SYLVA_ASSIGN(store, open_existing(verb, db, access));
  e.store = std::move(store);
  SYLVA_ASSIGN(row, e.store->find_experiment(name));
  e.row = std::move(row);
  SYLVA_ASSIGN(config, ExperimentConfig::from_json(e.row.config_json));
  e.config = std::move(config);
  return e;
}

namespace {

// Prints the experiment's best trial (Store::outcome's); false when no trial
// has a result to rank.
bool print_best(Store& store, int64_t experiment_id,
                const std::optional<experiments::TrialRow>& best, const ExperimentConfig& config,
                const std::string& name, const std::string& db) {
  if (!best) return false;
  const auto& t = *best;
  std::string metrics;
  for (const auto& [m, v] : t.metrics)
    metrics += fmt::format("  {} {}", m, experiments::format_number(v));
  fmt::print("best trial {}:{}\n  key       {}\n  canonical {}\n", t.number, metrics, t.arch_key,
             t.arch_canonical);
  // A TorchScript export needs the trial's trained weights (or a supernet to
  // take them from); a table, stub or command search has none: JSON then.
  const std::vector<int64_t> with_weights = store.trials_with_artifact(experiment_id, "weights");
  const bool scripted =
      config.text("space").rfind("supernet:", 0) == 0 ||
      std::find(with_weights.begin(), with_weights.end(), t.id) != with_weights.end();
  fmt::print(
      "(sylva best --name {} --db {}; sylva export --name {} --db {} --trial best "
      "--format {})\n",
      name, db, name, db, scripted ? "torchscript --out model.pt" : "json --out best.json");
  return true;
}

// Ctrl-C or SIGTERM (a batch system preempting the job). With several
// processes (run_cluster) the first signal asks the loop to hand this
// process's running trials back to the experiment at once, so that another
// worker takes them without waiting for the heartbeat timeout; a second
// signal stops at once: what has finished is in the database and running
// trials are re-queued by `resume` or the other workers.
// The handler only writes a message prepared beforehand, sets a flag, or
// exits (async-signal-safe); waiting for a training job could take minutes.
char interrupt_message[1024];
size_t interrupt_length = 0;
std::atomic<int> stop_signal{0};
std::atomic<bool> loop_hands_back{false};

extern "C" void on_interrupt(int signal) {
  if (loop_hands_back.load() && stop_signal.load() == 0) {
    stop_signal.store(signal);
    return;
  }
  if (write(STDERR_FILENO, interrupt_message, interrupt_length) < 0) {
    // Nothing more can be done in a signal handler.
  }
  _exit(128 + signal);
}

void stop_cleanly_on_interrupt(const std::string& name, const std::string& db, bool hand_back) {
  const std::string text = fmt::format(
      "\nsylva: interrupted; finished trials are saved, running ones will be re-queued by "
      "`sylva resume --name {} --db {}`{}\n",
      name, db, hand_back ? " or by the experiment's other workers" : "");
  interrupt_length = std::min(text.size(), sizeof(interrupt_message));
  std::memcpy(interrupt_message, text.data(), interrupt_length);
  loop_hands_back.store(hand_back);
  struct sigaction action = {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// Who runs the loop: the process that created or resumed the experiment,
// or a worker that joined it.
enum class Role { kMain, kWorker };

// The experiment's budget and heartbeat settings as stored now (resume may
// change them while workers run); `fallback`'s for what cannot be read.
experiments::ClusterSettings stored_settings(Store& store, const std::string& name,
                                             experiments::ClusterSettings fallback) {
  auto e = store.find_experiment(name);
  if (!e.is_ok()) return fallback;
  auto config = ExperimentConfig::from_json(e.value().config_json);
  if (!config.is_ok()) return fallback;
  const auto& options = config.value().options;
  if (options.count("trials")) {
    auto trials = config.value().integer("trials", 1);
    if (trials.is_ok()) fallback.trials = trials.value();
  }
  if (options.count("heartbeat-timeout")) {
    auto timeout = config.value().real("heartbeat-timeout", 0.3);
    if (timeout.is_ok()) fallback.heartbeat_timeout = timeout.value();
  }
  if (options.count("max-retries")) {
    auto retries = config.value().integer("max-retries", 0);
    if (retries.is_ok()) fallback.max_retries = static_cast<int>(retries.value());
  }
  return fallback;
}

int execute(Store& store, int64_t experiment_id, const std::string& name, const std::string& db,
            const ExperimentConfig& config, Components& c, Role role) {
  const std::string shown = experiments::database_for_display(db);
  c.run.experiment = name;
  stop_cleanly_on_interrupt(name, shown, /*hand_back=*/true);
  // The counts, not every trial: a worker joining a long experiment reads
  // a few index ranges.
  const int64_t finished_before = store.counts(experiment_id, c.run.heartbeat_timeout).finished;
  bool live = isatty(fileno(stdout));
  Progress progress(stdout, live, c.run.objective, finished_before);
  fmt::print(
      "{}experiment '{}' in {}: space {}, strategy {}, evaluator {}, {} trials, {}\n",
      role == Role::kWorker ? fmt::format("worker {} joins ", c.run.worker_name) : "", name, shown,
      c.space->name(), config.text("strategy"), config.text("evaluator"), c.run.trials,
      c.run.workers == 0
          ? std::string("no evaluations here (--workers 0): waiting for `sylva worker` processes")
          : fmt::format("{} worker(s) x {} thread(s)", c.run.workers, c.run.threads_per_worker));
  std::fflush(stdout);
  auto listen = [&](const experiments::RunEvent& e) { progress.update(e); };
  experiments::ClusterHooks hooks;
  hooks.new_strategy = c.new_strategy;
  const experiments::ClusterSettings given{c.run.trials, c.run.heartbeat_timeout,
                                           c.run.max_retries};
  hooks.settings = [&, given] { return stored_settings(store, name, given); };
  hooks.stop_signal = &stop_signal;
  hooks.abandon = [&](const experiments::RunSummary& s) {
    progress.finish();
    fmt::print(stderr,
               "sylva: interrupted; finished trials are saved, {} running trial(s) handed back: "
               "the experiment's other workers take them, or `sylva resume --name {} --db {}`\n",
               s.handed_back, name, shown);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(128 + s.stopped_by);
  };
  StatusOr<experiments::RunSummary> summary =
      experiments::run_cluster(store, experiment_id, *c.space, *c.evaluator, c.run, hooks, listen);
  loop_hands_back.store(false);  // a signal from now on stops at once
  progress.finish();
  if (!summary.is_ok()) return fail(summary.status());
  const auto& s = summary.value();
  if (s.stopped_by) return 128 + s.stopped_by;
  if (role == Role::kMain && (s.requeued || s.replayed)) {
    fmt::print("resumed: {} finished trial(s) replayed, {} interrupted trial(s) re-queued\n",
               s.replayed, s.requeued);
  }
  if (s.taken_back) fmt::print("{} trial(s) taken back from lost workers\n", s.taken_back);
  // Counts and two trials, not all of them: every worker of a long
  // experiment prints this as it leaves.
  const auto objective = experiments::objective_of(config).value();
  const experiments::Outcome o = store.outcome(experiment_id, objective.metric, objective.maximize);
  std::string first_failure;  // named when nothing completed
  if (o.first_failure) {
    first_failure = fmt::format(" (trial {}: {})", o.first_failure->number,
                                quote_cut(o.first_failure->message, 200));
  }
  const int64_t budget = stored_settings(store, name, {c.run.trials}).trials;
  fmt::print("{} finished trial(s) of {}: {} complete, {}{} failed{}\n", s.finished, budget,
             o.complete, o.pruned ? fmt::format("{} pruned, ", o.pruned) : "", o.failed,
             s.exhausted ? " (the space has no new architecture left)" : "");
  if (print_best(store, experiment_id, o.best, config, name, shown)) return 0;
  // A run in which nothing succeeded is a failed run, whatever the reason.
  fmt::print(stderr, "sylva: no trial of experiment '{}' completed{}\n", name, first_failure);
  return 1;
}

// The stored configuration of an experiment, with the defaults of options
// added since it was made (they reproduce the old behaviour) and the
// resumable options given on the command line.
ExperimentConfig stored_config(ExperimentConfig config, const ParsedOptions& parsed) {
  for (const OptionDef& o : option_table()) {
    if (o.stored && o.defaults != OptionDef::kAbsent && !config.options.count(o.name)) {
      config.options[o.name] = o.defaults == OptionDef::kFilled ? o.default_value : "";
    }
    if (o.resumable && parsed.given.count(o.name)) {
      config.options[o.name] = parsed.values.at(o.name);
    }
  }
  return config;
}

// --workers for --gpus G and --trials-per-gpu K when --workers is not given:
// one evaluation per slot, G x K (`fallback` when they do not parse: the
// evaluator reports that).
std::string gpu_slots(const std::string& gpus, const std::string& per_gpu,
                      const std::string& fallback) {
  auto list = evaluators::parse_gpus(gpus);
  auto k = OptionReader({{"trials-per-gpu", per_gpu}}).integer_or("trials-per-gpu", 1, 1);
  if (!list.is_ok() || !k.is_ok() || list.value().empty()) return fallback;
  return std::to_string(static_cast<int64_t>(list.value().size()) * k.value());
}

int run_search(int argc, char** argv) {
  Begun begun = begin_verb("search", argc, argv, {"name"});
  if (begun.exit_code >= 0) return begun.exit_code;
  auto& v = begun.options.values;
  const std::string need = torch_need(v);
  if (!need.empty()) hand_over(need);
  // Another evaluator's option (--lr with --evaluator stub) would be stored
  // and never read.
  Status foreign = evaluators::check_evaluator_options(v["evaluator"], begun.options.given);
  if (!foreign.is_ok()) return fail(foreign);
  auto space = make_space_with_hparams(v["space"], v["hparam"]);
  if (!space.is_ok()) return fail(space.status());
  ExperimentConfig config;
  for (const OptionDef& o : option_table()) {
    if (o.stored) config.options[o.name] = v[o.name];
  }
  config.space_source = space.value()->source();
  // The files it reads, absolute and fingerprinted: resume, export and
  // workers may start elsewhere.
  experiments::anchor_files(config);
  // With --gpus and no --workers, one evaluation per GPU slot.
  if (!v["gpus"].empty() && !begun.options.given.count("workers")) {
    config.options["workers"] = gpu_slots(v["gpus"], v["trials-per-gpu"], v["workers"]);
  }
  // Trial directories of the command evaluator: beside the database unless
  // told, as an absolute path so that resume and workers elsewhere find them.
  if (v["evaluator"] == "command" && config.options["trial-dir"].empty()) {
    config.options["trial-dir"] =
        experiments::is_database_url(v["db"]) ? "sylva-trials" : v["db"] + ".trials";
  }
  if (!config.options["trial-dir"].empty()) {
    std::error_code ec;
    auto absolute = std::filesystem::absolute(config.options["trial-dir"], ec);
    if (!ec) config.options["trial-dir"] = absolute.lexically_normal().string();
  }
  if (!v["init"].empty()) {
    std::error_code ec;
    if (std::filesystem::is_directory(v["init"], ec)) {
      return fail(Status::invalid_argument(
          fmt::format("--init: '{}' is a directory, not a file of architectures", v["init"])));
    }
    std::ifstream in(v["init"]);
    if (!in)
      return fail(Status::invalid_argument(fmt::format("--init: cannot read '{}'", v["init"])));
    std::stringstream text;
    text << in.rdbuf();
    config.init_text = text.str();
  }
  // Everything is validated (and the dataset loaded) before the experiment exists.
  auto components = experiments::build_components(config);
  if (!components.is_ok()) return fail(components.status());
  // A typed grammar is stored as derived for the dataset, so that export and
  // resume read the same space.
  config.space_source = components.value().space->source();
  config.data = components.value().evaluator->data_summary();
  auto store = Store::open(v["db"]);
  if (!store.is_ok()) return fail(store.status());
  auto id = store.value()->create_experiment(v["name"], config.to_json());
  if (!id.is_ok()) return fail(id.status());
  return execute(*store.value(), id.value(), v["name"], v["db"], config, components.value(),
                 Role::kMain);
}

// The front of resume and worker: their options, the stored experiment,
// and its configuration with the defaults of newer options and the
// resumable options given.
struct Rejoined {
  ParsedOptions options;
  OpenedExperiment experiment;
  ExperimentConfig config;
  int exit_code = -1;  // >= 0: the verb ends here with it
};

Rejoined rejoin(const std::string& verb, int argc, char** argv) {
  Rejoined r;
  Begun begun = begin_verb(verb, argc, argv, {"name"});
  r.exit_code = begun.exit_code;
  if (r.exit_code >= 0) return r;
  r.options = std::move(begun.options);
  auto opened = open_experiment(verb, r.options.values["db"], r.options.values["name"],
                                Store::Access::kReadWrite);
  if (!opened.is_ok()) {
    r.exit_code = fail(opened.status());
    return r;
  }
  r.experiment = std::move(opened).value();
  r.config = stored_config(r.experiment.config, r.options);
  const std::string need = torch_need(r.config.options);
  if (!need.empty()) {
    r.experiment.store.reset();  // nothing of it outlives the hand-over
    hand_over(need);
  }
  Status files = experiments::check_files(r.config, verb, r.options.values["name"]);
  if (!files.is_ok()) r.exit_code = fail(files);
  return r;
}

int run_resume(int argc, char** argv) {
  Rejoined r = rejoin("resume", argc, argv);
  if (r.exit_code >= 0) return r.exit_code;
  auto& v = r.options.values;
  OpenedExperiment& e = r.experiment;
  ExperimentConfig& config = r.config;
  // The budget counts finished trials: it cannot go below them.
  if (r.options.given.count("trials")) {
    int64_t finished = 0;
    for (const auto& t : e.store->trials(e.row.id)) finished += evaluators::is_finished(t.state);
    const auto wanted = config.integer("trials", 1);
    if (wanted.is_ok() && wanted.value() < finished) {
      return fail(Status::invalid_argument(fmt::format(
          "resume: --trials {} is below the {} trial(s) experiment '{}' has finished; the budget "
          "counts them, so give {} or more",
          wanted.value(), finished, v["name"], finished)));
    }
  }
  auto components = experiments::build_components(config);
  if (!components.is_ok()) return fail(components.status());
  config.data = components.value().evaluator->data_summary();
  e.store->update_config(e.row.id, config.to_json());
  return execute(*e.store, e.row.id, v["name"], v["db"], config, components.value(), Role::kMain);
}

int run_worker(int argc, char** argv) {
  Rejoined r = rejoin("worker", argc, argv);
  if (r.exit_code >= 0) return r.exit_code;
  auto& v = r.options.values;
  OpenedExperiment& e = r.experiment;
  ExperimentConfig& config = r.config;
  // A worker's slots and threads are its own (given, or the defaults), not
  // those of the process that made the experiment.
  config.options["workers"] = v["workers"];
  config.options["threads-per-worker"] = v["threads-per-worker"];
  // And so are its GPUs (the command evaluator's slots).
  for (const char* own : {"gpus", "trials-per-gpu"}) {
    if (r.options.given.count(own)) config.options[own] = v[own];
  }
  if (r.options.given.count("gpus") && !r.options.given.count("workers")) {
    config.options["workers"] = gpu_slots(config.options["gpus"], config.options["trials-per-gpu"],
                                          config.options["workers"]);
  }
  if (v["workers"] == "0")
    return fail(Status::invalid_argument("worker: --workers must be >= 1, got 0"));
  auto components = experiments::build_components(config);
  if (!components.is_ok()) return fail(components.status());
  return execute(*e.store, e.row.id, v["name"], v["db"], config, components.value(), Role::kWorker);
}

}  // namespace

void register_search_verbs() {
  register_verb({"search",
                 "start an experiment and run it to its trial budget",
                 "usage: sylva search --name NAME [--db FILE] [options]",
                 [](const OptionDef& o) {
                   return o.stored || o.name == "config" || o.name == "name" || o.name == "db";
                 },
                 run_search,
                 /*listed=*/true,
                 {}});
  register_verb({"resume", "continue a killed or finished experiment from the database",
                 "usage: sylva resume --name NAME [--db FILE] [--trials N] [--workers N]",
                 [](const OptionDef& o) {
                   return o.resumable || o.name == "config" || o.name == "name" || o.name == "db";
                 },
                 run_resume, /*listed=*/true,
                 [](const OptionDef& o) -> std::string {
                   if (!o.stored) return "";
                   // The options resume may change: derived from their flag.
                   std::vector<std::string> changeable;
                   for (const OptionDef& r : option_table()) {
                     if (r.resumable) changeable.push_back("--" + r.name);
                   }
                   return fmt::format(
                       "resume: --{} is fixed when the experiment is created; resume accepts {}",
                       o.name, join_words(changeable, "and"));
                 }});
  register_verb(
      {"worker",
       "join an experiment from any host and evaluate its trials",
       "usage: sylva worker --name NAME --db URL|FILE [--workers K] [--threads-per-worker T]\n\n"
       "Joins experiment NAME (made by `sylva search`) from this host and evaluates its trials "
       "until it is finished;\nany number of workers may join, on any host that reaches the "
       "database.",
       accepts_names({"name", "db", "workers", "threads-per-worker", "gpus", "trials-per-gpu"}),
       run_worker,
       /*listed=*/true,
       {}});
}

}  // namespace sylva::cli
