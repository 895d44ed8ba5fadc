// Overhead of the command evaluator per trial, with a command that reports
// its final line at once (`echo '{"final": true, ...}' > $SYLVA_REPORT`):
//   1. evaluate() alone on one thread, in this process (which links LibTorch
//      like sylva, so fork() copies as big a process): trial directory,
//      trial.json, the guarded child, report parsing; with and without
//      model.pt (an untrained nas-bench-macro candidate as TorchScript);
//   2. `sylva search --evaluator command` end to end (the database, the
//      loop, the strategy too) with 1 and 2 workers, trials per second.
//
// usage: command_overhead SYLVA [TRIALS=200]
// Timings only; nothing is asserted.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "evaluators/command/command_evaluator.h"
#include "evaluators/registry.h"
#include "evaluators/train/model_tools.h"
#include "spaces/space.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using sylva::evaluators::Job;

struct NullReporter : sylva::evaluators::Reporter {
  void intermediate(int, const std::string&, double) override {}
};

const char* kCommand = "echo '{\"final\": true, \"val_acc\": 1}' > \"$SYLVA_REPORT\"";

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void evaluate_alone(const fs::path& root, int trials, bool model) {
  sylva::evaluators::CommandOptions o;
  o.command = kCommand;
  o.trial_root = (root / (model ? "with" : "without")).string();
  o.input = {1, 28, 28, 10};
  o.write_model = model;
  auto ev = sylva::evaluators::make_command_evaluator(o).value();
  auto space = sylva::make_space("nas-bench-macro").value();
  auto cursor = space->cursor();
  while (!cursor->choices().empty()) cursor->choose(1);
  Job job;
  job.arch = space->make(cursor->decisions()).value();
  job.space = space.get();
  job.experiment = "bench";
  job.objective = "val_acc";
  NullReporter reporter;
  const auto start = Clock::now();
  for (int i = 0; i < trials; ++i) {
    job.trial_number = i;
    auto r = ev->evaluate(job, reporter);
    if (r.state != sylva::evaluators::TrialState::kComplete) {
      fmt::print(stderr, "trial {} failed: {}\n", i, r.message);
      std::exit(1);
    }
  }
  const double s = seconds_since(start);
  fmt::print("evaluate() alone, {} model.pt: {:.2f} ms per trial, {:.0f} trials/s\n",
             model ? "with" : "without", 1000 * s / trials, trials / s);
}

void search(const std::string& sylva, const fs::path& root, int trials, int workers, bool model) {
  const fs::path db = root / fmt::format("s{}{}.db", workers, model);
  const std::string cmd = fmt::format(
      "{} search --name b --db {} --space nb201 --evaluator command --command '{}' --trials {} "
      "--workers {} --threads-per-worker 1 --model-file {} > {}.out 2>&1",
      sylva, db.string(), "echo '\\''{\"final\": true, \"val_acc\": 1}'\\'' > \"$SYLVA_REPORT\"",
      trials, workers, model ? "yes" : "no", db.string());
  const auto start = Clock::now();
  if (std::system(cmd.c_str()) != 0) {
    fmt::print(stderr, "failed: {}\n", cmd);
    std::exit(1);
  }
  const double s = seconds_since(start);
  fmt::print("sylva search, {} worker(s), {} model.pt: {} trials in {:.2f} s, {:.0f} trials/s\n",
             workers, model ? "with" : "without", trials, s, trials / s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: command_overhead SYLVA [TRIALS=200]\n");
    return 2;
  }
  const int trials = argc > 2 ? std::atoi(argv[2]) : 200;
  sylva::evaluators::set_model_writer([](const sylva::Space& space, const sylva::Architecture& arch,
                                         const sylva::SpaceTarget& in, uint64_t seed,
                                         const std::string& path) {
    return sylva::evaluators::write_untrained_torchscript(
        space, arch, {in.channels, in.height, in.width, in.classes}, seed, path);
  });
  char tmpl[] = "/tmp/sylva-command-bench-XXXXXX";
  const fs::path root = mkdtemp(tmpl);
  evaluate_alone(root, trials, false);
  evaluate_alone(root, trials, true);
  for (int workers : {1, 2}) {
    for (bool model : {false, true}) search(argv[1], root, trials, workers, model);
  }
  fs::remove_all(root);
  return 0;
}
