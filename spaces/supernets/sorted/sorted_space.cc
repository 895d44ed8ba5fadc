#include "spaces/supernets/sorted/sorted_space.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "spaces/supernets/spec_words.h"

namespace sylva::sorted {
namespace {

int64_t least(const std::vector<int64_t>& v) { return *std::min_element(v.begin(), v.end()); }
int64_t index_of(const std::vector<int64_t>& v, int64_t x) {
  auto it = std::find(v.begin(), v.end(), x);
  return it == v.end() ? -1 : it - v.begin();
}

}  // namespace

SortedCost stem_cost(int64_t in_channels, int64_t dim, int64_t size) {
  const int64_t h = (size + 1) / 2;
  return {in_channels * dim * 9 + 2 * dim, h * h * in_channels * dim * 9};
}

SortedCost block_cost(int64_t dim, int64_t width, int64_t size) {
  const int64_t h = (size + 1) / 2;
  return {dim * 49 + 2 * dim + dim * width + 2 * width + width * dim + 2 * dim,
          h * h * (dim * 49 + 2 * dim * width)};
}

SortedCost head_cost(int64_t dim, int64_t classes) {
  return {dim * classes + classes, dim * classes};
}

SortedCost cost(const SortedSpec& spec, const SortedConfig& c) {
  SortedCost out = stem_cost(spec.in_channels, spec.dim, spec.size);
  for (int64_t l = 0; l < c.depth; ++l) out += block_cost(spec.dim, c.width[l], spec.size);
  out += head_cost(spec.dim, spec.classes);
  return out;
}

bool within(const SortedSpec& spec, const SortedConfig& c, int64_t max_params, int64_t max_macs) {
  const SortedCost k = cost(spec, c);
  return (max_params <= 0 || k.params <= max_params) && (max_macs <= 0 || k.macs <= max_macs);
}

SortedConfig nested(int64_t depth, int64_t width) {
  return {depth, std::vector<int64_t>(static_cast<size_t>(depth), width)};
}

std::vector<SortedConfig> ladder(const SortedSpec& spec) {
  std::vector<SortedConfig> out;
  for (int64_t d : spec.depths) {
    for (int64_t w : spec.widths) out.push_back(nested(d, w));
  }
  std::stable_sort(out.begin(), out.end(), [&](const SortedConfig& a, const SortedConfig& b) {
    return cost(spec, a).macs < cost(spec, b).macs;
  });
  return out;
}

std::optional<SortedConfig> largest_nested_within(const SortedSpec& spec, int64_t max_params,
                                                  int64_t max_macs) {
  std::optional<SortedConfig> best;
  for (const SortedConfig& c : ladder(spec)) {
    // The ladder is cheapest first: the last that fits is the largest.
    if (within(spec, c, max_params, max_macs)) best = c;
  }
  return best;
}

std::string spec_text(const SortedSpec& s) {
  std::string out =
      fmt::format("sorted in={} classes={} size={} dim={} depths={} widths={}", s.in_channels,
                  s.classes, s.size, s.dim, fmt::join(s.depths, ","), fmt::join(s.widths, ","));
  if (s.max_params) out += fmt::format(" max-params={}", s.max_params);
  if (s.max_macs) out += fmt::format(" max-macs={}", s.max_macs);
  return out;
}

StatusOr<SortedSpec> parse_spec(const std::string& text) {
  auto words = parse_spec_words(
      text, "sorted",
      {"in", "classes", "size", "dim", "depths", "widths", "max-params", "max-macs"});
  if (!words.is_ok()) return words.status();
  SortedSpec s;
  for (const auto& [key, v] : words.value()) {
    if (key == "depths" || key == "widths") {
      std::vector<int64_t> sorted = v;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      (key == "depths" ? s.depths : s.widths) = sorted;
      continue;
    }
    if (v.size() != 1)
      return Status::invalid_argument(fmt::format("sorted spec: {} takes one integer", key));
    int64_t* field = key == "in"           ? &s.in_channels
                     : key == "classes"    ? &s.classes
                     : key == "size"       ? &s.size
                     : key == "dim"        ? &s.dim
                     : key == "max-params" ? &s.max_params
                                           : &s.max_macs;
    *field = v[0];
  }
  return s;
}

SortedSpace::SortedSpace(std::string name, SortedSpec spec)
    : FamilySpace(std::move(name), std::move(spec), "sorted") {}

char SortedSpace::next(const std::vector<int>& prefix) const {
  auto check = [&](size_t i, size_t n) {
    if (prefix[i] < 0 || prefix[i] >= static_cast<int>(n)) {
      throw std::invalid_argument(
          fmt::format("decision {} is {}, but it has {} choices", i, prefix[i], n));
    }
  };
  if (prefix.empty()) return 'd';
  check(0, spec_.depths.size());
  const size_t depth = static_cast<size_t>(spec_.depths[prefix[0]]);
  for (size_t i = 1; i < prefix.size() && i <= depth; ++i) check(i, spec_.widths.size());
  if (prefix.size() > depth + 1) {
    throw std::invalid_argument(
        fmt::format("{} decisions given, but the configuration is complete after {}", prefix.size(),
                    depth + 1));
  }
  return prefix.size() == depth + 1 ? 0 : 'w';
}

SortedConfig SortedSpace::cheapest(const std::vector<int>& prefix) const {
  SortedConfig c;
  c.depth = prefix.empty() ? least(spec_.depths) : spec_.depths[prefix[0]];
  for (int64_t l = 0; l < c.depth; ++l) {
    const size_t i = static_cast<size_t>(l) + 1;
    c.width.push_back(i < prefix.size() ? spec_.widths[prefix[i]] : least(spec_.widths));
  }
  return c;
}

bool SortedSpace::fits(const SortedConfig& c) const {
  return within(spec_, c, spec_.max_params, spec_.max_macs);
}

Status SortedSpace::check_budgets() const { return smallest_fits(cheapest({})); }

std::vector<Choice> SortedSpace::choices(const std::vector<int>& prefix) const {
  const char kind = next(prefix);
  if (!kind) return {};
  const auto& v = kind == 'd' ? spec_.depths : spec_.widths;
  std::vector<std::string> labels;
  for (int64_t x : v) labels.push_back(fmt::format("{}{}", kind, x));
  std::vector<int> with = prefix;
  with.push_back(0);
  return uniform_choices(labels, [&](size_t c) {
    with.back() = static_cast<int>(c);
    return fits(cheapest(with));
  });
}

StatusOr<Architecture> SortedSpace::make(const std::vector<int>& decisions) const {
  try {
    if (next(decisions)) return more_needed(decisions.size());
  } catch (const std::invalid_argument& e) {
    return not_a_configuration(e.what());
  }
  const SortedConfig c = cheapest(decisions);
  if (!fits(c)) return over_budget(c);
  std::vector<std::string> labels = {fmt::format("d{}", c.depth)};
  for (int64_t w : c.width) labels.push_back(fmt::format("w{}", w));
  return flat_architecture(decisions, std::move(labels));
}

StatusOr<SortedConfig> SortedSpace::config(const std::vector<int>& decisions) const {
  auto arch = make(decisions);
  if (!arch.is_ok()) return arch.status();
  return cheapest(decisions);
}

StatusOr<std::vector<int>> SortedSpace::decisions(const SortedConfig& c) const {
  const int64_t d = index_of(spec_.depths, c.depth);
  if (d < 0) {
    return Status::invalid_argument(
        fmt::format("depth is {}, not one of {}", c.depth, fmt::join(spec_.depths, ", ")));
  }
  if (static_cast<int64_t>(c.width.size()) != c.depth) {
    return Status::invalid_argument(
        fmt::format("depth {} needs {} widths, got {}", c.depth, c.depth, c.width.size()));
  }
  std::vector<int> out = {static_cast<int>(d)};
  for (size_t l = 0; l < c.width.size(); ++l) {
    const int64_t w = index_of(spec_.widths, c.width[l]);
    if (w < 0) {
      return Status::invalid_argument(fmt::format("width of block {} is {}, not one of {}", l + 1,
                                                  c.width[l], fmt::join(spec_.widths, ", ")));
    }
    out.push_back(static_cast<int>(w));
  }
  return out;
}

StatusOr<Architecture> SortedSpace::parse(const std::string& text) const {
  return parse_flat(text, "'d4', 'w128'");
}

std::vector<DecisionSlot> SortedSpace::slots(const std::vector<int>& decisions) const {
  // The depth opens everything after it; each width is its own subtree.
  std::vector<DecisionSlot> out;
  for (size_t i = 0; i < decisions.size(); ++i) {
    out.push_back(i == 0 ? DecisionSlot{"depth", static_cast<int>(decisions.size())}
                         : DecisionSlot{"width", static_cast<int>(i + 1)});
  }
  return out;
}

std::vector<double> SortedSpace::encode(const std::vector<int>& decisions) const {
  std::vector<double> out(spec_.depths.size(), 0.0);
  out[decisions.at(0)] = 1;
  const int64_t blocks = *std::max_element(spec_.depths.begin(), spec_.depths.end());
  for (int64_t l = 0; l < blocks; ++l) {
    const size_t at = out.size();
    out.resize(at + spec_.widths.size(), 0.0);
    if (static_cast<size_t>(l) + 1 < decisions.size()) out[at + decisions[l + 1]] = 1;
  }
  return out;
}

}  // namespace sylva::sorted
