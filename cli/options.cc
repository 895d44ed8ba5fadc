#include "cli/options.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/strings.h"
#include "cli/hand_over.h"
#include "evaluators/registry.h"
#if SYLVA_TORCH
#include "evaluators/supernet/schedules.h"
#endif
#include "experiments/options.h"
#include "search/predictor_assisted.h"
#include "search/proxy_filter.h"
#include "search/strategy.h"
#include "spaces/supernets/family.h"

namespace po = boost::program_options;

namespace sylva::cli {
namespace {

OptionDef cli_option(std::string name, std::string help, std::string value = "",
                     OptionDef::Default defaults = OptionDef::kFilled, char short_name = 0,
                     OptionDef::Kind kind = OptionDef::kValue) {
  return {std::move(name), std::move(help), std::move(value), defaults,
          false,           false,           short_name,       kind};
}

// The options of the CLI itself: where an experiment is, what a report
// prints, and the supernet verbs'.
std::vector<OptionDef> head_options() {
  return {
      cli_option("config", "INI file of options (key = value, same names); the command line wins",
                 "", OptionDef::kAbsent),
      cli_option("name", "experiment name", "", OptionDef::kAbsent),
      cli_option("db",
                 "SQLite database file, or PostgreSQL URL "
                 "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB",
                 "sylva.db"),
  };
}

std::vector<OptionDef> tail_options() {
  std::string families, schedules, defaults;
  for (const std::string& name : supernet_family_names()) {
    const SupernetFamily* f = find_supernet_family(name);
    families += fmt::format("{}{} ({})", families.empty() ? "" : " | ", name, f->help);
    defaults += fmt::format("{}{}: {}", defaults.empty() ? "" : ", ", name, f->default_schedule);
  }
#if SYLVA_TORCH
  for (const evaluators::Schedule& s : evaluators::schedules()) {
    schedules += fmt::format("{}{} ({})", schedules.empty() ? "" : " | ", s.name, s.help);
  }
#endif
  // `sylva` has no supernet families: it hands their commands to sylva-torch.
  const std::string first_family =
      supernet_family_names().empty() ? "" : supernet_family_names().front();
  return {
      cli_option("format", "table | json | csv (reports); json | torchscript (export)", "",
                 OptionDef::kAbsent, 'f'),
      cli_option("count", "how many (best: 1, sample: 5)", "", OptionDef::kAbsent, 'n'),
      cli_option("pareto", "list the Pareto front of the experiment's objectives instead", "",
                 OptionDef::kAbsent, 0, OptionDef::kFlag),
      cli_option("trial", "best or a trial number", "best"),
      cli_option("out", "output file", "", OptionDef::kAbsent),
      cli_option("port", "dashboard: TCP port to listen on (0: any free one)", "8080"),
      cli_option("bind",
                 "dashboard: address to listen on (127.0.0.1: this machine only; 0.0.0.0: every "
                 "network)",
                 "127.0.0.1"),
      cli_option("refresh-ms", "dashboard: how often the page looks for finished trials", "2000"),
      cli_option("family", "supernet family: " + families, first_family),
      cli_option("schedule", fmt::format("supernet training: {} [{}]", schedules, defaults), ""),
      cli_option("checkpoint-every",
                 "steps between checkpoints (OUT.ckpt; a rerun of the same command resumes from "
                 "it)",
                 "10"),
  };
}

// Adds `o` to `table`, or, when an owner declared it already (strategies that
// read the same option with their own defaults), adds `owner`'s help to it.
void add(std::vector<OptionDef>& table, OptionDef o, const std::string& owner = "") {
  std::string help = o.help;
  if (o.defaults == OptionDef::kOwners) {
    help = fmt::format("{}: {} [{}]", owner, o.help, o.default_value);
  }
  for (OptionDef& seen : table) {
    if (seen.name == o.name) {
      seen.help += "; " + help;
      return;
    }
  }
  o.help = help;
  table.push_back(std::move(o));
}

std::vector<OptionDef> build_table() {
  std::vector<OptionDef> table;
  for (OptionDef o : head_options()) add(table, std::move(o));
  std::vector<std::string> strategies, evaluators;
  for (const search::StrategyDef* d : search::strategy_defs()) strategies.push_back(d->name);
  for (const evaluators::EvaluatorDef* d : evaluators::evaluator_defs()) {
    evaluators.push_back(d->name);
  }
  for (OptionDef o : experiments::experiment_options()) {
    if (o.name == "strategy") o.help += ": " + join(strategies, " | ");
    if (o.name == "evaluator") o.help = join(evaluators, " | ");
    add(table, std::move(o));
  }
  for (const search::StrategyDef* d : search::strategy_defs()) {
    for (const OptionDef& o : d->options) add(table, o, d->name);
  }
  for (const OptionDef& o : search::predictor_options()) add(table, o);
  for (const OptionDef& o : search::proxy_filter_options()) add(table, o);
  for (const evaluators::EvaluatorDef* d : evaluators::evaluator_defs()) {
    for (const OptionDef& o : d->options) add(table, o, d->name);
  }
  for (const OptionDef& o : experiments::halving_options()) add(table, o);
  for (OptionDef o : tail_options()) add(table, std::move(o));
#if SYLVA_TORCH
  for (const OptionDef& o : evaluators::schedule_options()) add(table, o);
#endif
  return table;
}

// Whether `verb` takes option `o`: its own list, and --config everywhere
// (every option of every verb may come from an INI file).
bool takes(const VerbDef& verb, const OptionDef& o) {
  return o.name == "config" || verb.accepts(o);
}

po::options_description describe(const VerbDef& verb, bool for_config_file) {
  po::options_description desc("Options");
  for (const OptionDef& o : option_table()) {
    if (!takes(verb, o)) continue;
    if (for_config_file && o.name == "config") continue;
    std::string names = o.name;
    if (o.short_name && !for_config_file) names += std::string(",") + o.short_name;
    std::string help = o.help;
    // resume keeps the experiment's stored values of what it is not given.
    if (verb.name == "resume" && o.stored) {
      help += " [stored]";
    } else if (o.defaults == OptionDef::kFilled && !o.default_value.empty()) {
      help += fmt::format(" [{}]", o.default_value);
    }
    if (o.kind == OptionDef::kRepeated || verb.repeated.count(o.name)) {
      desc.add_options()(names.c_str(), po::value<std::vector<std::string>>()->composing(),
                         help.c_str());
    } else if (o.kind == OptionDef::kFlag) {
      desc.add_options()(names.c_str(),
                         po::value<std::string>()->zero_tokens()->implicit_value("1"),
                         help.c_str());
    } else {
      desc.add_options()(names.c_str(), po::value<std::string>(), help.c_str());
    }
  }
  if (!for_config_file) desc.add_options()("help,h", "show this help");
  return desc;
}

// "--X does not apply", or the verb's own message.
Status misplaced(const VerbDef& verb, const OptionDef& o) {
  if (verb.refusal) {
    const std::string why = verb.refusal(o);
    if (!why.empty()) return Status::invalid_argument(why);
  }
  return Status::invalid_argument(
      fmt::format("{}: option '--{}' does not apply to {}", verb.name, o.name, verb.name));
}

// An experiment name is printed in one-line messages and tables and typed
// back on command lines: no control characters (a newline, a tab, an
// escape), and short enough to read.
Status check_name(const std::string& verb, const std::string& name) {
  constexpr size_t kMaxName = 200;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F) {
      return Status::invalid_argument(fmt::format(
          "{}: --name must not contain control characters (newlines, tabs, ...), got '{}'", verb,
          quote_cut(name)));
    }
  }
  if (name.size() > kMaxName) {
    return Status::invalid_argument(fmt::format("{}: --name must be at most {} bytes, got '{}'",
                                                verb, kMaxName, quote_cut(name)));
  }
  return Status::ok();
}

}  // namespace

