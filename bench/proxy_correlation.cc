// How well each zero-cost proxy ranks architectures: for ARCHS architectures
// of nas-bench-macro and of einspace (sampled by the priors, seed 1) on
// Fashion-MNIST, every proxy at initialisation (64 training images, the
// network seeded per architecture) against val_acc after a small training
// budget (one epoch on TRAIN images, batch 64, SGD lr 0.05, 1,000
// validation images), then Kendall's tau-b and Spearman's rho per proxy. A
// non-finite proxy value ranks lowest; an architecture that cannot be
// trained (does not build, diverges) is left out and counted. einspace is
// derived with --max-params 100000, to keep its networks CPU-sized. Prints one
// line per architecture and the table; asserts nothing.
//
//   proxy_correlation [ARCHS=50] [TRAIN=2000] [SPACES=nas-bench-macro,einspace]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/random.h"
#include "evaluators/data/dataset.h"
#include "evaluators/proxy/proxy_network.h"
#include "evaluators/proxy_scorer.h"
#include "evaluators/train/compute_threads.h"
#include "evaluators/train/train_evaluator.h"
#include "search/strategy.h"
#include "spaces/space.h"

namespace {

using namespace sylva;
using Clock = std::chrono::steady_clock;

class Quiet : public evaluators::Reporter {
 public:
  void intermediate(int, const std::string&, double) override {}
};

// Average ranks (1-based), ties sharing their mean rank.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[order[k]] = (static_cast<double>(i + j) / 2) + 1;
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / n, mb += b[i] / n;
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) * (a[i] - ma);
    bb += (b[i] - mb) * (b[i] - mb);
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : std::numeric_limits<double>::quiet_NaN();
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  return pearson(ranks(a), ranks(b));
}

// Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties_a)(n0 - ties_b)).
double kendall(const std::vector<double>& a, const std::vector<double>& b) {
  double c = 0, d = 0, ta = 0, tb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double x = a[i] - a[j], y = b[i] - b[j];
      if (x == 0 && y == 0) continue;
      if (x == 0) {
        ++ta;
      } else if (y == 0) {
        ++tb;
      } else if ((x > 0) == (y > 0)) {
        ++c;
      } else {
        ++d;
      }
    }
  }
  const double denom = std::sqrt((c + d + ta) * (c + d + tb));
  return denom > 0 ? (c - d) / denom : std::numeric_limits<double>::quiet_NaN();
}

void run_space(const std::string& name, int archs, int64_t train_images,
               std::shared_ptr<const evaluators::Dataset> data) {
  evaluators::TrainOptions t;
  t.epochs = 1;
  t.train_samples = train_images;
  t.val_samples = 1000;
  t.test_samples = 100;
  t.batch_size = 64;
  t.lr = 0.05;
  auto trainer = evaluators::make_train_evaluator(t, data).value();
  auto space = make_space(name).value();
  SpaceTarget target = trainer->input();
  if (name == "einspace") target.max_params = 100000;  // CPU-sized networks
  auto retargeted = retarget_space(*space, target).value();
  if (retargeted) space = std::move(retargeted);
  const InputShape input{data->channels(), data->height(), data->width(), data->classes};

  const std::vector<std::string> proxies = evaluators::proxy_names();
  std::map<std::string, std::vector<double>> values;
  std::vector<double> accuracy;
  int skipped = 0;
  Rng rng(1);
  const auto start = Clock::now();
  for (int i = 0; static_cast<int>(accuracy.size()) < archs && i < 4 * archs; ++i) {
    const Architecture arch = search::sample_by_priors(*space, rng);
    const uint64_t seed = mix_seed(17, static_cast<uint64_t>(i));
    const auto t0 = Clock::now();
    evaluators::set_compute_threads(2);
    const evaluators::ProxyBatch batch = evaluators::draw_proxy_batch(*data, 64, mix_seed(seed, 1));
    auto scores = evaluators::score_architecture(*space, arch, input, proxies, batch, seed);
    const double proxy_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!scores.is_ok()) {
      fmt::print("{} #{}: skipped: {}\n", name, i, scores.status().message());
      ++skipped;
      continue;
    }
    evaluators::Job job;
    job.trial_number = i;
    job.seed = seed;
    job.arch = arch;
    job.space = space.get();
    job.key = arch.key;
    job.canonical = arch.canonical;
    job.threads = 2;
    Quiet quiet;
    evaluators::EvalResult r;
    try {
      r = trainer->evaluate(job, quiet);
    } catch (const std::exception& e) {
      r.state = evaluators::TrialState::kFail;
      r.message = e.what();
    }
    if (r.state != evaluators::TrialState::kComplete) {
      fmt::print("{} #{}: skipped: {}\n", name, i, r.message.substr(0, 200));
      ++skipped;
      continue;
    }
    accuracy.push_back(r.metrics.at("val_acc"));
    std::string line;
    for (const std::string& p : proxies) {
      double v = scores.value().at(p);
      if (std::isnan(v)) v = -std::numeric_limits<double>::infinity();
      values[p].push_back(v);
      line += fmt::format(" {}={:.4g}", p, v);
    }
    fmt::print("{} #{}: val_acc {:.2f} (train {:.1f} s, proxies {:.1f} s){}\n", name, i,
               accuracy.back(), r.metrics.at("train_seconds"), proxy_s, line);
    std::fflush(stdout);
  }
  const double minutes = std::chrono::duration<double>(Clock::now() - start).count() / 60;
  fmt::print("\n## {}: {} architectures ({} skipped), one epoch on {} images, {:.1f} min\n\n", name,
             accuracy.size(), skipped, train_images, minutes);
  fmt::print("| proxy | Kendall tau | Spearman rho |\n|---|---|---|\n");
  for (const std::string& p : proxies) {
    fmt::print("| {} | {:.3f} | {:.3f} |\n", p, kendall(values[p], accuracy),
               spearman(values[p], accuracy));
  }
  fmt::print("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int archs = argc > 1 ? std::atoi(argv[1]) : 50;
  const int64_t train = argc > 2 ? std::atoll(argv[2]) : 2000;
  const std::string spaces = argc > 3 ? argv[3] : "nas-bench-macro,einspace";
  auto loaded = evaluators::load_idx_dataset(evaluators::kDefaultDatasetDir);
  if (!loaded.is_ok()) {
    fmt::print(stderr, "{}\n", loaded.status().message());
    return 1;
  }
  auto data = std::make_shared<const evaluators::Dataset>(std::move(loaded).value());
  std::istringstream names(spaces);
  for (std::string name; std::getline(names, name, ',');) run_space(name, archs, train, data);
  return 0;
}
