// `sylva status`, `sylva trials`, `sylva best`: read the database only.
#include <fmt/format.h>
#include <unistd.h>

#include "cli/options.h"
#include "cli/verbs.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "experiments/store.h"
#include "spaces/hparam_space.h"

namespace sylva::cli {
namespace {

using experiments::Store;

int print_table(const experiments::Table& table, const std::string& format) {
  auto text = experiments::render(table, format);
  if (!text.is_ok()) return fail(text.status());
  fmt::print("{}", text.value());
  return 0;
}

// Shared front of the reports: options, database, and (if named) experiment.
struct Report {
  ParsedOptions options;
  std::unique_ptr<Store> store;
  experiments::ExperimentRow experiment;
  experiments::ExperimentConfig config;
  int exit_code = -1;  // >= 0: the verb ends here with it
};

Report open_report(const std::string& verb, int argc, char** argv, bool need_name) {
  Report r;
  Begun begun = begin_verb(
      verb, argc, argv, need_name ? std::vector<std::string>{"name"} : std::vector<std::string>{});
  r.exit_code = begun.exit_code;
  if (r.exit_code >= 0) return r;
  r.options = std::move(begun.options);
  auto& v = r.options.values;
  if (!v.count("format")) v["format"] = "table";
  if (v.count("name")) {
    auto opened = open_experiment(verb, v["db"], v["name"], experiments::Store::Access::kReadOnly);
    if (!opened.is_ok()) {
      r.exit_code = fail(opened.status());
      return r;
    }
    r.store = std::move(opened.value().store);
    r.experiment = std::move(opened.value().row);
    r.config = std::move(opened.value().config);
    return r;
  }
  auto store = open_existing(verb, v["db"], experiments::Store::Access::kReadOnly);
  if (!store.is_ok()) {
    r.exit_code = fail(store.status());
    return r;
  }
  r.store = std::move(store).value();
  return r;
}

int run_status(int argc, char** argv) {
  Report rep = open_report("status", argc, argv, false);
  if (rep.exit_code >= 0) return rep.exit_code;
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
  auto config = experiments::ExperimentConfig::from_json(rep.experiment.config_json);
  if (config.is_ok() && !config.value().data.empty()) {
    fmt::print("\n{}\n", experiments::data_line(config.value().data));
  }
  auto workers = rep.store->workers(rep.experiment.id);
  if (workers.empty()) return 0;
  fmt::print("\nworkers:\n");
  return print_table(experiments::workers_table(workers), format);
}

int run_trials(int argc, char** argv) {
  Report rep = open_report("trials", argc, argv, true);
  if (rep.exit_code >= 0) return rep.exit_code;
  return print_table(experiments::trials_table(rep.store->trials(rep.experiment.id),
                                               hparam_names_of_source(rep.config.space_source)),
                     rep.options.values["format"]);
}

int run_best(int argc, char** argv) {
  Report rep = open_report("best", argc, argv, true);
  if (rep.exit_code >= 0) return rep.exit_code;
  auto& v = rep.options.values;
  if (!v.count("count")) v["count"] = "1";
  auto n = OptionReader(v).integer("count", 1);
  if (!n.is_ok()) return fail(n.status());
  const std::vector<std::string> hparams = hparam_names_of_source(rep.config.space_source);
  if (v.count("pareto")) {
    auto objectives = experiments::objectives_of(rep.config);
    if (!objectives.is_ok()) return fail(objectives.status());
    return print_table(experiments::pareto_table(rep.store->trials(rep.experiment.id),
                                                 objectives.value(), hparams),
                       v["format"]);
  }
  auto objective = experiments::objective_of(rep.config);
  if (!objective.is_ok()) return fail(objective.status());
  return print_table(experiments::best_table(rep.store->trials(rep.experiment.id),
                                             objective.value(), n.value(), hparams),
                     v["format"]);
}

}  // namespace

void register_report_verbs() {
  register_verb({"status",
                 "experiments in a database with their progress",
                 "usage: sylva status [--db FILE] [--name NAME] [-f table|json|csv]",
                 accepts_names({"name", "db", "format"}),
                 run_status,
                 /*listed=*/true,
                 {}});
  register_verb({"trials",
                 "every trial of an experiment",
                 "usage: sylva trials --name NAME [--db FILE] [-f table|json|csv]",
                 accepts_names({"name", "db", "format"}),
                 run_trials,
                 /*listed=*/true,
                 {}});
  register_verb({"best",
                 "the best trials of an experiment",
                 "usage: sylva best --name NAME [--db FILE] [-n N | --pareto] [-f table|json|csv]",
                 accepts_names({"name", "db", "format", "count", "pareto"}),
                 run_best,
                 /*listed=*/true,
                 {}});
}

}  // namespace sylva::cli
