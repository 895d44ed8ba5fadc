// `sylva sample`: architectures drawn from a space by its priors, with the
// parameters and FLOPs of the network each one builds.
#include <fmt/format.h>

#include <optional>

#include "base/random.h"
#include "cli/options.h"
#include "cli/verbs.h"
#include "evaluators/train/model_tools.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "search/strategy.h"
#include "spaces/hparam_space.h"

namespace sylva::cli {
namespace {

int run_sample(int argc, char** argv) {
  Begun begun = begin_verb("sample", argc, argv);
  if (begun.exit_code >= 0) return begun.exit_code;
  auto& v = begun.options.values;
  if (!v.count("count")) v["count"] = "5";
  experiments::ExperimentConfig c;
  c.options = v;
  auto n = c.integer("count", 1);
  if (!n.is_ok()) return fail(n.status());
  auto seed = c.integer("seed", 0);
  if (!seed.is_ok()) return fail(seed.status());
  auto classes = c.integer("classes", 1);
  if (!classes.is_ok()) return fail(classes.status());
  auto shape = evaluators::parse_input_shape(v["input-shape"], classes.value());
  if (!shape.is_ok()) return fail(shape.status());
  auto space = make_space_with_hparams(v["space"], v["hparam"]);
  if (!space.is_ok()) return fail(space.status());
  SpaceTarget target{shape.value().channels, shape.value().height, shape.value().width,
                     shape.value().classes};
  auto max_nodes = c.integer_or("max-nodes", 1, -1);
  if (!max_nodes.is_ok()) return fail(max_nodes.status());
  auto max_params = c.integer_or("max-params", 1, -1);
  if (!max_params.is_ok()) return fail(max_params.status());
  auto max_flops = c.integer_or("max-flops", 1, -1);
  if (!max_flops.is_ok()) return fail(max_flops.status());
  target.max_nodes = max_nodes.value();
  target.max_params = max_params.value();
  target.max_flops = max_flops.value();
  auto retargeted = retarget_space(*space.value(), target);
  if (!retargeted.is_ok()) return fail(retargeted.status());
  if (retargeted.value()) space = std::move(retargeted);

  experiments::Table table;
  table.columns = {"key", "canonical", "params", "flops"};
  for (int64_t i = 0; i < n.value(); ++i) {
    Rng rng(mix_seed(static_cast<uint64_t>(seed.value()), static_cast<uint64_t>(i)));
    Architecture arch = search::sample_by_priors(*space.value(), rng);
    // Spaces that know their costs (supernet configurations: MACs as flops).
    const auto known = space.value()->known_metrics(arch.decisions);
    if (known.count("params") && known.count("flops")) {
      table.rows.push_back({arch.key, arch.canonical, static_cast<int64_t>(known.at("params")),
                            static_cast<int64_t>(known.at("flops"))});
      continue;
    }
    // The network is the inner space's (hyperparameters build nothing).
    const HparamSplit split = split_hparams(*space.value(), arch);
    auto cost = evaluators::measure_architecture(*split.space, split.arch, shape.value());
    if (!cost.is_ok()) return fail(cost.status());
    table.rows.push_back({arch.key, arch.canonical, cost.value().params, cost.value().flops});
  }
  auto text = experiments::render(table, v.count("format") ? v["format"] : "table");
  if (!text.is_ok()) return fail(text.status());
  fmt::print("{}", text.value());
  return 0;
}

}  // namespace

void register_sample_verb() {
  register_verb({"sample",
                 "sample architectures from a space",
                 "usage: sylva sample --space S [--hparam NAME=V1,V2,...] [-n N] [--seed S] [-f "
                 "table|json|csv]",
                 accepts_names({"space", "max-nodes", "max-params", "max-flops", "seed", "format",
                                "count", "input-shape", "classes", "hparam"}),
                 run_sample,
                 /*listed=*/true,
                 {}});
}

}  // namespace sylva::cli
