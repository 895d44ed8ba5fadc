// `sylva logs`: the output a trial's command left (the command evaluator
// keeps the last kLogTail bytes of its stdout and stderr with the trial),
// from the database alone, so it works from any host.
#include <fmt/format.h>

#include "cli/options.h"
#include "cli/verbs.h"
#include "evaluators/command/command_evaluator.h"
#include "experiments/store.h"

namespace sylva::cli {
namespace {

int run_logs(int argc, char** argv) {
  Begun begun = begin_verb("logs", argc, argv, {"name", "trial"});
  if (begun.exit_code >= 0) return begun.exit_code;
  auto& v = begun.options.values;
  if (!begun.options.given.count("trial")) {
    return fail(Status::invalid_argument("logs: give the trial, --trial N (see `sylva trials`)"));
  }
  auto number = OptionReader(v).integer("trial", 0);
  if (!number.is_ok()) {
    return fail(Status::invalid_argument(
        fmt::format("logs: --trial must be a trial number, got '{}'", v["trial"])));
  }
  auto opened = open_experiment("logs", v["db"], v["name"], experiments::Store::Access::kReadOnly);
  if (!opened.is_ok()) return fail(opened.status());
  OpenedExperiment& e = opened.value();
  auto trial = e.store->trial(e.row.id, number.value());
  if (!trial) {
    return fail(Status::not_found(
        fmt::format("logs: experiment '{}' has no trial {}", v["name"], number.value())));
  }
  auto out = e.store->artifact(trial->id, "stdout");
  auto err = e.store->artifact(trial->id, "stderr");
  if (!out && !err) {
    return fail(Status::not_found(
        fmt::format("logs: trial {} has no output on record ({}; the command evaluator keeps its "
                    "commands' output when they end)",
                    number.value(), evaluators::state_name(trial->state))));
  }
  auto show = [](const char* stream, const std::optional<std::string>& text) {
    fmt::print("== {} ({} bytes{}) ==\n", stream, text ? text->size() : 0,
               text && text->size() >= evaluators::kLogTail ? ", the last ones" : "");
    if (text && !text->empty()) {
      fmt::print("{}", *text);
      if (text->back() != '\n') fmt::print("\n");
    }
  };
  fmt::print("trial {} ({}){}\n", trial->number, evaluators::state_name(trial->state),
             trial->message.empty() ? "" : ": " + trial->message);
  show("stdout", out);
  show("stderr", err);
  return 0;
}

}  // namespace

void register_logs_verb() {
  register_verb({"logs",
                 "the stdout and stderr a trial's command left (command evaluator)",
                 "usage: sylva logs --name NAME --trial N [--db FILE]",
                 accepts_names({"name", "db", "trial"}),
                 run_logs,
                 /*listed=*/true,
                 {}});
}

}  // namespace sylva::cli
