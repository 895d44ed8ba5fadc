// sylva: neural architecture search from the terminal.
#include <fmt/format.h>

#include <algorithm>
#include <exception>

#include "base/strings.h"
#include "cli/hand_over.h"
#include "cli/register_all.h"
#include "cli/verb.h"

namespace {

void usage(FILE* out) {
  fmt::print(out,
             "usage: sylva VERB [options]   (sylva VERB --help for its options; sylva --version)"
             "\n\nverbs:\n");
  std::vector<const sylva::cli::VerbDef*> sorted = sylva::cli::verbs();
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  for (const auto* v : sorted) fmt::print(out, "  {:<8} {}\n", v->name, v->help);
}

}  // namespace

int main(int argc, char** argv) {
  sylva::cli::remember_arguments(argc, argv);
  sylva::cli::register_all();
  // The verb list (no verb, help, an unknown verb) is sylva-torch's to
  // print: it has them all.
  const std::string verb = argc < 2 ? "" : argv[1];
  const sylva::cli::VerbDef* found = sylva::cli::find_verb(verb);
  if (!sylva::cli::kWithTorch && verb != "--version" && (!found || !found->listed)) {
    sylva::cli::hand_over("the verb list");
  }
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (verb == "-h" || verb == "--help" || verb == "help") {
    usage(stdout);
    return 0;
  }
  if (verb == "--version") {
    fmt::print("sylva {}\n", SYLVA_VERSION);
    return 0;
  }
  if (!found || !found->listed) {
    std::vector<std::string> names;
    for (const auto* v : sylva::cli::verbs()) names.push_back(v->name);
    fmt::print(stderr, "sylva: unknown verb '{}' (verbs: {})\n", verb, sylva::join(names, ", "));
    return 2;
  }
  try {
    return found->run(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::string what = e.what();
    fmt::print(stderr, "sylva {}: {}\n", verb, what.substr(0, what.find('\n')));
    return 1;
  }
}
