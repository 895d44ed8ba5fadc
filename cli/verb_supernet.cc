// `sylva supernet train`: trains a weight-sharing supernet on the dataset and
// writes it to a file; prints the accuracy of its largest and smallest
// sub-networks (after batch-norm recalibration) on held-out images. The run
// checkpoints to OUT.ckpt; the same command run again after a kill resumes
// from it, and a finished run removes it.
// `sylva supernet select`: search-free selection for a budget in a `sorted`
// supernet: the largest nested configuration within --max-flops/--max-params.
// `sylva supernet sweep`: every configuration of the family's sweep (sorted:
// the nested ladder; stitch: all of them) scored with inherited weights after
// batch-norm recalibration: the accuracy-FLOPs curve and its Pareto front.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/options.h"
#include "cli/verbs.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "evaluators/train/idx_dataset.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "search/pareto.h"
#include "spaces/supernets/ofa/ofa_config.h"
#include "spaces/supernets/sorted/sorted_space.h"
#include "spaces/supernets/stitch/stitch_space.h"
#include "spaces/supernets/supernet.h"

namespace sylva::cli {

namespace {

const char* const kUsage =
    "usage: sylva supernet train --family ofa|sorted|stitch --out FILE "
    "[--schedule progressive|sandwich|nested|deps|stitch] [options]\n"
    "       sylva supernet select --space supernet:FILE [--max-flops N] [--max-params N]\n"
    "       sylva supernet sweep --space supernet:FILE [--val-samples N] [--test-samples N] "
    "[-f table|csv|json]";

// The options of `supernet select|sweep`: an exit code when the command ends
// here (help, a bad option, no --space supernet:FILE), else -1.
int parse_space_verb(const std::string& verb, int argc, char** argv, ParsedOptions& out) {
  auto parsed = parse_options(kSupernetSelect, "supernet " + verb, argc, argv);
  if (!parsed.is_ok()) return fail(parsed.status(), 2);
  out = std::move(parsed).value();
  if (out.help) {
    fmt::print("{}\n\n{}", kUsage, options_help(kSupernetSelect));
    return 0;
  }
  if (!out.given.count("space") || out.values["space"].rfind("supernet:", 0) != 0) {
    return fail(Status::error("supernet " + verb + " needs --space supernet:FILE"), 2);
  }
  return -1;
}

int run_select(int argc, char** argv) {
  ParsedOptions parsed;
  if (int code = parse_space_verb("select", argc, argv, parsed); code >= 0) return code;
  auto& v = parsed.values;
  auto spec = read_supernet_spec(v["space"].substr(9));
  if (!spec.is_ok()) return fail(Status::error("--space " + spec.status().message()));
  if (spec.value().rfind("sorted ", 0) != 0) {
    return fail(Status::error(fmt::format(
                    "supernet select picks among nested models (family sorted); '{}' is a {} "
                    "supernet: search it with sylva search --evaluator supernet",
                    v["space"], spec.value().substr(0, spec.value().find(' ')))),
                2);
  }
  experiments::ExperimentConfig c;
  c.options = v;
  auto max_params = c.integer_or("max-params", 1, 0);
  auto max_flops = c.integer_or("max-flops", 1, 0);
  for (const Status& s : {max_params.status(), max_flops.status()}) {
    if (!s.is_ok()) return fail(s, 2);
  }
  const sorted::SortedSpec sspec = sorted::parse_spec(spec.value()).value();
  auto picked = sorted::largest_nested_within(sspec, max_params.value(), max_flops.value());
  if (!picked) {
    const sorted::SortedCost k = sorted::cost(sspec, sorted::ladder(sspec).front());
    return fail(Status::error(
        fmt::format("no nested model fits: the smallest has {} parameters and {} flops (MACs)",
                    k.params, k.macs)));
  }
  const sorted::SortedSpace space(v["space"], sspec);
  const Architecture arch = space.make(space.decisions(*picked).value()).value();
  const sorted::SortedCost k = sorted::cost(sspec, *picked);
  const std::vector<sorted::SortedConfig> steps = sorted::ladder(sspec);
  const auto fit = std::count_if(steps.begin(), steps.end(), [&](const sorted::SortedConfig& n) {
    return sorted::within(sspec, n, max_params.value(), max_flops.value());
  });
  fmt::print("{}\n{}\nparams {}  flops {}  ({} of {} nested models fit)\n", arch.key,
             arch.canonical, k.params, k.macs, fit, steps.size());
  return 0;
}

int run_sweep(int argc, char** argv) {
  ParsedOptions parsed;
  if (int code = parse_space_verb("sweep", argc, argv, parsed); code >= 0) return code;
  auto& v = parsed.values;
  auto loaded = load_supernet(v["space"].substr(9));
  if (!loaded.is_ok()) return fail(Status::error("--space " + loaded.status().message()));
  Supernet& net = *loaded.value();
  const std::vector<std::vector<int>> configs = net.sweep();
  if (configs.empty()) {
    return fail(Status::error(fmt::format(
                    "an {} supernet has no sweep (too many configurations): search it with sylva "
                    "search --space {} --evaluator supernet",
                    net.family(), v["space"])),
                2);
  }
  experiments::ExperimentConfig c;
  c.options = v;
  auto val = c.integer("val-samples", 1);
  auto test = c.integer("test-samples", 0);
  auto calibration = c.integer("calibration-samples", 1);
  auto max_params = c.integer_or("max-params", 1, 0);
  auto max_flops = c.integer_or("max-flops", 1, 0);
  for (const Status& s : {val.status(), test.status(), calibration.status(), max_params.status(),
                          max_flops.status()}) {
    if (!s.is_ok()) return fail(s, 2);
  }
  // The budgets keep the configurations within them.
  std::vector<std::vector<int>> kept;
  for (const auto& d : configs) {
    const auto cost = net.space().known_metrics(d);
    if ((max_params.value() <= 0 || cost.at("params") <= max_params.value()) &&
        (max_flops.value() <= 0 || cost.at("flops") <= max_flops.value())) {
      kept.push_back(d);
    }
  }
  if (kept.empty()) {
    return fail(Status::error("no configuration of the sweep is within --max-params/--max-flops"),
                2);
  }
  auto data = evaluators::load_idx_dataset(v["dataset"].empty() ? evaluators::kDefaultDatasetDir
                                                                : v["dataset"]);
  if (!data.is_ok()) return fail(data.status());
  const evaluators::Dataset& d = data.value();
  const int64_t calib_n = calibration.value();
  if (val.value() + calib_n > d.train_images.size(0)) {
    return fail(Status::error(fmt::format(
                    "--val-samples {} plus {} calibration images exceed the {} training images",
                    val.value(), calib_n, d.train_images.size(0))),
                2);
  }
  const int64_t test_n =
      test.value() > 0 ? std::min(test.value(), d.test_images.size(0)) : d.test_images.size(0);
  const at::Tensor val_x = d.train_images.narrow(0, 0, val.value());
  const at::Tensor val_y = d.train_labels.narrow(0, 0, val.value());
  const at::Tensor calib = d.train_images.narrow(0, val.value(), calib_n);
  const at::Tensor test_x = d.test_images.narrow(0, 0, test_n);
  const at::Tensor test_y = d.test_labels.narrow(0, 0, test_n);
  struct Row {
    std::string key;
    double params, flops, val_acc, test_acc;
  };
  std::vector<Row> rows;
  std::vector<std::vector<double>> points;
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto cost = net.space().known_metrics(kept[i]);
    activate_recalibrated(net, kept[i], calib);
    Row r{net.space().make(kept[i]).value().key, cost.at("params"), cost.at("flops"),
          accuracy(net, val_x, val_y), accuracy(net, test_x, test_y)};
    rows.push_back(r);
    points.push_back({r.val_acc, -r.flops});
    fmt::print(stderr, "\r  {}/{} configurations", i + 1, kept.size());
  }
  fmt::print(stderr, "\n");
  const std::vector<int> ranks = search::pareto_ranks(points);
  experiments::Table table;
  table.columns = {"key", "params", "flops", "val_acc", "test_acc", "front"};
  int front = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    front += ranks[i] == 0;
    table.rows.push_back({rows[i].key, rows[i].params, rows[i].flops,
                          std::round(rows[i].val_acc * 100) / 100,
                          std::round(rows[i].test_acc * 100) / 100, ranks[i] == 0 ? "*" : ""});
  }
  auto text = experiments::render(table, v.count("format") ? v["format"] : "table");
  if (!text.is_ok()) return fail(text.status(), 2);
  fmt::print("{}", text.value());
  if (!v.count("format") || v["format"] == "table") {
    fmt::print("{} configurations, {} on the Pareto front of val_acc against flops\n", rows.size(),
               front);
  }
  return 0;
}

}  // namespace

