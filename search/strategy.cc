#include "search/strategy.h"

#include <fmt/format.h>

#include <mutex>
#include <regex>

#include "base/random.h"
#include "search/variation.h"

namespace sylva::search {
namespace {

std::map<std::string, StrategyFactory>& registry() {
  static std::map<std::string, StrategyFactory> r;
  return r;
}
std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}

}  // namespace

void register_strategy(const std::string& name, StrategyFactory factory) {
  std::lock_guard<std::mutex> lock(registry_mu());
  registry()[name] = std::move(factory);
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
    if (it != registry().end()) factory = it->second;
  }
  if (!factory) {
    return Status::error(fmt::format("--strategy '{}' is unknown (strategies: {})", name,
                                     join(strategy_names(), ", ")));
  }
  return factory(context);
}

namespace {

// "canonical form, column N: what" about `text` (which began on line
// `first_line` of the file) -> "SOURCE:LINE:COL: canonical form: what".
std::string locate(const std::string& message, const std::string& text, size_t first_line,
                   const std::string& source) {
  static const std::regex column(R"(^canonical form, column (\d+): )");
  std::smatch m;
  if (!std::regex_search(message, m, column)) {
    return fmt::format("{}:{}: {}", source, first_line + 1, message);
  }
  const size_t offset = std::min(text.size(), std::stoul(m[1].str()) - 1);
  size_t line = first_line, col = 1;
  for (size_t k = 0; k < offset; ++k) {
    if (text[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return fmt::format("{}:{}:{}: canonical form: {}", source, line + 1, col, m.suffix().str());
}

}  // namespace

StatusOr<std::vector<Architecture>> parse_init(const Space& space,
                                               const std::vector<std::string>& init,
                                               const std::string& source) {
  std::vector<Architecture> out;
  for (size_t i = 0; i < init.size(); ++i) {
    const size_t first = init[i].find_first_not_of(" \t\r");
    if (first == std::string::npos || init[i][first] == '#') continue;  // blank or comment
    std::string text = init[i];
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
    if (!arch.is_ok()) return Status::error(locate(arch.status().message(), text, start, source));
    out.push_back(std::move(arch).value());
  }
  return out;
}

Architecture sample_by_priors(const Space& space, std::mt19937_64& rng) {
  return complete_by_priors(space, {}, rng);
}

}  // namespace sylva::search
