#include "spaces/supernets/ofa/ofa_space.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "spaces/bracket.h"

namespace sylva::ofa {

OfaSpace::OfaSpace(std::string name, OfaSpec spec)
    : FamilySpace(std::move(name), std::move(spec), "ofa") {}

const std::vector<int64_t>& OfaSpace::values(char kind) const {
  switch (kind) {
    case 'r':
      return spec_.resolutions;
    case 'd':
      return spec_.depths;
    case 'k':
      return spec_.kernels;
    default:
      return spec_.expands;
  }
}

OfaSpace::Next OfaSpace::next(const std::vector<int>& prefix) const {
  size_t i = 0;
  // Whether decision i exists (and is legal for `kind`).
  auto taken = [&](char kind) {
    if (i == prefix.size()) return false;
    const int n = static_cast<int>(values(kind).size());
    if (prefix[i] < 0 || prefix[i] >= n) {
      throw std::invalid_argument(
          fmt::format("decision {} is {}, but it has {} choices", i, prefix[i], n));
    }
    ++i;
    return true;
  };
  if (!taken('r')) return {'r', 0, 0};
  for (int s = 0; s < static_cast<int>(spec_.widths.size()); ++s) {
    if (!taken('d')) return {'d', s, 0};
    const int64_t depth = spec_.depths[prefix[i - 1]];
    for (int b = 0; b < depth; ++b) {
      if (!taken('k')) return {'k', s, b};
      if (!taken('e')) return {'e', s, b};
    }
  }
  if (i < prefix.size()) {
    throw std::invalid_argument(fmt::format(
        "{} decisions given, but the configuration is complete after {}", prefix.size(), i));
  }
  return {};
}

OfaConfig OfaSpace::cheapest(const std::vector<int>& prefix) const {
  size_t i = 0;
  return walk_config(spec_, [&](char, const std::vector<int64_t>& v) {
    return i < prefix.size() ? v[prefix[i++]] : *std::min_element(v.begin(), v.end());
  });
}

Status OfaSpace::check_budgets() const { return smallest_fits(smallest(spec_)); }

std::vector<Choice> OfaSpace::choices(const std::vector<int>& prefix) const {
  const Next n = next(prefix);
  if (!n.kind) return {};
  const auto& v = values(n.kind);
  // Every cost grows with every choice, so the cheapest completion decides.
  std::vector<std::string> labels;
  for (int64_t x : v) labels.push_back(fmt::format("{}{}", n.kind, x));
  std::vector<int> with = prefix;
  with.push_back(0);
  return uniform_choices(labels, [&](size_t c) {
    with.back() = static_cast<int>(c);
    return fits(cheapest(with));
  });
}

StatusOr<Architecture> OfaSpace::make(const std::vector<int>& decisions) const {
  try {
    if (next(decisions).kind) return more_needed(decisions.size());
  } catch (const std::invalid_argument& e) {
    return not_a_configuration(e.what());
  }
  const OfaConfig c = cheapest(decisions);
  if (!fits(c)) return over_budget(c);
  std::vector<std::string> labels;
  size_t i = 0;
  auto label = [&](char kind) {
    std::string l = fmt::format("{}{}", kind, values(kind)[decisions[i++]]);
    labels.push_back(l);
    return l;
  };
  std::string canonical = "[ofa " + label('r');
  for (size_t s = 0; s < spec_.widths.size(); ++s) {
    const std::string d = label('d');
    canonical += " [stage " + d;
    const int64_t depth = std::stoll(d.substr(1));
    for (int64_t b = 0; b < depth; ++b) {
      const std::string k = label('k');
      canonical += " [block " + k + " " + label('e') + "]";
    }
    canonical += "]";
  }
  canonical += "]";
  return architecture(decisions, std::move(labels), std::move(canonical));
}

StatusOr<Architecture> OfaSpace::parse(const std::string& text) const {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '[') return parse_key_with_cursor(*this, text);
  auto tree = parse_bracket(text);
  if (!tree.is_ok()) return tree.status();
  std::vector<int> decisions;
  auto where = [](const BracketNode& n, const std::string& what) {
    return Status::at({"canonical form", 0, n.col}, what);
  };
  // An op label `kind` + value at child `c` of `n`.
  auto decide = [&](const BracketNode& n, size_t c, char kind) -> Status {
    if (c >= n.children.size() || !n.children[c].is_op) {
      return where(n, fmt::format("'[{} ...]' needs a '{}' label as item {}", n.name, kind, c + 1));
    }
    const BracketNode& op = n.children[c];
    const auto& v = values(kind);
    for (size_t k = 0; k < v.size(); ++k) {
      if (op.name == fmt::format("{}{}", kind, v[k])) {
        decisions.push_back(static_cast<int>(k));
        return Status::ok();
      }
    }
    std::vector<std::string> ok;
    for (int64_t x : v) ok.push_back(fmt::format("{}{}", kind, x));
    return where(op, fmt::format("'{}' is not one of {}", op.name, join(ok, ", ")));
  };
  const BracketNode& root = tree.value();
  if (root.is_op || root.name != "ofa") return where(root, "expected '[ofa ...]'");
  Status s = decide(root, 0, 'r');
  if (!s.is_ok()) return s;
  if (root.children.size() != spec_.widths.size() + 1) {
    return where(root, fmt::format("'[ofa ...]' has {} stages, got {}", spec_.widths.size(),
                                   root.children.size() - 1));
  }
  for (size_t st = 1; st < root.children.size(); ++st) {
    const BracketNode& stage = root.children[st];
    if (stage.is_op || stage.name != "stage") return where(stage, "expected '[stage ...]'");
    if (!(s = decide(stage, 0, 'd')).is_ok()) return s;
    const int64_t depth = spec_.depths[decisions.back()];
    if (static_cast<int64_t>(stage.children.size()) != depth + 1) {
      return where(stage, fmt::format("a stage of depth {} has {} blocks, got {}", depth, depth,
                                      stage.children.size() - 1));
    }
    for (size_t b = 1; b < stage.children.size(); ++b) {
      const BracketNode& block = stage.children[b];
      if (block.is_op || block.name != "block" || block.children.size() != 2) {
        return where(block, "expected '[block kK eE]'");
      }
      if (!(s = decide(block, 0, 'k')).is_ok() || !(s = decide(block, 1, 'e')).is_ok()) return s;
    }
  }
  return make(decisions);
}

