#include "spaces/supernets/stitch/stitch_space.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "spaces/supernets/sorted/sorted_space.h"
#include "spaces/supernets/spec_words.h"

namespace sylva::stitch {
StitchCost cost(const StitchSpec& s, const StitchConfig& c) {
  // The anchors are `sorted` networks: their pieces cost what sorted's do.
  const int64_t da = s.dims.at(c.from), db = s.dims.at(c.to);
  const int64_t split = c.from == c.to ? s.depth : c.position;
  sorted::SortedCost k = sorted::stem_cost(s.in_channels, da, s.size);
  for (int64_t l = 0; l < s.depth; ++l) {
    const int64_t d = l < split ? da : db;
    k += sorted::block_cost(d, s.expand * d, s.size);
  }
  k += sorted::head_cost(db, s.classes);
  if (c.from != c.to) {
    const int64_t h = (s.size + 1) / 2;
    k += {da * db + db, h * h * da * db};
  }
  return {k.params, k.macs};
}

std::vector<StitchConfig> routes(const StitchSpec& s) {
  std::vector<StitchConfig> out;
  const int k = static_cast<int>(s.dims.size());
  for (int a = 0; a < k; ++a) out.push_back({a, a, 0});
  for (int a = 0; a + 1 < k; ++a) {
    out.push_back({a, a + 1, 0});
    out.push_back({a + 1, a, 0});
  }
  return out;
}

std::vector<StitchConfig> all_configs(const StitchSpec& s) {
  std::vector<StitchConfig> out;
  for (const StitchConfig& r : routes(s)) {
    if (r.from == r.to) {
      out.push_back(r);
      continue;
    }
    for (int64_t p = 1; p < s.depth; ++p) out.push_back({r.from, r.to, p});
  }
  return out;
}

std::string spec_text(const StitchSpec& s) {
  std::string out =
      fmt::format("stitch in={} classes={} size={} depth={} dims={} expand={}", s.in_channels,
                  s.classes, s.size, s.depth, fmt::join(s.dims, ","), s.expand);
  if (s.max_params) out += fmt::format(" max-params={}", s.max_params);
  if (s.max_macs) out += fmt::format(" max-macs={}", s.max_macs);
  return out;
}

StatusOr<StitchSpec> parse_spec(const std::string& text) {
  auto words = parse_spec_words(
      text, "stitch",
      {"in", "classes", "size", "depth", "dims", "expand", "max-params", "max-macs"});
  if (!words.is_ok()) return words.status();
  StitchSpec s;
  for (const auto& [key, v] : words.value()) {
    if (key == "dims") {
      if (v.size() < 2 || !std::is_sorted(v.begin(), v.end())) {
        return Status::invalid_argument("stitch spec: dims takes 2 or more ascending widths");
      }
      s.dims = v;
      continue;
    }
    if (v.size() != 1)
      return Status::invalid_argument(fmt::format("stitch spec: {} takes one integer", key));
    int64_t* field = key == "in"           ? &s.in_channels
                     : key == "classes"    ? &s.classes
                     : key == "size"       ? &s.size
                     : key == "depth"      ? &s.depth
                     : key == "expand"     ? &s.expand
                     : key == "max-params" ? &s.max_params
                                           : &s.max_macs;
    *field = v[0];
  }
  if (s.depth < 2) return Status::invalid_argument("stitch spec: depth must be >= 2");
  return s;
}

StitchSpace::StitchSpace(std::string name, StitchSpec spec)
    : FamilySpace(std::move(name), std::move(spec), "stitch"), routes_(routes(spec_)) {}

std::string StitchSpace::route_label(const StitchConfig& r) const {
  return r.from == r.to ? fmt::format("a{}", r.from) : fmt::format("s{}-{}", r.from, r.to);
}

Status StitchSpace::check_budgets() const {
  for (const StitchConfig& c : all_configs(spec_)) {
    if (fits(c)) return Status::ok();
  }
  return Status::invalid_argument(
      fmt::format("no configuration of '{}' fits the budget (max-params {}, max-macs {})", name_,
                  spec_.max_params, spec_.max_macs));
}

std::vector<Choice> StitchSpace::choices(const std::vector<int>& prefix) const {
  std::vector<StitchConfig> options;
  std::vector<std::string> labels;
  if (prefix.empty()) {
    for (const StitchConfig& r : routes_) {
      labels.push_back(route_label(r));
      options.push_back(r);
    }
  } else {
    if (prefix[0] < 0 || prefix[0] >= static_cast<int>(routes_.size())) {
      throw std::invalid_argument(
          fmt::format("decision 0 is {}, but it has {} choices", prefix[0], routes_.size()));
    }
    const StitchConfig r = routes_[prefix[0]];
    if (r.from == r.to || prefix.size() == 2) {
      if (prefix.size() > (r.from == r.to ? 1u : 2u)) {
        throw std::invalid_argument(
            fmt::format("{} decisions given, but the configuration is complete after {}",
                        prefix.size(), r.from == r.to ? 1 : 2));
      }
      if (prefix.size() == 2 && (prefix[1] < 0 || prefix[1] >= spec_.depth - 1)) {
        throw std::invalid_argument(
            fmt::format("decision 1 is {}, but it has {} choices", prefix[1], spec_.depth - 1));
      }
      return {};
    }
    if (prefix.size() > 2) {
      throw std::invalid_argument(fmt::format(
          "{} decisions given, but the configuration is complete after 2", prefix.size()));
    }
    for (int64_t p = 1; p < spec_.depth; ++p) {
      labels.push_back(fmt::format("p{}", p));
      options.push_back({r.from, r.to, p});
    }
  }
  // A route is open when one of its configurations fits the budgets.
  return uniform_choices(labels, [&](size_t i) {
    const StitchConfig& o = options[i];
    if (!prefix.empty() || o.from == o.to) return fits(o);
    for (int64_t p = 1; p < spec_.depth; ++p) {
      if (fits({o.from, o.to, p})) return true;
    }
    return false;
  });
}

StatusOr<StitchConfig> StitchSpace::config(const std::vector<int>& decisions) const {
  try {
    if (!choices(decisions).empty() || decisions.empty()) return more_needed(decisions.size());
  } catch (const std::invalid_argument& e) {
    return not_a_configuration(e.what());
  }
  StitchConfig c = routes_[decisions[0]];
  if (c.from != c.to) c.position = decisions[1] + 1;
  if (!fits(c)) return over_budget(c);
  return c;
}

StatusOr<Architecture> StitchSpace::make(const std::vector<int>& decisions) const {
  auto c = config(decisions);
  if (!c.is_ok()) return c.status();
  std::vector<std::string> labels = {route_label(routes_[decisions[0]])};
  if (c.value().from != c.value().to) labels.push_back(fmt::format("p{}", c.value().position));
  return flat_architecture(decisions, std::move(labels));
}

StatusOr<std::vector<int>> StitchSpace::decisions(const StitchConfig& c) const {
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].from != c.from || routes_[i].to != c.to) continue;
    if (c.from == c.to) return std::vector<int>{static_cast<int>(i)};
    if (c.position < 1 || c.position >= spec_.depth) {
      return Status::invalid_argument(
          fmt::format("stitch position is {}, not one of 1..{}", c.position, spec_.depth - 1));
    }
    return std::vector<int>{static_cast<int>(i), static_cast<int>(c.position - 1)};
  }
  return Status::invalid_argument(fmt::format(
      "anchors {} -> {} are not a route of '{}': anchors 0..{}, stitched to a neighbour", c.from,
      c.to, name_, spec_.dims.size() - 1));
}

StatusOr<Architecture> StitchSpace::parse(const std::string& text) const {
  return parse_flat(text, "'a1', 's0-1', 'p3'");
}

std::vector<DecisionSlot> StitchSpace::slots(const std::vector<int>& decisions) const {
  std::vector<DecisionSlot> out;
  for (size_t i = 0; i < decisions.size(); ++i) {
    out.push_back(i == 0 ? DecisionSlot{"route", static_cast<int>(decisions.size())}
                         : DecisionSlot{"position", static_cast<int>(i + 1)});
  }
  return out;
}

std::vector<double> StitchSpace::encode(const std::vector<int>& decisions) const {
  std::vector<double> out(routes_.size() + static_cast<size_t>(spec_.depth - 1), 0.0);
  out.at(decisions.at(0)) = 1;
  if (decisions.size() > 1) out.at(routes_.size() + decisions[1]) = 1;
  return out;
}

}  // namespace sylva::stitch
