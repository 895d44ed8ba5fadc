// sylva: neural architecture search from the terminal.
#include <fmt/format.h>

#include <cstring>
#include <exception>
#include <functional>
#include <map>

#include "cli/register_all.h"
#include "cli/verbs.h"

namespace {

struct VerbEntry {
  std::function<int(int, char**)> run;
  const char* help;
};

const std::map<std::string, VerbEntry>& verbs() {
  using namespace sylva::cli;
  static const std::map<std::string, VerbEntry> kVerbs = {
      {"search", {run_search, "start an experiment and run it to its trial budget"}},
      {"resume", {run_resume, "continue a killed or finished experiment from the database"}},
      {"status", {run_status, "experiments in a database with their progress"}},
      {"trials", {run_trials, "every trial of an experiment"}},
      {"best", {run_best, "the best trials of an experiment"}},
      {"export", {run_export, "write a trial as JSON or as a TorchScript model"}},
      {"sample", {run_sample, "sample architectures from a space"}},
      {"supernet", {run_supernet, "weight-sharing supernets: supernet train, select, sweep"}},
      {"worker", {run_worker, "join an experiment from any host and evaluate its trials"}},
  };
  return kVerbs;
}

void usage(FILE* out) {
  fmt::print(out, "usage: sylva VERB [options]   (sylva VERB --help for its options)\n\nverbs:\n");
  for (const auto& [name, v] : verbs()) fmt::print(out, "  {:<8} {}\n", name, v.help);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string verb = argv[1];
  if (verb == "-h" || verb == "--help" || verb == "help") {
    usage(stdout);
    return 0;
  }
  auto it = verbs().find(verb);
  if (it == verbs().end()) {
    fmt::print(stderr,
               "sylva: unknown verb '{}' (verbs: search, resume, status, trials, best, "
               "export, sample, supernet, worker)\n",
               verb);
    return 2;
  }
  sylva::cli::register_all();
  try {
    return it->second.run(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::string what = e.what();
    fmt::print(stderr, "sylva {}: {}\n", verb, what.substr(0, what.find('\n')));
    return 1;
  }
}
