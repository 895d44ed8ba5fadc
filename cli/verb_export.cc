// `sylva export`: a trial as JSON (genotype and metrics) or as a TorchScript
// model with its trained weights, from the database alone.
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/hand_over.h"
#include "cli/options.h"
#include "cli/verbs.h"
#if SYLVA_TORCH
#include "evaluators/supernet/supernet_evaluator.h"
#include "evaluators/train/model_tools.h"
#endif
#include "experiments/config.h"
#include "experiments/report.h"
#include "experiments/store.h"
#include "spaces/hparam_space.h"

namespace sylva::cli {

namespace {

// The trial --trial names: the best by the first objective (no number), or
// trial `number`.
StatusOr<experiments::TrialRow> chosen_trial(OpenedExperiment& e, std::optional<int64_t> number,
                                             const std::string& name) {
  const int64_t exp_id = e.row.id;
  if (!number) {
    SYLVA_ASSIGN(objective, experiments::objective_of(e.config));
    auto ranked = experiments::ranked(e.store->trials(exp_id), objective, 1);
    if (ranked.empty()) {
      return Status::not_found(fmt::format("export: experiment '{}' has no complete trial", name));
    }
    return ranked.front();
  }
  auto trial = e.store->trial(exp_id, *number);
  if (!trial) {
    return Status::not_found(fmt::format("export: experiment '{}' has no trial {} (it has {})",
                                         name, *number, e.store->trials(exp_id).size()));
  }
  return *trial;
}

Status write_json(const std::string& name, const experiments::TrialRow& trial, const Space& space,
                  const Architecture& arch, const std::string& path) {
  nlohmann::json j;
  j["experiment"] = name;
  j["trial"] = trial.number;
  j["state"] = evaluators::state_name(trial.state);
  j["space"] = space.name();
  j["key"] = arch.key;
  j["canonical"] = arch.canonical;
  j["hash"] = hash_hex(arch.hash);
  j["decisions"] = arch.decisions;
  j["labels"] = arch.labels;
  j["primitives"] = arch.primitives;
  // The chosen hyperparameters: numbers where the value reads as one.
  nlohmann::json hparams = nlohmann::json::object();
  for (const HparamValue& h : split_hparams(space, arch).hparams) {
    const char* begin = h.value.data();
    const char* end = begin + h.value.size();
    int64_t integer = 0;
    double number = 0;
    if (auto r = std::from_chars(begin, end, integer); r.ec == std::errc() && r.ptr == end) {
      hparams[h.name] = integer;
    } else if (auto d = std::from_chars(begin, end, number);
               d.ec == std::errc() && d.ptr == end && std::isfinite(number)) {
      hparams[h.name] = number;
    } else {
      hparams[h.name] = h.value;
    }
  }
  j["hyperparameters"] = hparams;
  j["metrics"] = trial.metrics;
  j["seed"] = trial.seed;
  std::ofstream out(path);
  if (!out) return Status::io_error(fmt::format("export: cannot write '{}'", path));
  out << j.dump(2) << "\n";
  return Status::ok();
}

// A supernet's configuration, extracted from the supernet file; any other
// trial from its stored weights.
Status write_torchscript(OpenedExperiment& e, const experiments::TrialRow& trial,
                         const Space& searched, const Architecture& searched_arch,
                         const std::string& path) {
#if !SYLVA_TORCH
  (void)e, (void)trial, (void)searched, (void)searched_arch, (void)path;
  return Status::failed_precondition("export: a TorchScript model needs sylva-torch");
#else
  // The network is the inner space's: hyperparameters build nothing.
  const HparamSplit split = split_hparams(searched, searched_arch);
  const Space& space = *split.space;
  const Architecture& arch = split.arch;
  if (space.name().rfind("supernet:", 0) == 0) {
    // The stored options (dataset, its format, validation and calibration
    // images); calibration for the export runs on the CPU, which every
    // machine has.
    SYLVA_ASSIGN(o, evaluators::supernet_eval_options(OptionReader(e.config.options)));
    o.path = space.name().substr(9);
    o.device = "cpu";
    return evaluators::export_subnet(o, arch, path);
  }
  auto artifact = e.store->artifact(trial.id, "weights");
  if (!artifact) {
    std::vector<std::string> kept;
    for (int64_t id : e.store->trials_with_artifact(e.row.id, "weights")) {
      for (const auto& t : e.store->trials(e.row.id)) {
        if (t.id == id) kept.push_back(std::to_string(t.number));
      }
    }
    return Status::not_found(fmt::format(
        "export: trial {} has no stored weights (weights are kept for the best --keep-weights "
        "trials of a trained search; trials with weights: {})",
        trial.number, kept.empty() ? "none" : join(kept, ", ")));
  }
  return evaluators::export_torchscript(space, arch, *artifact, path);
#endif
}

int run_export(int argc, char** argv) {
  Begun begun = begin_verb("export", argc, argv, {"name", "out"});
  if (begun.exit_code >= 0) return begun.exit_code;
  auto& v = begun.options.values;
  std::string format = v.count("format") ? v["format"] : "json";
  if (format != "json" && format != "torchscript") {
    return fail(Status::invalid_argument(
        fmt::format("export: --format must be json or torchscript, got '{}'", format)));
  }
  if (!kWithTorch && format == "torchscript") hand_over("a TorchScript export");
  std::optional<int64_t> number;  // none: the best
  if (v["trial"] != "best") {
    auto n = OptionReader(v).integer("trial", 0);
    if (!n.is_ok()) {
      return fail(Status::invalid_argument(
          fmt::format("export: --trial must be 'best' or a trial number, got '{}'", v["trial"])));
    }
    number = n.value();
  }
  auto opened =
      open_experiment("export", v["db"], v["name"], experiments::Store::Access::kReadOnly);
  if (!opened.is_ok()) return fail(opened.status());
  OpenedExperiment& e = opened.value();
  auto space = space_from_source(e.config.text("space"), e.config.space_source);
  // A stored space or architecture that no longer rebuilds: the database
  // is not what it claims.
  if (!space.is_ok()) return fail(space.status().with_code(StatusCode::kCorruption));
  auto trial = chosen_trial(e, number, v["name"]);
  if (!trial.is_ok()) return fail(trial.status());
  auto arch = space.value()->parse(trial.value().arch_canonical);
  if (!arch.is_ok()) return fail(arch.status().with_code(StatusCode::kCorruption));
  Status written =
      format == "json"
          ? write_json(v["name"], trial.value(), *space.value(), arch.value(), v["out"])
          : write_torchscript(e, trial.value(), *space.value(), arch.value(), v["out"]);
  if (!written.is_ok()) return fail(written);
  fmt::print("wrote {} ({} of trial {}, {})\n", v["out"], format, trial.value().number,
             trial.value().arch_key);
  return 0;
}

}  // namespace

void register_export_verb() {
  register_verb({"export",
                 "write a trial as JSON or as a TorchScript model",
                 "usage: sylva export --name NAME [--db FILE] [--trial best|N] [--format "
                 "json|torchscript] --out PATH",
                 accepts_names({"name", "db", "format", "trial", "out"}),
                 run_export,
                 /*listed=*/true,
                 {}});
}

}  // namespace sylva::cli
