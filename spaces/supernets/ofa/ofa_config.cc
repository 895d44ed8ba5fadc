#include "spaces/supernets/ofa/ofa_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "spaces/supernets/spec_words.h"

namespace sylva::ofa {
namespace {

int64_t most(const std::vector<int64_t>& v) { return *std::max_element(v.begin(), v.end()); }
int64_t least(const std::vector<int64_t>& v) { return *std::min_element(v.begin(), v.end()); }
bool allowed(const std::vector<int64_t>& v, int64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

OfaConfig walk_config(
    const OfaSpec& spec,
    const std::function<int64_t(char kind, const std::vector<int64_t>& values)>& pick) {
  OfaConfig c;
  c.resolution = pick('r', spec.resolutions);
  for (size_t s = 0; s < spec.widths.size(); ++s) {
    c.depth.push_back(pick('d', spec.depths));
    c.kernel.emplace_back();
    c.expand.emplace_back();
    for (int64_t b = 0; b < c.depth.back(); ++b) {
      c.kernel.back().push_back(pick('k', spec.kernels));
      c.expand.back().push_back(pick('e', spec.expands));
    }
  }
  return c;
}

OfaConfig largest(const OfaSpec& spec) {
  return walk_config(spec, [](char, const std::vector<int64_t>& v) { return most(v); });
}

OfaConfig smallest(const OfaSpec& spec) {
  return walk_config(spec, [](char, const std::vector<int64_t>& v) { return least(v); });
}

OfaConfig random_config(const OfaSpec& spec, std::mt19937_64& rng) {
  return walk_config(spec,
                     [&](char, const std::vector<int64_t>& v) { return v[rng() % v.size()]; });
}

Status check_config(const OfaSpec& spec, const OfaConfig& c) {
  auto bad = [](const std::string& what, int64_t got, const std::vector<int64_t>& ok) {
    return Status::invalid_argument(
        fmt::format("{} is {}, not one of {}", what, got, fmt::join(ok, ", ")));
  };
  if (!allowed(spec.resolutions, c.resolution)) {
    return bad("resolution", c.resolution, spec.resolutions);
  }
  const size_t stages = spec.widths.size();
  if (c.depth.size() != stages || c.kernel.size() != stages || c.expand.size() != stages) {
    return Status::invalid_argument(
        fmt::format("a configuration has {} stages, got {}", stages, c.depth.size()));
  }
  for (size_t s = 0; s < stages; ++s) {
    if (!allowed(spec.depths, c.depth[s])) {
      return bad(fmt::format("depth of stage {}", s + 1), c.depth[s], spec.depths);
    }
    if (static_cast<int64_t>(c.kernel[s].size()) != c.depth[s] ||
        static_cast<int64_t>(c.expand[s].size()) != c.depth[s]) {
      return Status::invalid_argument(
          fmt::format("stage {} has depth {} but {} kernels and {} expand ratios", s + 1,
                      c.depth[s], c.kernel[s].size(), c.expand[s].size()));
    }
    for (int64_t b = 0; b < c.depth[s]; ++b) {
      if (!allowed(spec.kernels, c.kernel[s][b])) {
        return bad(fmt::format("kernel of stage {} block {}", s + 1, b + 1), c.kernel[s][b],
                   spec.kernels);
      }
      if (!allowed(spec.expands, c.expand[s][b])) {
        return bad(fmt::format("expand ratio of stage {} block {}", s + 1, b + 1), c.expand[s][b],
                   spec.expands);
      }
    }
  }
  return Status::ok();
}

namespace {

struct SpecField {
  const char* key;
  std::vector<int64_t> OfaSpec::*list;
  int64_t OfaSpec::*value;
};

const SpecField kFields[] = {
    {"in", nullptr, &OfaSpec::in_channels},
    {"classes", nullptr, &OfaSpec::classes},
    {"stem", nullptr, &OfaSpec::stem},
    {"widths", &OfaSpec::widths, nullptr},
    {"strides", &OfaSpec::strides, nullptr},
    {"kernels", &OfaSpec::kernels, nullptr},
    {"expands", &OfaSpec::expands, nullptr},
    {"depths", &OfaSpec::depths, nullptr},
    {"resolutions", &OfaSpec::resolutions, nullptr},
    {"max-params", nullptr, &OfaSpec::max_params},
    {"max-macs", nullptr, &OfaSpec::max_macs},
};

}  // namespace

OfaCost cost(const OfaSpec& spec, const OfaConfig& c) {
  OfaCost out;
  int64_t size = c.resolution, in = spec.stem;
  out.params += spec.in_channels * spec.stem * 9 + 2 * spec.stem;
  out.macs += size * size * spec.in_channels * spec.stem * 9;
  for (size_t s = 0; s < spec.widths.size(); ++s) {
    for (int64_t b = 0; b < c.depth[s]; ++b) {
      const int64_t out_ch = spec.widths[s], stride = b == 0 ? spec.strides[s] : 1;
      const int64_t hidden = in * c.expand[s][b], k = c.kernel[s][b];
      const int64_t next = (size - 1) / stride + 1;
      out.params += in * hidden + hidden * k * k + hidden * out_ch + 2 * (2 * hidden + out_ch);
      out.macs += size * size * in * hidden + next * next * hidden * (k * k + out_ch);
      size = next;
      in = out_ch;
    }
  }
  out.params += in * spec.classes + spec.classes;
  out.macs += in * spec.classes;
  return out;
}

std::string spec_text(const OfaSpec& spec) {
  std::string out = "ofa";
  for (const SpecField& f : kFields) {
    if (!f.list && spec.*f.value == 0) continue;  // a budget not set
    out += fmt::format(
        " {}={}", f.key,
        f.list ? fmt::format("{}", fmt::join(spec.*f.list, ",")) : std::to_string(spec.*f.value));
  }
  return out;
}

StatusOr<OfaSpec> parse_spec(const std::string& text) {
  std::vector<std::string> keys;
  for (const SpecField& f : kFields) keys.push_back(f.key);
  auto words = parse_spec_words(text, "ofa", keys);
  if (!words.is_ok()) return words.status();
  OfaSpec spec;
  for (const SpecField& f : kFields) {
    auto it = words.value().find(f.key);
    if (it == words.value().end()) continue;
    if (f.list) {
      spec.*f.list = it->second;
    } else if (it->second.size() != 1) {
      return Status::invalid_argument(fmt::format("ofa spec: {} takes one integer", f.key));
    } else {
      spec.*f.value = it->second[0];
    }
  }
  if (spec.widths.size() != spec.strides.size()) {
    return Status::invalid_argument(
        fmt::format("ofa spec: {} widths but {} strides", spec.widths.size(), spec.strides.size()));
  }
  return spec;
}

}  // namespace sylva::ofa
