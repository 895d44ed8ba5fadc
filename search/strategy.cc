#include "search/strategy.h"

#include <fmt/format.h>

#include <mutex>

#include "base/random.h"
#include "search/variation.h"

namespace sylva::search {
namespace {

std::map<std::string, StrategyDef>& registry() {
  static std::map<std::string, StrategyDef> r;
  return r;
}
std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}

}  // namespace

void register_strategy(StrategyDef def) {
  std::lock_guard<std::mutex> lock(registry_mu());
  const std::string name = def.name;
  registry()[name] = std::move(def);
}

std::vector<const StrategyDef*> strategy_defs() {
  register_all_strategies();
  std::lock_guard<std::mutex> lock(registry_mu());
  std::vector<const StrategyDef*> out;
  for (const auto& [name, def] : registry()) out.push_back(&def);
  return out;
}

std::vector<std::string> strategy_names() {
  register_all_strategies();
  std::lock_guard<std::mutex> lock(registry_mu());
  std::vector<std::string> names;
  for (const auto& [name, f] : registry()) names.push_back(name);
  return names;
}

StatusOr<std::unique_ptr<Strategy>> make_strategy(const std::string& name,
                                                  const StrategyContext& context) {
  register_all_strategies();
  StrategyFactory factory;
  {
    std::lock_guard<std::mutex> lock(registry_mu());
    auto it = registry().find(name);
    if (it != registry().end()) factory = it->second.make;
  }
  if (!factory) {
    return Status::invalid_argument(fmt::format("--strategy '{}' is unknown (strategies: {})", name,
                                                join(strategy_names(), ", ")));
  }
  return factory(context);
}

namespace {

// A failure to parse `text` (which began on line `first_line` of the file)
// located in the file: a column of the canonical form becomes
// "SOURCE:LINE:COL: canonical form: what"; anything else "SOURCE:LINE: what".
Status locate(const Status& failure, const std::string& text, size_t first_line,
              const std::string& source) {
  const auto& at = failure.location();
  if (!at || at->file != "canonical form" || at->line != 0 || at->column <= 0) {
    return Status::at({source, static_cast<int>(first_line) + 1}, failure.message());
  }
  const size_t offset = std::min(text.size(), static_cast<size_t>(at->column) - 1);
  int line = static_cast<int>(first_line), col = 1;
  for (size_t k = 0; k < offset; ++k) {
    if (text[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return Status::at({source, line + 1, col}, "canonical form: " + failure.what());
}

}  // namespace

StatusOr<std::vector<Architecture>> parse_init(const Space& space,
                                               const std::vector<std::string>& file_lines,
                                               const std::string& source) {
  // The lines as an editor shows them: no UTF-8 byte order mark before the
  // first, no carriage return ending each (a file saved on Windows).
  std::vector<std::string> init = file_lines;
  if (!init.empty() && init[0].rfind("\xEF\xBB\xBF", 0) == 0) init[0].erase(0, 3);
  for (std::string& line : init) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
  }
  std::vector<Architecture> out;
  for (size_t i = 0; i < init.size(); ++i) {
    const size_t first = init[i].find_first_not_of(" \t\r");
    if (first == std::string::npos || init[i][first] == '#') continue;  // blank or comment
    // A key without the blanks around it.
    std::string text = init[i].substr(first, init[i].find_last_not_of(" \t\r") - first + 1);
    const size_t start = i;
    if (init[i][first] == '[') {
      // A canonical form may span lines (seed files): read to its closing
      // bracket; '#' comments are blanked so that columns stay put.
      text.clear();
      int depth = 0;
      for (; i < init.size(); ++i) {
        std::string line = init[i];
        const size_t hash = line.find('#');
        if (hash != std::string::npos)
          line.replace(hash, line.size() - hash, line.size() - hash, ' ');
        for (char ch : line) depth += ch == '[' ? 1 : ch == ']' ? -1 : 0;
        text += (text.empty() ? "" : "\n") + line;
        if (depth <= 0) break;
      }
      if (i == init.size()) i = init.size() - 1;
    }
    auto arch = space.parse(text);
    if (!arch.is_ok()) return locate(arch.status(), text, start, source);
    out.push_back(std::move(arch).value());
  }
  return out;
}

Architecture sample_by_priors(const Space& space, std::mt19937_64& rng) {
  return complete_by_priors(space, {}, rng);
}

}  // namespace sylva::search
