// `sylva supernet train`: trains a weight-sharing supernet on the dataset and
// writes it to a file; prints the accuracy of its largest and smallest
// sub-networks (after batch-norm recalibration) on held-out images. The run
// checkpoints to OUT.ckpt; the same command run again after a kill resumes
// from it, and a finished run removes it.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "cli/options.h"
#include "cli/verbs.h"
#include "evaluators/idx_dataset.h"
#include "evaluators/supernet_trainer.h"
#include "experiments/config.h"
#include "spaces/ofa.h"

namespace sylva::cli {

int run_supernet(int argc, char** argv) {
  const std::string usage =
      "usage: sylva supernet train --family ofa --out FILE [--schedule progressive|sandwich|deps] "
      "[options]";
  if (argc < 2 || std::string(argv[1]) != "train") {
    if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
      fmt::print("{}\n\n{}", usage, options_help(kSupernet));
      return 0;
    }
    return fail(Status::error(
                    fmt::format("supernet: expected 'train', got '{}'", argc >= 2 ? argv[1] : "")),
                2);
  }
  auto parsed = parse_options(kSupernet, "supernet train", argc - 1, argv + 1);
  if (!parsed.is_ok()) return fail(parsed.status(), 2);
  auto& v = parsed.value().values;
  if (parsed.value().help) {
    fmt::print("{}\n\n{}", usage, options_help(kSupernet));
    return 0;
  }
  if (v["family"] != "ofa") {
    return fail(Status::error(fmt::format("--family must be ofa, got '{}'", v["family"])), 2);
  }
  if (!v.count("out") || v["out"].empty()) return fail(Status::error("--out FILE is required"), 2);
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

  ofa::OfaSpec spec;
  spec.in_channels = all_x.size(1);
  spec.classes = data.value().classes;
  spec.resolutions = {std::max<int64_t>(8, all_x.size(2) - 8),
                      std::max<int64_t>(8, all_x.size(2) - 4), all_x.size(2)};
  torch::manual_seed(o.seed);
  ofa::OfaNet net(spec);
  fmt::print("supernet ofa, schedule {}, {} epoch(s) on {} images, {} held out\n", o.schedule,
             o.epochs, train, val);
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
  Status saved = ofa::save_supernet(net, v["out"]);
  if (!saved.is_ok()) return fail(saved);
  std::remove(checkpoint.path.c_str());
  const at::Tensor calibration = train_x.narrow(0, 0, std::min<int64_t>(train, 2000));
  for (const auto& [name, config] :
       {std::pair{"largest", ofa::largest(spec)}, std::pair{"smallest", ofa::smallest(spec)}}) {
    const double acc = evaluators::subnet_accuracy(net, config, calibration, val_x, val_y);
    const ofa::OfaCost cost = net->cost(config);
    fmt::print("{:<8} val_acc {:.2f}  params {}  macs {}\n", name, acc, cost.params, cost.macs);
  }
  fmt::print("trained in {:.1f} s ({} steps, {} sub-network passes); wrote {}\n", report.seconds,
             report.steps, report.subnet_passes, v["out"]);
  return 0;
}

}  // namespace sylva::cli
