// `sylva supernet train`: trains a weight-sharing supernet on the dataset and
// writes it to a file; prints the accuracy of its largest and smallest
// sub-networks (after batch-norm recalibration) on held-out images. The run
// checkpoints to OUT.ckpt; the same command run again after a kill resumes
// from it, and a finished run removes it.
// `sylva supernet select`: search-free selection for a budget in a `sorted`
// supernet: the largest nested configuration within --max-flops/--max-params
// (-f json|csv: one row of key, canonical, params, flops, fit, nested).
// `sylva supernet sweep`: every configuration of the family's sweep (sorted:
// the nested ladder; stitch: all of them) scored with inherited weights after
// batch-norm recalibration: the accuracy-FLOPs curve and its Pareto front.
// train and sweep read the data with the train evaluator's options
// (--dataset, --dataset-format, --label, --image-size, --target) and run on
// its --device (train: and --precision).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/strings.h"
#include "cli/options.h"
#include "cli/verbs.h"
#include "evaluators/data/dataset.h"
#include "evaluators/supernet/schedules.h"
#include "evaluators/supernet/supernet_evaluator.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "evaluators/train/device.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "search/pareto.h"
#include "spaces/supernets/family.h"
#include "spaces/supernets/sorted/sorted_space.h"
#include "spaces/supernets/supernet.h"

