// Built-in spaces are the grammars in spaces/grammars/, embedded in the binary
// at build time (CMake writes builtin_grammars.inc), so `--space NAME` needs
// no file on disk.
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>

#include "spaces/grammar.h"
#include "spaces/grammar_space.h"
#include "spaces/ofa.h"
#include "spaces/ofa_space.h"
#include "spaces/space.h"
#include "spaces/typed_grammar_space.h"

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

StatusOr<std::unique_ptr<Space>> space_from_source(const std::string& name,
                                                   const std::string& source) {
  // A supernet's configurations: the source is its spec.
  if (source.rfind("ofa ", 0) == 0) {
    auto spec = ofa::parse_spec(source);
    if (!spec.is_ok()) return spec.status();
    auto space = std::make_unique<ofa::OfaSpace>(name, spec.value());
    Status budgets = space->check_budgets();
    if (!budgets.is_ok()) return budgets;
    return std::unique_ptr<Space>(std::move(space));
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
  if (name_or_path.rfind("supernet:", 0) == 0) {
    auto net = ofa::load_supernet(name_or_path.substr(9));
    if (!net.is_ok()) return Status::error("--space " + net.status().message());
    return space_from_source(name_or_path, ofa::spec_text(net.value()->spec()));
  }
  auto it = builtins().find(name_or_path);
  if (it != builtins().end()) return space_from_source(it->first, it->second);
  std::ifstream in(name_or_path);
  if (!in) {
    return Status::error(
        fmt::format("--space '{}' is neither a built-in space ({}) nor a readable "
                    "grammar file",
                    name_or_path, join(builtin_space_names(), ", ")));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return space_from_source(name_or_path, buf.str());
}

}  // namespace sylva
