// The `sorted` family (SortedNet / MatFormer nested depth and FFN width) on
// Fashion-MNIST, CPU: one supernet trained with the `nested` schedule, then
// every nested model of its ladder scored with the shared weights (after
// batch-norm recalibration) against the same configuration trained
// standalone from scratch for the same epochs.
//
//   sorted_ladder [TRAIN_IMAGES [EPOCHS [TEST_IMAGES]]]
//
// Defaults: 4,000 training images, 3 epochs, 2,000 test images; ladder:
// depths 2, 4, 6 x hidden widths 32, 64, 128, 256 (12 nested models).
#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdlib>

#include "bench/supernet_data.h"
#include "evaluators/supernet/supernet_trainer.h"
#include "spaces/supernets/sorted/sorted_space.h"
#include "spaces/supernets/supernet.h"

using namespace sylva;

int main(int argc, char** argv) {
  const int64_t train_n = argc > 1 ? std::atoll(argv[1]) : 4000;
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 3;
  const int64_t test_n = argc > 3 ? std::atoll(argv[3]) : 2000;
  const bench::SupernetData data = bench::load_supernet_data(train_n, test_n, epochs);
  const at::Tensor &train_x = data.train_x, &train_y = data.train_y, &calib = data.calib;
  const at::Tensor &test_x = data.test_x, &test_y = data.test_y;
  sorted::SortedSpec spec;
  spec.depths = {2, 4, 6};
  const sorted::SortedSpace space("sorted", spec);
  auto fresh = [&] {
    torch::manual_seed(1);
    return make_supernet(sorted::spec_text(spec)).value();
  };
  evaluators::SupernetTrainOptions o;
  o.schedule = "nested";
  o.epochs = epochs;
  o.batch_size = 64;
  o.seed = 1;
  auto net = fresh();
  auto r = evaluators::train_supernet(*net, train_x, train_y, o).value();
  fmt::print("nested supernet trained in {:.0f} s ({} sub-network passes)\n", r.seconds,
             r.subnet_passes);
  double standalone_seconds = 0;
  int within = 0, count = 0;
  for (const auto& c : sorted::ladder(spec)) {
    const std::vector<int> d = space.decisions(c).value();
    const double shared = subnet_accuracy(*net, d, calib, test_x, test_y);
    evaluators::SupernetTrainOptions alone = o;
    alone.schedule = "sandwich";
    alone.only = d;
    auto own = fresh();
    auto rs = evaluators::train_supernet(*own, train_x, train_y, alone).value();
    standalone_seconds += rs.seconds;
    const double solo = subnet_accuracy(*own, d, calib, test_x, test_y);
    const sorted::SortedCost k = sorted::cost(spec, c);
    fmt::print(
        "{:<22} {:>6.2f} MMACs {:>4.0f}K params  nested {:.2f}  standalone {:.2f} ({:+.2f})"
        "  {:.0f} s\n",
        space.make(d).value().key.substr(0, 22), k.macs / 1e6, k.params / 1e3, shared, solo,
        shared - solo, rs.seconds);
    std::fflush(stdout);
    within += shared >= solo - 1.0;
    ++count;
  }
  fmt::print(
      "{}/{} nested models within 1 point of standalone; the supernet took {:.0f} s, the "
      "{} standalone trainings {:.0f} s ({:.2f}x)\n",
      within, count, r.seconds, count, standalone_seconds, standalone_seconds / r.seconds);
  return 0;
}