namespace sylva::cli {

namespace {

// The usage lines, with the registered families and schedules.
std::string usage() {
  std::vector<std::string> schedules;
  for (const evaluators::Schedule& s : evaluators::schedules()) schedules.push_back(s.name);
  return fmt::format(
      "usage: sylva supernet train --family {} --out FILE [--schedule {}] [options]\n"
      "       sylva supernet select --space supernet:FILE [--max-flops N] [--max-params N] "
      "[-f table|csv|json]\n"
      "       sylva supernet sweep --space supernet:FILE [--val-samples N] [--test-samples N] "
      "[-f table|csv|json]",
      join(supernet_family_names(), "|"), join(schedules, "|"));
}

// The dataset the options name (--dataset and its companions); supernets
// take images, so a table is refused.
StatusOr<evaluators::Dataset> load_images(const OptionMap& v) {
  SYLVA_ASSIGN(d, evaluators::read_data_options(OptionReader(v)));
  return evaluators::load_supernet_images(d);
}

// --device (and --precision, where the verb takes it), checked against the
// machine before any data is read.
StatusOr<evaluators::DevicePlan> device_plan(const OptionMap& v) {
  const std::string precision = v.count("precision") ? v.at("precision") : "fp32";
  SYLVA_ASSIGN(plan, evaluators::plan_device(v.at("device"), precision, "off"));
  return plan;
}

// The options of `supernet select|sweep`: an exit code when the command ends
// here (help, a bad option, no --space supernet:FILE), else -1.
int parse_space_verb(const std::string& verb, int argc, char** argv, ParsedOptions& out) {
  Begun begun = begin_verb("supernet " + verb, argc, argv);
  if (begun.exit_code >= 0) return begun.exit_code;
  out = std::move(begun.options);
  if (!out.given.count("space") || out.values["space"].rfind("supernet:", 0) != 0) {
    return fail(Status::invalid_argument("supernet " + verb + " needs --space supernet:FILE"));
  }
  // An unknown -f is refused before the supernet is read (a sweep scores
  // every configuration first): rendering no rows checks it.
  if (!out.values.count("format")) out.values["format"] = "table";
  auto format = experiments::render({}, out.values["format"]);
  if (!format.is_ok()) return fail(format.status());
  return -1;
}

int run_select(int argc, char** argv) {
  ParsedOptions parsed;
  if (int code = parse_space_verb("select", argc, argv, parsed); code >= 0) return code;
  auto& v = parsed.values;
  auto spec = read_supernet_spec(v["space"].substr(9));
  if (!spec.is_ok()) return fail(spec.status().prefixed("--space "));
  if (spec.value().rfind("sorted ", 0) != 0) {
    return fail(Status::invalid_argument(
        fmt::format("supernet select picks among nested models (family sorted); '{}' is a {} "
                    "supernet: search it with sylva search --evaluator supernet",
                    v["space"], spec.value().substr(0, spec.value().find(' ')))));
  }
  experiments::ExperimentConfig c;
  c.options = v;
  auto max_params = c.integer_or("max-params", 1, 0);
  auto max_flops = c.integer_or("max-flops", 1, 0);
  for (const Status& s : {max_params.status(), max_flops.status()}) {
    if (!s.is_ok()) return fail(s);
  }
  const sorted::SortedSpec sspec = sorted::parse_spec(spec.value()).value();
  auto picked = sorted::largest_nested_within(sspec, max_params.value(), max_flops.value());
  if (!picked) {
    const sorted::SortedCost k = sorted::cost(sspec, sorted::ladder(sspec).front());
    return fail(Status::failed_precondition(
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
  if (v["format"] == "table") {
    fmt::print("{}\n{}\nparams {}  flops {}  ({} of {} nested models fit)\n", arch.key,
               arch.canonical, k.params, k.macs, fit, steps.size());
    return 0;
  }
  experiments::Table table;
  table.columns = {"key", "canonical", "params", "flops", "fit", "nested"};
  table.rows.push_back({arch.key, arch.canonical, k.params, k.macs, static_cast<int64_t>(fit),
                        static_cast<int64_t>(steps.size())});
  auto text = experiments::render(table, v["format"]);
  if (!text.is_ok()) return fail(text.status());
  fmt::print("{}", text.value());
  return 0;
}

int run_sweep(int argc, char** argv) {
  ParsedOptions parsed;
  if (int code = parse_space_verb("sweep", argc, argv, parsed); code >= 0) return code;
  auto& v = parsed.values;
  // The device first: a sweep that cannot run says so before anything loads.
  auto plan = device_plan(v);
  if (!plan.is_ok()) return fail(plan.status());
  auto loaded = load_supernet(v["space"].substr(9));
  if (!loaded.is_ok()) return fail(loaded.status().prefixed("--space "));
  Supernet& net = *loaded.value();
  const std::vector<std::vector<int>> configs = net.sweep();
  if (configs.empty()) {
    return fail(Status::invalid_argument(
        fmt::format("an {} supernet has no sweep (too many configurations): search it with sylva "
                    "search --space {} --evaluator supernet",
                    net.family(), v["space"])));
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
    if (!s.is_ok()) return fail(s);
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
    return fail(Status::invalid_argument(
        "no configuration of the sweep is within --max-params/--max-flops"));
  }
  auto data = load_images(v);
  if (!data.is_ok()) return fail(data.status());
  auto split = evaluators::split_for_calibration(data.value(), val.value(), calibration.value(),
                                                 test.value());
  if (!split.is_ok()) return fail(split.status());
  // Recalibration and scoring on the device, the images moved there once.
  const c10::Device device = plan.value().device_for_slot(0);
  net.module().to(device);
  const at::Tensor val_x = split.value().val_x.to(device);
  const at::Tensor val_y = split.value().val_y.to(device);
  const at::Tensor calib = split.value().rest_x.to(device);
  const at::Tensor test_x = split.value().test_x.to(device);
  const at::Tensor test_y = split.value().test_y.to(device);
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
  auto text = experiments::render(table, v["format"]);
  if (!text.is_ok()) return fail(text.status());
  fmt::print("{}", text.value());
  if (v["format"] == "table") {
    fmt::print("{} configurations, {} on the Pareto front of val_acc against flops\n", rows.size(),
               front);
  }
  return 0;
}

// The training options of `supernet train`, checked, the device too.
StatusOr<evaluators::SupernetTrainOptions> train_options(const OptionMap& v) {
  const OptionReader c(v);
  evaluators::SupernetTrainOptions o;
  o.schedule = v.at("schedule");
  SYLVA_ASSIGN(epochs, c.integer("epochs", 1));
  SYLVA_ASSIGN(batch, c.integer("batch-size", 1));
  SYLVA_ASSIGN(subnets, c.integer("random-subnets", 0));
  SYLVA_ASSIGN(seed, c.integer("seed", 0));
  SYLVA_ASSIGN(lr, c.real("lr", 0));
  SYLVA_ASSIGN(shrink, c.real("shrink-start", 0));
  o.epochs = epochs;
  o.batch_size = batch;
  o.random_subnets = static_cast<int>(subnets);
  o.seed = static_cast<uint64_t>(seed);
  o.lr = lr;
  o.shrink_start = shrink;
  Status checked = evaluators::check_supernet_options(o);
  if (!checked.is_ok()) return checked;
  SYLVA_ASSIGN(plan, device_plan(v));
  o.device = plan.device_for_slot(0);
  o.bf16 = plan.bf16;
  return o;
}

// Trains `net` with progress lines, resuming from OUT.ckpt, and writes OUT.
int train_and_save(Supernet& net, const at::Tensor& train_x, const at::Tensor& train_y,
                   const at::Tensor& val_x, const at::Tensor& val_y,
                   const evaluators::SupernetTrainOptions& o, int64_t every,
                   const std::string& out) {
  evaluators::SupernetCheckpoint checkpoint;
  checkpoint.path = out + ".ckpt";
  checkpoint.every = every;
  // Said once the checkpoint is accepted: one of another run is refused.
  checkpoint.resumed = [&](int64_t step, int64_t total) {
    fmt::print("resuming from {} at step {} of {}\n", checkpoint.path, step, total);
    std::fflush(stdout);
  };
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
  Status saved = save_supernet(net, out);
  if (!saved.is_ok()) return fail(saved);
  std::remove(checkpoint.path.c_str());
  // Saved from the CPU (train_supernet gives the network back there), scored
  // on the device.
  net.module().to(o.device);
  const at::Tensor calibration =
      train_x.narrow(0, 0, std::min<int64_t>(train_x.size(0), 2000)).to(o.device);
  const at::Tensor val_xd = val_x.to(o.device), val_yd = val_y.to(o.device);
  for (const auto& [name, config] :
       {std::pair{"largest", net.largest()}, std::pair{"smallest", net.smallest()}}) {
    const double acc = subnet_accuracy(net, config, calibration, val_xd, val_yd);
    const auto cost = net.space().known_metrics(config);
    fmt::print("{:<8} val_acc {:.2f}  params {:.0f}  flops {:.0f}\n", name, acc, cost.at("params"),
               cost.at("flops"));
  }
  fmt::print("trained in {:.1f} s ({} steps, {} sub-network passes); wrote {}\n", report.seconds,
             report.steps, report.subnet_passes, out);
  return 0;
}

int run_train(int argc, char** argv) {
  Begun begun = begin_verb("supernet train", argc, argv);
  if (begun.exit_code >= 0) return begun.exit_code;
  auto& v = begun.options.values;
  const SupernetFamily* family = find_supernet_family(v["family"]);
  if (!family) {
    return fail(Status::invalid_argument(fmt::format(
        "--family must be {}, got '{}'", join_words(supernet_family_names()), v["family"])));
  }
  if (!v.count("out") || v["out"].empty())
    return fail(Status::invalid_argument("--out FILE is required"));
  if (v["schedule"].empty()) v["schedule"] = family->default_schedule;
  // The device among them: a run that cannot start says so before the data
  // loads.
  auto o = train_options(v);
  if (!o.is_ok()) return fail(o.status());
  const OptionReader c(v);
  auto train_samples = c.integer("train-samples", 0);
  auto val_samples = c.integer("val-samples", 1);
  auto every = c.integer("checkpoint-every", 1);
  for (const Status& s : {train_samples.status(), val_samples.status(), every.status()}) {
    if (!s.is_ok()) return fail(s);
  }
  auto data = load_images(v);
  if (!data.is_ok()) return fail(data.status());
  // The first --val-samples images are held out; training takes the next ones.
  auto split =
      evaluators::split_for_training(data.value(), val_samples.value(), train_samples.value());
  if (!split.is_ok()) return fail(split.status());
  const at::Tensor &val_x = split.value().val_x, &val_y = split.value().val_y;
  const at::Tensor &train_x = split.value().rest_x, &train_y = split.value().rest_y;
  const int64_t val = val_x.size(0), train = train_x.size(0);
  const at::Tensor& all_x = data.value().train_images;

  const std::string spec = family->spec_for(all_x.size(1), all_x.size(2), data.value().classes);
  torch::manual_seed(o.value().seed);
  auto made = make_supernet(spec);
  if (!made.is_ok()) return fail(made.status());
  Supernet& net = *made.value();
  Status fits = evaluators::check_schedule(o.value(), net);
  if (!fits.is_ok()) return fail(fits);
  const evaluators::SupernetTrainOptions& t = o.value();
  const std::string where = t.device.is_cpu() ? "" : ", on " + t.device.str();
  fmt::print("supernet {}, schedule {}, {} epoch(s) on {} images, {} held out{}{}\n", net.family(),
             t.schedule, t.epochs, train, val, where, t.bf16 ? ", bf16" : "");
  std::fflush(stdout);
  return train_and_save(net, train_x, train_y, val_x, val_y, o.value(), every.value(), v["out"]);
}

int run_supernet(int argc, char** argv) {
  if (argc >= 2) {
    if (const VerbDef* sub = find_verb(std::string("supernet ") + argv[1])) {
      return sub->run(argc - 1, argv + 1);
    }
  }
  if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    fmt::print("{}\n\n{}", usage(), options_help(*find_verb("supernet train")));
    return 0;
  }
  return fail(Status::invalid_argument(fmt::format(
      "supernet: expected train, select or sweep, got '{}'", argc >= 2 ? argv[1] : "")));
}

}  // namespace

void register_supernet_verbs() {
  register_verb({"supernet",
                 "weight-sharing supernets: supernet train, select, sweep",
                 usage(),
                 [](const OptionDef&) { return false; },
                 run_supernet,
                 /*listed=*/true,
                 {}});
  register_verb({"supernet train",
                 "train a supernet of a family",
                 usage(),
                 accepts_names({"seed", "dataset", "dataset-format", "label", "image-size",
                                "target", "device", "precision", "epochs", "train-samples",
                                "val-samples", "batch-size", "lr", "out", "family", "schedule",
                                "random-subnets", "checkpoint-every", "shrink-start"}),
                 run_train,
                 /*listed=*/false,
                 {}});
  register_verb({"supernet select",
                 "the largest nested model within budgets",
                 usage(),
                 accepts_names({"space", "max-params", "max-flops", "dataset", "val-samples",
                                "calibration-samples", "test-samples", "format"}),
                 run_select,
                 /*listed=*/false,
                 {}});
  register_verb({"supernet sweep",
                 "every configuration of the family's sweep, scored",
                 usage(),
                 accepts_names({"space", "max-params", "max-flops", "dataset", "dataset-format",
                                "label", "image-size", "target", "device", "val-samples",
                                "calibration-samples", "test-samples", "format"}),
                 run_sweep,
                 /*listed=*/false,
                 {}});
}

}  // namespace sylva::cli