const std::vector<OptionDef>& option_table() {
  static const std::vector<OptionDef> kTable = build_table();
  return kTable;
}

std::string options_help(const VerbDef& verb) {
  std::ostringstream out;
  out << describe(verb, false);
  return out.str();
}

StatusOr<ParsedOptions> parse_options(const VerbDef& verb, int argc, char** argv) {
  ParsedOptions parsed;
  // A known option given to the wrong verb gets a precise message.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) continue;
    std::string key =
        arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
    for (const OptionDef& o : option_table()) {
      if (key == o.name && !takes(verb, o)) return misplaced(verb, o);
    }
  }
  po::variables_map vm;
  try {
    const po::options_description desc = describe(verb, false);
    po::parsed_options given =
        po::command_line_parser(argc, argv).options(desc).allow_unregistered().run();
    // `--name --db x`: the next option taken for a value.
    for (const po::option& o : given.options) {
      if (o.unregistered || o.value.empty()) continue;
      const std::string& text = o.value.front();
      if (text.rfind("--", 0) != 0) continue;
      const std::string other = text.substr(2, text.find('=') - 2);
      for (const OptionDef& known : option_table()) {
        if (known.name == other || other == "help") {
          return Status::invalid_argument(
              fmt::format("{}: --{} needs a value, but the next word is the option '{}'", verb.name,
                          o.string_key, text));
        }
      }
    }
    // Words that belong to no option: a typo or a forgotten --.
    for (const std::string& word :
         po::collect_unrecognized(given.options, po::include_positional)) {
      if (word.rfind("-", 0) == 0) {
        return Status::invalid_argument(
            fmt::format("{}: unrecognised option '{}'", verb.name, word));
      }
      return Status::invalid_argument(fmt::format(
          "{}: unexpected argument '{}' (every value follows its --option)", verb.name, word));
    }
    po::store(given, vm);
  } catch (const po::error& e) {
    return Status::invalid_argument(fmt::format("{}: {}", verb.name, e.what()));
  }
  if (vm.count("help")) {
    parsed.help = true;
    return parsed;
  }
  if (vm.count("config")) {
    std::string path = vm["config"].as<std::string>();
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return Status::invalid_argument(
          fmt::format("--config: '{}' is a directory, not an INI file", path));
    }
    std::ifstream in(path);
    if (!in) return Status::invalid_argument(fmt::format("--config: cannot read '{}'", path));
    try {
      // One file serves every verb of an experiment (search, then trials,
      // export, ...): an option of sylva that this verb does not take is
      // passed over; a key that is no option at all is an error.
      const po::options_description keys = describe(verb, true);  // `file` points into it
      po::parsed_options file = po::parse_config_file(in, keys, /*allow_unregistered=*/true);
      for (const po::option& o : file.options) {
        if (!o.unregistered) continue;
        const bool known = std::any_of(option_table().begin(), option_table().end(),
                                       [&](const OptionDef& d) { return d.name == o.string_key; });
        if (!known) {
          return Status::invalid_argument(
              fmt::format("{}: unrecognised option '{}'", path, o.string_key));
        }
      }
      po::store(file, vm);
    } catch (const po::error& e) {
      return Status::invalid_argument(fmt::format("{}: {}", path, e.what()));
    }
  }
  for (const OptionDef& o : option_table()) {
    if (!takes(verb, o)) continue;
    if (vm.count(o.name) && (o.kind == OptionDef::kRepeated || verb.repeated.count(o.name))) {
      parsed.lists[o.name] = vm[o.name].as<std::vector<std::string>>();
      parsed.values[o.name] = join(parsed.lists[o.name], ",");
      parsed.given.insert(o.name);
    } else if (vm.count(o.name)) {
      parsed.values[o.name] = vm[o.name].as<std::string>();
      parsed.given.insert(o.name);
    } else if (o.defaults == OptionDef::kFilled) {
      parsed.values[o.name] = o.default_value;
    } else if (o.defaults == OptionDef::kOwners) {
      parsed.values[o.name] = "";
    }
  }
  return parsed;
}

