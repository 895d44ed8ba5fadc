// `sylva export`: a trial as JSON (genotype and metrics) or as a TorchScript
// model with its trained weights, from the database alone.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/options.h"
#include "cli/verbs.h"
#include "evaluators/supernet/supernet_evaluator.h"
#include "evaluators/train/model_tools.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "experiments/store.h"

namespace sylva::cli {

int run_export(int argc, char** argv) {
  auto parsed = parse_options(kExport, "export", argc, argv);
  if (!parsed.is_ok()) return fail(parsed.status(), 2);
  auto& v = parsed.value().values;
  if (parsed.value().help) {
    fmt::print(
        "usage: sylva export --name NAME [--db FILE] [--trial best|N] [--format "
        "json|torchscript] --out PATH\n\n{}",
        options_help(kExport));
    return 0;
  }
  for (const char* required : {"name", "out"}) {
    if (!v.count(required))
      return fail(Status::error(fmt::format("export: --{} is required", required)), 2);
  }
  std::string format = v.count("format") ? v["format"] : "json";
  if (format != "json" && format != "torchscript") {
    return fail(Status::error(
                    fmt::format("export: --format must be json or torchscript, got '{}'", format)),
                2);
  }
  auto store = open_existing("export", v["db"]);
  if (!store.is_ok()) return fail(store.status());
  auto experiment = store.value()->find_experiment(v["name"]);
  if (!experiment.is_ok()) return fail(experiment.status());
  auto config = experiments::ExperimentConfig::from_json(experiment.value().config_json);
  if (!config.is_ok()) return fail(config.status());
  auto space = space_from_source(config.value().text("space"), config.value().space_source);
  if (!space.is_ok()) return fail(space.status());
  int64_t exp_id = experiment.value().id;

  std::optional<experiments::TrialRow> trial;
  if (v["trial"] == "best") {
    auto objective = experiments::objective_of(config.value());
    if (!objective.is_ok()) return fail(objective.status());
    auto ranked = experiments::ranked(store.value()->trials(exp_id), objective.value());
    if (ranked.empty())
      return fail(
          Status::error(fmt::format("export: experiment '{}' has no complete trial", v["name"])));
    trial = ranked.front();
  } else {
    char* end = nullptr;
    long long n = std::strtoll(v["trial"].c_str(), &end, 10);
    if (v["trial"].empty() || *end != '\0' || n < 0) {
      return fail(Status::error(fmt::format(
                      "export: --trial must be 'best' or a trial number, got '{}'", v["trial"])),
                  2);
    }
    trial = store.value()->trial(exp_id, n);
    if (!trial) {
      return fail(Status::error(fmt::format("export: experiment '{}' has no trial {} (it has {})",
                                            v["name"], n, store.value()->trials(exp_id).size())));
    }
  }
  auto arch = space.value()->parse(trial->arch_canonical);
  if (!arch.is_ok()) return fail(arch.status());

  if (format == "json") {
    nlohmann::json j;
    j["experiment"] = v["name"];
    j["trial"] = trial->number;
    j["state"] = evaluators::state_name(trial->state);
    j["space"] = space.value()->name();
    j["key"] = arch.value().key;
    j["canonical"] = arch.value().canonical;
    j["hash"] = hash_hex(arch.value().hash);
    j["decisions"] = arch.value().decisions;
    j["labels"] = arch.value().labels;
    j["primitives"] = arch.value().primitives;
    j["metrics"] = trial->metrics;
    j["seed"] = trial->seed;
    std::ofstream out(v["out"]);
    if (!out) return fail(Status::error(fmt::format("export: cannot write '{}'", v["out"])));
    out << j.dump(2) << "\n";
  } else if (space.value()->name().rfind("supernet:", 0) == 0) {
    // A supernet's configuration: extracted from the supernet file.
    evaluators::SupernetEvalOptions o;
    o.path = space.value()->name().substr(9);
    o.dataset = config.value().text("dataset");
    auto val = config.value().integer("val-samples", 1);
    if (!val.is_ok()) return fail(val.status());
    o.val_samples = val.value();
    if (config.value().options.count("calibration-samples")) {
      auto calibration = config.value().integer("calibration-samples", 1);
      if (!calibration.is_ok()) return fail(calibration.status());
      o.calibration = calibration.value();
    }
    Status s = evaluators::export_subnet(o, arch.value(), v["out"]);
    if (!s.is_ok()) return fail(s);
  } else {
    auto artifact = store.value()->artifact(trial->id, "weights");
    if (!artifact) {
      std::vector<std::string> kept;
      for (int64_t id : store.value()->trials_with_artifact(exp_id, "weights")) {
        for (const auto& t : store.value()->trials(exp_id)) {
          if (t.id == id) kept.push_back(std::to_string(t.number));
        }
      }
      return fail(Status::error(fmt::format(
          "export: trial {} has no stored weights (weights are kept for the best --keep-weights "
          "trials of a trained search; trials with weights: {})",
          trial->number, kept.empty() ? "none" : join(kept, ", "))));
    }
    Status s = evaluators::export_torchscript(*space.value(), arch.value(), *artifact, v["out"]);
    if (!s.is_ok()) return fail(s);
  }
  fmt::print("wrote {} ({} of trial {}, {})\n", v["out"], format, trial->number, trial->arch_key);
  return 0;
}

}  // namespace sylva::cli