std::vector<DecisionSlot> OfaSpace::slots(const std::vector<int>& decisions) const {
  std::vector<DecisionSlot> out(decisions.size());
  size_t i = 0;
  out.at(i) = {"resolution", 1};
  ++i;
  for (size_t s = 0; s < spec_.widths.size(); ++s) {
    const size_t at = i++;
    const int64_t depth = spec_.depths.at(decisions.at(at));
    for (int64_t b = 0; b < depth; ++b) {
      out.at(i) = {"kernel", static_cast<int>(i + 1)};
      ++i;
      out.at(i) = {"expand", static_cast<int>(i + 1)};
      ++i;
    }
    out[at] = {fmt::format("stage{}", s + 1), static_cast<int>(i)};
  }
  return out;
}

bool OfaSpace::subtree_closed(const std::vector<int>& prefix, int index) const {
  const Next n = next(prefix);
  if (!n.kind) return true;
  // Only a stage's depth opens a subtree: its blocks.
  const Next at = next(std::vector<int>(prefix.begin(), prefix.begin() + index));
  return at.kind != 'd' || n.stage > at.stage;
}

StatusOr<OfaConfig> OfaSpace::config(const std::vector<int>& decisions) const {
  auto arch = make(decisions);
  if (!arch.is_ok()) return arch.status();
  return cheapest(decisions);  // complete: every value is decided
}

StatusOr<std::vector<int>> OfaSpace::decisions(const OfaConfig& c) const {
  Status s = check_config(spec_, c);
  if (!s.is_ok()) return s;
  auto index = [](const std::vector<int64_t>& v, int64_t x) {
    return static_cast<int>(std::find(v.begin(), v.end(), x) - v.begin());
  };
  std::vector<int> out = {index(spec_.resolutions, c.resolution)};
  for (size_t st = 0; st < spec_.widths.size(); ++st) {
    out.push_back(index(spec_.depths, c.depth[st]));
    for (int64_t b = 0; b < c.depth[st]; ++b) {
      out.push_back(index(spec_.kernels, c.kernel[st][b]));
      out.push_back(index(spec_.expands, c.expand[st][b]));
    }
  }
  return out;
}

std::vector<double> OfaSpace::encode(const std::vector<int>& decisions) const {
  std::vector<double> out;
  auto one_hot = [&](const std::vector<int64_t>& values, int64_t v) {
    for (int64_t x : values) out.push_back(x == v ? 1.0 : 0.0);
  };
  auto c = config(decisions);
  if (!c.is_ok()) throw std::invalid_argument(c.status().message());
  const OfaConfig& k = c.value();
  one_hot(spec_.resolutions, k.resolution);
  const int64_t blocks = *std::max_element(spec_.depths.begin(), spec_.depths.end());
  for (size_t s = 0; s < spec_.widths.size(); ++s) {
    one_hot(spec_.depths, k.depth[s]);
    for (int64_t b = 0; b < blocks; ++b) {
      const bool on = b < k.depth[s];
      one_hot(spec_.kernels, on ? k.kernel[s][b] : 0);
      one_hot(spec_.expands, on ? k.expand[s][b] : 0);
    }
  }
  return out;
}

}  // namespace sylva::ofa