Begun begin_verb(const std::string& name, int argc, char** argv,
                 const std::vector<std::string>& required) {
  Begun b;
  const VerbDef* verb = find_verb(name);
  if (!verb) throw std::logic_error("verb '" + name + "' is not registered");
  auto parsed = parse_options(*verb, argc, argv);
  // `sylva` lacks LibTorch's options (and their help): sylva-torch parses
  // such a command, and says what is wrong with it if anything is.
  if (!kWithTorch && (!parsed.is_ok() || parsed.value().help)) hand_over("options or help");
  if (!parsed.is_ok()) {
    fmt::print(stderr, "sylva: {}\n", parsed.status().message());
    b.exit_code = exit_code(parsed.status());
    return b;
  }
  b.options = std::move(parsed).value();
  if (b.options.help) {
    fmt::print("{}\n\n{}", verb->usage, options_help(*verb));
    b.exit_code = 0;
    return b;
  }
  if (b.options.given.count("name")) {
    auto list = b.options.lists.find("name");
    for (const std::string& n : list == b.options.lists.end()
                                    ? std::vector<std::string>{b.options.values["name"]}
                                    : list->second) {
      const Status named = check_name(name, n);
      if (!named.is_ok()) {
        fmt::print(stderr, "sylva: {}\n", named.message());
        b.exit_code = exit_code(named);
        return b;
      }
    }
  }
  for (const std::string& r : required) {
    auto it = b.options.values.find(r);
    if (it == b.options.values.end() || it->second.empty()) {
      const Status missing = Status::invalid_argument(fmt::format("{}: --{} is required", name, r));
      fmt::print(stderr, "sylva: {}\n", missing.message());
      b.exit_code = exit_code(missing);
      return b;
    }
  }
  return b;
}

}  // namespace sylva::cli
