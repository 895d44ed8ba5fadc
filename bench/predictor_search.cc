// Searching a trained once-for-all supernet for the accuracy-MACs front,
// NSGA-II alone against NSGA-II steered by a ridge predictor
// (search/predictor_assisted.h), for the same number of real evaluations
// (inherited weights, batch norm recalibrated on 500 images, accuracy on
// 1,000 held-out training images). Prints real configurations evaluated per
// second and the hypervolume of each front (accuracy % x MMACs saved below
// the largest configuration's), per seed and on average.
//
//   predictor_search [SUPERNET_FILE [EVALUATIONS [SEEDS]]]
//
// Without a file, trains one first (sandwich, 1 epoch on 2,000 images).
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "bench/supernet_data.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "search/pareto.h"
#include "search/predictor_assisted.h"
#include "spaces/supernets/ofa/ofa_config.h"
#include "spaces/supernets/supernet.h"

using namespace sylva;

namespace {

// Area dominated by points (accuracy, macs) above accuracy 0 and below
// `ref_macs`, in accuracy % x MMACs.
double hypervolume(std::vector<std::pair<double, double>> points, double ref_macs) {
  std::sort(points.begin(), points.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  double area = 0, best = 0;
  // Sweep from the cheapest: each point adds its accuracy gain over the
  // cheaper ones, for the MACs it saves below the reference.
  for (const auto& [acc, macs] : points) {
    if (acc <= best || macs >= ref_macs) continue;
    area += (acc - best) * (ref_macs - macs) / 1e6;
    best = acc;
  }
  return area;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string file = argc > 1 ? argv[1] : "";
  const int evaluations = argc > 2 ? std::atoi(argv[2]) : 30;
  const int seeds = argc > 3 ? std::atoi(argv[3]) : 3;
  const bench::SupernetData data = bench::load_supernet_data(2000, 1, 1);
  auto all = evaluators::load_idx_dataset(evaluators::kDefaultDatasetDir).value();
  const at::Tensor val_x = all.normalise(all.train_images.narrow(0, 2500, 1000));
  const at::Tensor val_y = all.train_labels.narrow(0, 2500, 1000);
  std::unique_ptr<Supernet> net;
  if (!file.empty()) {
    net = load_supernet(file).value();
  } else {
    torch::manual_seed(1);
    net = make_supernet(ofa::spec_text(ofa::OfaSpec{})).value();
    evaluators::SupernetTrainOptions o;
    o.batch_size = 64;
    o.seed = 1;
    auto r = evaluators::train_supernet(*net, data.train_x, data.train_y, o).value();
    fmt::print("trained a sandwich ofa supernet in {:.0f} s\n", r.seconds);
  }
  const double ref = net->space().known_metrics(net->largest()).at("flops");
  double hv_sum[2] = {0, 0};
  for (int seed = 1; seed <= seeds; ++seed) {
    for (int assisted = 0; assisted < 2; ++assisted) {
      search::StrategyContext ctx;
      ctx.space = &net->space();
      ctx.seed = static_cast<uint64_t>(seed);
      ctx.objectives = {{"val_acc", true}, {"flops", false}};
      std::unique_ptr<search::Strategy> strategy;
      if (assisted) {
        search::PredictorOptions p;
        p.warmup = 10;
        p.batch = 5;
        strategy = search::make_predictor_assisted("nsga2", ctx, p).value();
      } else {
        strategy = search::make_strategy("nsga2", ctx).value();
      }
      std::vector<std::pair<double, double>> points;
      double eval_seconds = 0, ask_seconds = 0;
      for (int n = 0; n < evaluations; ++n) {
        auto t0 = std::chrono::steady_clock::now();
        auto arch = strategy->ask(n);
        auto t1 = std::chrono::steady_clock::now();
        if (!arch) break;
        search::Observation obs;
        obs.number = n;
        obs.arch = *arch;
        obs.ok = true;
        obs.metrics = net->space().known_metrics(arch->decisions);
        obs.metrics["val_acc"] = subnet_accuracy(*net, arch->decisions, data.calib, val_x, val_y);
        obs.value = obs.metrics["val_acc"];
        auto t2 = std::chrono::steady_clock::now();
        strategy->tell(obs);
        ask_seconds += std::chrono::duration<double>(t1 - t0).count();
        eval_seconds += std::chrono::duration<double>(t2 - t1).count();
        points.push_back({obs.metrics["val_acc"], obs.metrics["flops"]});
      }
      const double hv = hypervolume(points, ref);
      hv_sum[assisted] += hv;
      std::vector<std::vector<double>> pts;
      for (const auto& [a, m] : points) pts.push_back({a, -m});
      int front = 0;
      for (int r : search::pareto_ranks(pts)) front += r == 0;
      fmt::print(
          "seed {} {:<17} {} real evaluations, {:.2f} configs/s, strategy {:.2f} s in all; "
          "front {} points, hypervolume {:.1f}\n",
          seed, assisted ? "nsga2 + ridge" : "nsga2", points.size(), points.size() / eval_seconds,
          ask_seconds, front, hv);
      std::fflush(stdout);
    }
  }
  fmt::print("mean hypervolume over {} seeds: nsga2 {:.1f}, nsga2 + ridge predictor {:.1f}\n",
             seeds, hv_sum[0] / seeds, hv_sum[1] / seeds);
  return 0;
}