int run_supernet(int argc, char** argv) {
  const std::string usage = kUsage;
  if (argc >= 2 && std::string(argv[1]) == "select") return run_select(argc - 1, argv + 1);
  if (argc >= 2 && std::string(argv[1]) == "sweep") return run_sweep(argc - 1, argv + 1);
  if (argc < 2 || std::string(argv[1]) != "train") {
    if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
      fmt::print("{}\n\n{}", usage, options_help(kSupernet));
      return 0;
    }
    return fail(Status::error(fmt::format("supernet: expected train, select or sweep, got '{}'",
                                          argc >= 2 ? argv[1] : "")),
                2);
  }
  auto parsed = parse_options(kSupernet, "supernet train", argc - 1, argv + 1);
  if (!parsed.is_ok()) return fail(parsed.status(), 2);
  auto& v = parsed.value().values;
  if (parsed.value().help) {
    fmt::print("{}\n\n{}", usage, options_help(kSupernet));
    return 0;
  }
  const std::string family = v["family"];
  if (family != "ofa" && family != "sorted" && family != "stitch") {
    return fail(
        Status::error(fmt::format("--family must be ofa, sorted or stitch, got '{}'", family)), 2);
  }
  if (!v.count("out") || v["out"].empty()) return fail(Status::error("--out FILE is required"), 2);
  if (v["schedule"].empty()) {
    v["schedule"] = family == "sorted" ? "nested" : family == "stitch" ? "stitch" : "sandwich";
  }
  experiments::ExperimentConfig c;
  c.options = v;
  evaluators::SupernetTrainOptions o;
  o.schedule = v["schedule"];
  auto epochs = c.integer("epochs", 1);
  auto batch = c.integer("batch-size", 1);
  auto subnets = c.integer("random-subnets", 0);
  auto seed = c.integer("seed", 0);
  auto train_samples = c.integer("train-samples", 0);
  auto val_samples = c.integer("val-samples", 1);
  auto lr = c.real("lr", 0);
  auto shrink = c.real("shrink-start", 0);
  auto every = c.integer("checkpoint-every", 1);
  for (const Status& s :
       {epochs.status(), batch.status(), subnets.status(), seed.status(), train_samples.status(),
        val_samples.status(), lr.status(), shrink.status(), every.status()}) {
    if (!s.is_ok()) return fail(s, 2);
  }
  o.epochs = epochs.value();
  o.batch_size = batch.value();
  o.random_subnets = static_cast<int>(subnets.value());
  o.seed = static_cast<uint64_t>(seed.value());
  o.lr = lr.value();
  o.shrink_start = shrink.value();
  Status checked = evaluators::check_supernet_options(o);
  if (!checked.is_ok()) return fail(checked, 2);

  const std::string dir = v["dataset"].empty() ? evaluators::kDefaultDatasetDir : v["dataset"];
  auto data = evaluators::load_idx_dataset(dir);
  if (!data.is_ok()) return fail(data.status());
  const at::Tensor& all_x = data.value().train_images;
  const at::Tensor& all_y = data.value().train_labels;
  const int64_t n = all_x.size(0);
  if (val_samples.value() >= n) {
    return fail(Status::error(fmt::format("--val-samples {} leaves no training images of {}",
                                          val_samples.value(), n)),
                2);
  }
  // The first --val-samples images are held out; training takes the next ones.
  const int64_t val = val_samples.value();
  const int64_t train =
      train_samples.value() > 0 ? std::min(train_samples.value(), n - val) : n - val;
  const at::Tensor val_x = all_x.narrow(0, 0, val), val_y = all_y.narrow(0, 0, val);
  const at::Tensor train_x = all_x.narrow(0, val, train), train_y = all_y.narrow(0, val, train);

  std::string spec;
  if (family == "ofa") {
    ofa::OfaSpec s;
    s.in_channels = all_x.size(1);
    s.classes = data.value().classes;
    s.resolutions = {std::max<int64_t>(8, all_x.size(2) - 8),
                     std::max<int64_t>(8, all_x.size(2) - 4), all_x.size(2)};
    spec = ofa::spec_text(s);
  } else if (family == "sorted") {
    sorted::SortedSpec s;
    s.in_channels = all_x.size(1);
    s.classes = data.value().classes;
    s.size = all_x.size(2);
    spec = sorted::spec_text(s);
  } else {
    stitch::StitchSpec s;
    s.in_channels = all_x.size(1);
    s.classes = data.value().classes;
    s.size = all_x.size(2);
    spec = stitch::spec_text(s);
  }
  torch::manual_seed(o.seed);
  auto made = make_supernet(spec);
  if (!made.is_ok()) return fail(made.status());
  Supernet& net = *made.value();
  Status fits = evaluators::check_schedule(o, net);
  if (!fits.is_ok()) return fail(fits, 2);
  fmt::print("supernet {}, schedule {}, {} epoch(s) on {} images, {} held out\n", net.family(),
             o.schedule, o.epochs, train, val);
  std::fflush(stdout);
  evaluators::SupernetCheckpoint checkpoint;
  checkpoint.path = v["out"] + ".ckpt";
  checkpoint.every = every.value();
  if (std::filesystem::exists(checkpoint.path)) {
    fmt::print("resuming from {}\n", checkpoint.path);
  }
  int64_t shown = -1;
  std::string last_phase;
  auto trained = evaluators::train_supernet(
      net, train_x, train_y, o, checkpoint, [&](const evaluators::SupernetProgress& p) {
        if (p.step * 10 / p.total > shown || p.step == p.total || p.phase != last_phase) {
          shown = p.step * 10 / p.total;
          last_phase = p.phase;
          fmt::print("  step {}/{}  {}  loss {:.3f}\n", p.step, p.total, p.phase, p.loss);
          std::fflush(stdout);
        }
      });
  if (!trained.is_ok()) return fail(trained.status());
  const evaluators::SupernetTrainReport& report = trained.value();
  Status saved = save_supernet(net, v["out"]);
  if (!saved.is_ok()) return fail(saved);
  std::remove(checkpoint.path.c_str());
  const at::Tensor calibration = train_x.narrow(0, 0, std::min<int64_t>(train, 2000));
  for (const auto& [name, config] :
       {std::pair{"largest", net.largest()}, std::pair{"smallest", net.smallest()}}) {
    const double acc = subnet_accuracy(net, config, calibration, val_x, val_y);
    const auto cost = net.space().known_metrics(config);
    fmt::print("{:<8} val_acc {:.2f}  params {:.0f}  macs {:.0f}\n", name, acc, cost.at("params"),
               cost.at("flops"));
  }
  fmt::print("trained in {:.1f} s ({} steps, {} sub-network passes); wrote {}\n", report.seconds,
             report.steps, report.subnet_passes, v["out"]);
  return 0;
}

}  // namespace sylva::cli
