// Built-in spaces are the grammars in spaces/grammar/grammars/, embedded in the binary
// at build time (CMake writes builtin_grammars.inc), so `--space NAME` needs
// no file on disk.
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>

#include "spaces/grammar/grammar.h"
#include "spaces/grammar/grammar_space.h"
#include "spaces/grammar/typed_grammar_space.h"
#include "spaces/space.h"
#include "spaces/supernets/family.h"

namespace sylva {
namespace {

const std::map<std::string, std::string>& builtins() {
  static const std::map<std::string, std::string> kSpaces = {
#include "spaces/builtin_grammars.inc"
  };
  return kSpaces;
}

}  // namespace

std::vector<std::string> builtin_space_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : builtins()) names.push_back(name);
  return names;
}

namespace {

std::vector<SpaceScheme>& schemes() {
  static auto* r = new std::vector<SpaceScheme>;
  return *r;
}

const SpaceScheme* scheme_of(const std::string& name_or_path) {
  const size_t colon = name_or_path.find(':');
  if (colon == std::string::npos) return nullptr;
  for (const SpaceScheme& s : schemes()) {
    if (name_or_path.compare(0, colon, s.name) == 0 && s.name.size() == colon) return &s;
  }
  return nullptr;
}

}  // namespace

void register_space_scheme(SpaceScheme scheme) { schemes().push_back(std::move(scheme)); }

bool is_supernet_source(const std::string& source) {
  return supernet_family_of_source(source) != nullptr;
}

StatusOr<std::unique_ptr<Space>> space_from_source(const std::string& name,
                                                   const std::string& source) {
  // A supernet's configurations: the source is its spec.
  if (const SupernetFamily* family = supernet_family_of_source(source)) {
    return family->space(name, source);
  }
  auto grammar = parse_grammar(source, name);
  if (!grammar.is_ok()) return grammar.status();
  if (grammar.value().typed) {
    auto typed = std::make_unique<TypedGrammarSpace>(name, source, std::move(grammar).value());
    Status derivable = typed->check_derivable();
    if (!derivable.is_ok()) return derivable;
    return std::unique_ptr<Space>(std::move(typed));
  }
  return std::unique_ptr<Space>(new GrammarSpace(name, source, std::move(grammar).value()));
}

StatusOr<std::unique_ptr<Space>> make_space(const std::string& name_or_path) {
  if (const SpaceScheme* scheme = scheme_of(name_or_path)) {
    auto source = scheme->read_source(name_or_path.substr(scheme->name.size() + 1));
    if (!source.is_ok()) return Status::invalid_argument("--space " + source.status().message());
    return space_from_source(name_or_path, source.value());
  }
  auto it = builtins().find(name_or_path);
  if (it != builtins().end()) return space_from_source(it->first, it->second);
  std::ifstream in(name_or_path);
  if (!in) {
    return Status::invalid_argument(
        fmt::format("--space '{}' is neither a built-in space ({}) nor a readable "
                    "grammar file",
                    name_or_path, join(builtin_space_names(), ", ")));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return space_from_source(name_or_path, buf.str());
}

StatusOr<std::unique_ptr<Space>> retarget_space(const Space& space, const SpaceTarget& t) {
  if (is_supernet_source(space.source())) {
    if (t.max_nodes >= 0) {
      return Status::invalid_argument(fmt::format(
          "--max-nodes applies to typed grammars; space '{}' is a supernet's (--max-params, "
          "--max-flops bound it)",
          space.name()));
    }
    // The budgets are words of the spec line: replace those given.
    std::istringstream words(space.source());
    std::string text, word;
    while (words >> word) {
      if ((t.max_params >= 0 && word.rfind("max-params=", 0) == 0) ||
          (t.max_flops >= 0 && word.rfind("max-macs=", 0) == 0)) {
        continue;
      }
      text += (text.empty() ? "" : " ") + word;
    }
    if (t.max_params > 0) text += fmt::format(" max-params={}", t.max_params);
    if (t.max_flops > 0) text += fmt::format(" max-macs={}", t.max_flops);
    if (text == space.source()) return std::unique_ptr<Space>();
    return space_from_source(space.name(), text);
  }
  if (t.max_flops >= 0) {
    return Status::invalid_argument(
        fmt::format("--max-flops applies to supernet spaces (supernet:FILE); space '{}' is not one",
                    space.name()));
  }
  const auto* typed = dynamic_cast<const TypedGrammarSpace*>(&space);
  if (!typed) {
    if (t.max_nodes >= 0) {
      return Status::invalid_argument(fmt::format(
          "--max-nodes applies to typed grammars (%state tensor); space '{}' is not one",
          space.name()));
    }
    if (t.max_params >= 0) {
      return Status::invalid_argument(fmt::format(
          "--max-params applies to typed grammars (%state tensor); space '{}' is not one",
          space.name()));
    }
    return std::unique_ptr<Space>();
  }
  const Grammar& g = typed->grammar();
  std::string extra;
  if (t.channels > 0 &&
      (g.input[0] != t.channels || g.input[1] != t.height || g.input[2] != t.width)) {
    extra += fmt::format("%input {} {} {}\n", t.channels, t.height, t.width);
  }
  if (t.classes > 0 && g.classes != t.classes) extra += fmt::format("%classes {}\n", t.classes);
  if (t.max_nodes >= 0 && g.max_nodes != t.max_nodes) {
    extra += fmt::format("%max-nodes {}\n", t.max_nodes);
  }
  if (t.max_params >= 0 && g.max_params != t.max_params) {
    extra += fmt::format("%max-params {}\n", t.max_params);
  }
  if (extra.empty()) return std::unique_ptr<Space>();
  std::string source = space.source();
  if (!source.empty() && source.back() != '\n') source += '\n';
  source += "# set by the command line and the dataset\n" + extra;
  return space_from_source(space.name(), source);
}

}  // namespace sylva
