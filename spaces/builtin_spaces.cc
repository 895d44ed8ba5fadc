// Built-in spaces are the grammars in spaces/grammar/grammars/, embedded in the binary
// at build time (CMake writes builtin_grammars.inc), so `--space NAME` needs
// no file on disk. space_from_source takes a source's `%hparam` lines out
// and wraps the space built from the rest in an HparamSpace.
#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "spaces/grammar/grammar.h"
#include "spaces/grammar/grammar_space.h"
#include "spaces/grammar/typed_grammar_space.h"
#include "spaces/hparam_space.h"
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

namespace {

// `%hparam` lines taken out of a space's source: each replaced by an empty
// line, so that the grammar parser's line numbers stay right.
struct HparamLines {
  std::vector<HparamDecl> hparams;
  std::string rest;
};

StatusOr<HparamLines> take_hparam_lines(const std::string& name, const std::string& source) {
  HparamLines out;
  std::vector<int> lines;  // where each was declared
  size_t start = 0;
  int line = 0;
  while (start <= source.size()) {
    size_t nl = source.find('\n', start);
    const bool last = nl == std::string::npos;
    if (last) nl = source.size();
    const std::string text = source.substr(start, nl - start);
    ++line;
    const size_t first = text.find_first_not_of(" \t\r");
    const bool directive =
        first != std::string::npos && text.compare(first, 7, "%hparam") == 0 &&
        (first + 7 == text.size() || std::isspace(static_cast<unsigned char>(text[first + 7])));
    if (directive) {
      SYLVA_ASSIGN(decl, parse_hparam_decl(text, name, line));
      for (size_t i = 0; i < out.hparams.size(); ++i) {
        if (out.hparams[i].name == decl.name) {
          return Status::at({name, line, static_cast<int>(text.find(decl.name, first + 7)) + 1},
                            fmt::format("hyperparameter '{}' is declared twice (first on line {})",
                                        decl.name, lines[i]));
        }
      }
      out.hparams.push_back(std::move(decl));
      lines.push_back(line);
    } else {
      out.rest += text;
    }
    if (last) break;
    out.rest += '\n';
    start = nl + 1;
  }
  return out;
}

// The space of `source` without `%hparam` lines.
StatusOr<std::unique_ptr<Space>> inner_space_from_source(const std::string& name,
                                                         const std::string& source) {
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

}  // namespace

StatusOr<std::unique_ptr<Space>> space_from_source(const std::string& name,
                                                   const std::string& source) {
  if (source.find("%hparam") == std::string::npos) return inner_space_from_source(name, source);
  SYLVA_ASSIGN(taken, take_hparam_lines(name, source));
  if (taken.hparams.empty()) return inner_space_from_source(name, source);
  // A supernet's spec is one line: without the blank lines left in its place.
  const size_t first = taken.rest.find_first_not_of(" \t\r\n");
  const size_t last = taken.rest.find_last_not_of(" \t\r\n");
  if (first != std::string::npos) {
    const std::string spec = taken.rest.substr(first, last - first + 1);
    if (is_supernet_source(spec)) taken.rest = spec;
  }
  SYLVA_ASSIGN(inner, inner_space_from_source(name, taken.rest));
  SYLVA_ASSIGN(wrapped, HparamSpace::make(std::move(inner), std::move(taken.hparams), source));
  return std::unique_ptr<Space>(std::move(wrapped));
}

StatusOr<std::unique_ptr<Space>> make_space(const std::string& name_or_path) {
  if (const SpaceScheme* scheme = scheme_of(name_or_path)) {
    auto source = scheme->read_source(name_or_path.substr(scheme->name.size() + 1));
    if (!source.is_ok()) return Status::invalid_argument("--space " + source.status().message());
    return space_from_source(name_or_path, source.value());
  }
  auto it = builtins().find(name_or_path);
  if (it != builtins().end()) return space_from_source(it->first, it->second);
  std::error_code ec;
  if (std::filesystem::is_directory(name_or_path, ec)) {
    return Status::invalid_argument(
        fmt::format("--space '{}' is a directory, not a grammar file", name_or_path));
  }
  std::ifstream in(name_or_path);
  if (!in) {
    return Status::invalid_argument(
        fmt::format("--space '{}' is neither a built-in space ({}) nor a readable "
                    "grammar file",
                    name_or_path, join(builtin_space_names(), ", ")));
  }
  // Judged by its size before it is read: a file of gigabytes (a dataset
  // given as --space by mistake) is refused without reading it.
  const auto size = std::filesystem::file_size(name_or_path, ec);
  if (!ec && size > grammar_limits::kBytes) {
    return Status::invalid_argument(
        fmt::format("{}: {} bytes, more than the limit of {} for a grammar", name_or_path, size,
                    grammar_limits::kBytes));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return space_from_source(name_or_path, buf.str());
}

StatusOr<std::unique_ptr<Space>> retarget_space(const Space& space, const SpaceTarget& t) {
  // The inner space is retargeted; the hyperparameters stay.
  if (const HparamSpace* h = as_hparam_space(space)) {
    SYLVA_ASSIGN(inner, retarget_space(h->inner(), t));
    if (!inner) return std::unique_ptr<Space>();
    SYLVA_ASSIGN(wrapped, HparamSpace::make(std::move(inner), h->hparams()));
    return std::unique_ptr<Space>(std::move(wrapped));
  }
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
