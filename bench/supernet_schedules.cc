// Once-for-all schedules at an equal epoch budget against standalone
// training (Fashion-MNIST, CPU). For each schedule (progressive, sandwich,
// deps) one `ofa` supernet is trained for the same epochs on the same images;
// then the largest, the smallest and random sub-networks are scored after
// batch-norm recalibration. The first seven of them (largest, smallest, five
// random) are also trained standalone for the same epochs, from scratch, so
// each shared-weight accuracy has its standalone counterpart.
//
//   supernet_schedules [TRAIN_IMAGES [EPOCHS [TEST_IMAGES [SUBNETS]]]]
//
// Defaults: 4,000 training images, 3 epochs, 2,000 test images, 20 sub-networks.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/supernet_data.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "spaces/supernets/ofa/ofa.h"
#include "spaces/supernets/ofa/ofa_space.h"
#include "spaces/supernets/supernet.h"

using namespace sylva;

namespace {

struct Scored {
  ofa::OfaConfig config;
  ofa::OfaCost cost;
  double acc = 0;
};

std::string describe(const ofa::OfaConfig& c) {
  std::string s = fmt::format("r{} d", c.resolution);
  for (int64_t d : c.depth) s += std::to_string(d);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t train_n = argc > 1 ? std::atoll(argv[1]) : 4000;
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 3;
  const int64_t test_n = argc > 3 ? std::atoll(argv[3]) : 2000;
  const int64_t subnets = argc > 4 ? std::atoll(argv[4]) : 20;
  const bench::SupernetData data = bench::load_supernet_data(train_n, test_n, epochs);
  const at::Tensor &train_x = data.train_x, &train_y = data.train_y, &calib = data.calib;
  const at::Tensor &test_x = data.test_x, &test_y = data.test_y;

  ofa::OfaSpec spec;
  const ofa::OfaSpace space("ofa", spec);
  auto decisions = [&](const ofa::OfaConfig& c) { return space.decisions(c).value(); };
  auto fresh = [&] {
    torch::manual_seed(1);
    return make_supernet(ofa::spec_text(spec)).value();
  };
  // The sub-networks scored: largest, smallest, then random ones.
  std::vector<ofa::OfaConfig> configs = {ofa::largest(spec), ofa::smallest(spec)};
  std::mt19937_64 rng(11);
  while (static_cast<int64_t>(configs.size()) < subnets) {
    ofa::OfaConfig c = ofa::random_config(spec, rng);
    if (std::find(configs.begin(), configs.end(), c) == configs.end()) configs.push_back(c);
  }
  const size_t compared = std::min<size_t>(7, configs.size());

  evaluators::SupernetTrainOptions base;
  base.epochs = epochs;
  base.batch_size = 64;
  base.seed = 1;

  // Standalone: each of the first `compared` configurations on its own.
  std::vector<double> standalone;
  double standalone_seconds = 0;
  for (size_t i = 0; i < compared; ++i) {
    evaluators::SupernetTrainOptions o = base;
    o.only = decisions(configs[i]);
    auto net = fresh();
    auto r = evaluators::train_supernet(*net, train_x, train_y, o).value();
    standalone_seconds += r.seconds;
    standalone.push_back(subnet_accuracy(*net, *o.only, calib, test_x, test_y));
    const ofa::OfaCost cost = ofa::cost(spec, configs[i]);
    fmt::print("standalone {:>2} {:<12} {:>6.2f} MMACs {:>5.0f}K params  acc {:.2f}  {:.0f} s\n", i,
               describe(configs[i]), cost.macs / 1e6, cost.params / 1e3, standalone.back(),
               r.seconds);
    std::fflush(stdout);
  }
  fmt::print("standalone total: {:.0f} s for {} networks\n\n", standalone_seconds, compared);

  for (const std::string schedule : {"progressive", "sandwich", "deps"}) {
    evaluators::SupernetTrainOptions o = base;
    o.schedule = schedule;
    auto net = fresh();
    auto r = evaluators::train_supernet(*net, train_x, train_y, o).value();
    std::vector<Scored> scored;
    for (const auto& c : configs) {
      scored.push_back(
          {c, ofa::cost(spec, c), subnet_accuracy(*net, decisions(c), calib, test_x, test_y)});
    }
    int within = 0;
    double worst = 1e9;
    for (size_t i = 0; i < compared; ++i) {
      const double gap = scored[i].acc - standalone[i];
      fmt::print("{:<11} {:>2} {:<12} {:>6.2f} MMACs  acc {:.2f}  standalone {:.2f}  ({:+.2f})\n",
                 schedule, i, describe(configs[i]), scored[i].cost.macs / 1e6, scored[i].acc,
                 standalone[i], gap);
      within += gap >= -1.0;
      worst = std::min(worst, gap);
    }
    std::vector<double> accs;
    int64_t lo = scored[0].cost.macs, hi = scored[0].cost.macs;
    for (const Scored& s : scored) {
      accs.push_back(s.acc);
      lo = std::min(lo, s.cost.macs);
      hi = std::max(hi, s.cost.macs);
    }
    std::sort(accs.begin(), accs.end());
    fmt::print(
        "{:<11} trained in {:.0f} s ({:.2f}x the standalone total, {:.2f}x one standalone "
        "average; {} sub-network passes); {}/{} within 1 point of standalone (worst {:+.2f}); "
        "{} sub-networks spanning {:.1f}x MACs: accuracy min {:.2f} median {:.2f} max {:.2f}\n\n",
        schedule, r.seconds, r.seconds / standalone_seconds,
        r.seconds / (standalone_seconds / compared), r.subnet_passes, within, compared, worst,
        scored.size(), static_cast<double>(hi) / lo, accs.front(), accs[accs.size() / 2],
        accs.back());
    std::fflush(stdout);
  }
  return 0;
}
