// `sylva status`, `sylva trials`, `sylva best`: read the database only.
#include <fmt/format.h>
#include <unistd.h>

#include "cli/options.h"
#include "cli/verbs.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "experiments/store.h"

namespace sylva::cli {
namespace {

using experiments::Store;

int print_table(const experiments::Table& table, const std::string& format) {
  auto text = experiments::render(table, format);
  if (!text.is_ok()) return fail(text.status(), 2);
  fmt::print("{}", text.value());
  return 0;
}

// Shared front of the reports: options, database, and (if named) experiment.
struct Report {
  ParsedOptions options;
  std::unique_ptr<Store> store;
  experiments::ExperimentRow experiment;
  experiments::ExperimentConfig config;
};

StatusOr<Report> open_report(Verb verb, const std::string& verb_name, int argc, char** argv,
                             bool need_name) {
  SYLVA_ASSIGN(options, parse_options(verb, verb_name, argc, argv));
  Report r;
  r.options = std::move(options);
  if (r.options.help) return r;
  auto& v = r.options.values;
  if (!v.count("format")) v["format"] = "table";
  SYLVA_ASSIGN(store, open_existing(verb_name, v["db"]));
  r.store = std::move(store);
  if (need_name || v.count("name")) {
    if (!v.count("name")) return Status::error(fmt::format("{}: --name is required", verb_name));
    SYLVA_ASSIGN(experiment, r.store->find_experiment(v["name"]));
    SYLVA_ASSIGN(config, experiments::ExperimentConfig::from_json(experiment.config_json));
    r.experiment = std::move(experiment);
    r.config = std::move(config);
  }
  return r;
}

int help(Verb verb, const std::string& usage) {
  fmt::print("usage: {}\n\n{}", usage, options_help(verb));
  return 0;
}

}  // namespace

int run_status(int argc, char** argv) {
  auto r = open_report(kStatus, "status", argc, argv, false);
  if (!r.is_ok()) return fail(r.status());
  if (r.value().options.help)
    return help(kStatus, "sylva status [--db FILE] [--name NAME] [-f table|json|csv]");
  auto& rep = r.value();
  std::vector<experiments::ExperimentRow> rows;
  if (rep.options.values.count("name")) {
    rows.push_back(rep.experiment);
  } else {
    rows = rep.store->experiments();
  }
  const std::string& format = rep.options.values["format"];
  int rc = print_table(experiments::status_table(*rep.store, rows), format);
  // With --name, the table format adds the experiment's worker processes.
  if (rc != 0 || !rep.options.values.count("name") || format != "table") return rc;
  auto workers = rep.store->workers(rep.experiment.id);
  if (workers.empty()) return 0;
  fmt::print("\nworkers:\n");
  return print_table(experiments::workers_table(workers), format);
}

int run_trials(int argc, char** argv) {
  auto r = open_report(kTrials, "trials", argc, argv, true);
  if (!r.is_ok()) return fail(r.status());
  if (r.value().options.help)
    return help(kTrials, "sylva trials --name NAME [--db FILE] [-f table|json|csv]");
  auto& rep = r.value();
  return print_table(experiments::trials_table(rep.store->trials(rep.experiment.id)),
                     rep.options.values["format"]);
}

int run_best(int argc, char** argv) {
  auto r = open_report(kBest, "best", argc, argv, true);
  if (!r.is_ok()) return fail(r.status());
  if (r.value().options.help)
    return help(kBest, "sylva best --name NAME [--db FILE] [-n N | --pareto] [-f table|json|csv]");
  auto& rep = r.value();
  auto& v = rep.options.values;
  if (!v.count("count")) v["count"] = "1";
  experiments::ExperimentConfig counts;
  counts.options["count"] = v["count"];
  auto n = counts.integer("count", 1);
  if (!n.is_ok()) return fail(n.status(), 2);
  if (v.count("pareto")) {
    auto objectives = experiments::objectives_of(rep.config);
    if (!objectives.is_ok()) return fail(objectives.status());
    return print_table(
        experiments::pareto_table(rep.store->trials(rep.experiment.id), objectives.value()),
        v["format"]);
  }
  auto objective = experiments::objective_of(rep.config);
  if (!objective.is_ok()) return fail(objective.status());
  return print_table(
      experiments::best_table(rep.store->trials(rep.experiment.id), objective.value(), n.value()),
      v["format"]);
}

}  // namespace sylva::cli
