// The `stitch` family: anchors of one family joined by stitching layers. Its
// configurations are the anchors and every (neighbour pair, position); the
// cost of a stitched network is the parameter count of its script, which
// computes what the supernet computes (also in python3-torch); and the
// least-squares initialisation maps one anchor's activations onto another's
// as well as any 1x1 convolution can.
#include "spaces/supernets/stitch/stitch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "tests/spaces/python_torch.h"

namespace sylva::stitch {
namespace {

StitchSpec small_spec() {
  StitchSpec s;
  s.depth = 4;
  s.dims = {8, 16, 24};
  s.expand = 2;
  return s;
}

TEST(StitchSpace, AnchorsAndStitchesAtEveryPosition) {
  const StitchSpace space("stitch", small_spec());
  const auto routes = space.choices({});
  ASSERT_EQ(routes.size(), 7u);  // 3 anchors, 2 neighbour pairs both ways
  EXPECT_EQ(routes[0].label, "a0");
  EXPECT_EQ(routes[3].label, "s0-1");
  EXPECT_EQ(routes[4].label, "s1-0");
  EXPECT_TRUE(space.choices({0}).empty());   // an anchor alone is complete
  EXPECT_EQ(space.choices({3}).size(), 3u);  // positions 1..3
  EXPECT_EQ(all_configs(small_spec()).size(), 3u + 4 * 3);
  const Architecture a = space.make({5, 1}).value();
  EXPECT_EQ(a.key, "s1-2/p2");
  EXPECT_EQ(a.canonical, "[stitch s1-2 p2]");
  EXPECT_EQ(space.parse(a.canonical).value().decisions, a.decisions);
  EXPECT_EQ(space.config(a.decisions).value(), (StitchConfig{1, 2, 2}));
  EXPECT_EQ(space.decisions({0, 2, 1}).status().message(),
            "anchors 0 -> 2 are not a route of 'stitch': anchors 0..2, stitched to a neighbour");
  EXPECT_EQ(space.decisions({0, 1, 4}).status().message(), "stitch position is 4, not one of 1..3");
  EXPECT_EQ(space.make({0, 1}).status().message(),
            "not a configuration of 'stitch': 2 decisions given, but the configuration is "
            "complete after 1");
  // Costs between the anchors': more of the large anchor costs more.
  const int64_t small = cost(small_spec(), {0, 0, 0}).macs,
                big = cost(small_spec(), {1, 1, 0}).macs;
  int64_t last = 0;
  for (int64_t p = 3; p >= 1; --p) {
    const int64_t m = cost(small_spec(), {0, 1, p}).macs;
    EXPECT_GT(m, small);
    EXPECT_LT(m, big);
    EXPECT_GT(m, last);
    last = m;
  }
  EXPECT_EQ(spec_text(small_spec()),
            "stitch in=1 classes=10 size=28 depth=4 dims=8,16,24 expand=2");
  EXPECT_EQ(parse_spec("stitch dims=16,8").status().message(),
            "stitch spec: dims takes 2 or more ascending widths");
  // A budget closes the routes none of whose positions fit: at the cost of
  // s1-2 stitched after 3 blocks, anchor 2 alone and s2-1 (anchor 2's
  // wider stem and a block of it before the stitch) are over.
  StitchSpec budget = small_spec();
  budget.max_macs = cost(budget, {1, 2, 3}).macs;
  const StitchSpace bounded("stitch", budget);
  const auto open = bounded.choices({});
  EXPECT_EQ(open[2].prior, 0);  // a2
  EXPECT_GT(open[5].prior, 0);  // s1-2
  EXPECT_EQ(open[6].prior, 0);  // s2-1
  const auto positions = bounded.choices({5});
  EXPECT_EQ(positions[0].prior, 0);
  EXPECT_EQ(positions[1].prior, 0);
  EXPECT_EQ(positions[2].prior, 1);
}

TEST(Stitch, ScriptsComputeWhatTheSupernetComputesAndLeastSquaresFits) {
  const StitchSpec spec = small_spec();
  torch::manual_seed(2);
  auto net = make_supernet(spec_text(spec)).value();
  EXPECT_EQ(net->family(), "stitch");
  EXPECT_EQ(net->anchors().size(), 3u);
  EXPECT_EQ(net->sweep().size(), all_configs(spec).size());
  const torch::Tensor images = torch::randn({32, 1, 28, 28});
  {
    torch::NoGradGuard no_grad;
    for (const auto& a : net->anchors()) {
      net->activate(a);
      net->forward(images);  // statistics to copy
    }
  }
  auto& stitched = dynamic_cast<StitchNetImpl&>(net->module());
  // How well stitch (0 -> 1 at 2) maps anchor 0's activations to anchor 1's.
  auto residual = [&] {
    torch::NoGradGuard no_grad;
    stitched.eval();
    auto& a = *dynamic_cast<sorted::SortedNetImpl*>(stitched.named_children()["anchor0"].get());
    auto& b = *dynamic_cast<sorted::SortedNetImpl*>(stitched.named_children()["anchor1"].get());
    torch::Tensor xa = a.stem(images), xb = b.stem(images);
    for (int64_t l = 0; l < 2; ++l) {
      xa = a.block(l, xa, 16);
      xb = b.block(l, xb, 32);
    }
    return (stitched.stitch_layer(0, 1, 2)->forward(xa) - xb).pow(2).mean().item<double>();
  };
  const double before = residual();
  net->begin_phase("stitch", images);
  const double fitted = residual();
  EXPECT_LT(fitted, 0.5 * before);
  // The least-squares optimum: any change of the weights fits worse.
  {
    torch::NoGradGuard no_grad;
    stitched.stitch_layer(0, 1, 2)->weight.add_(torch::randn({16, 8, 1, 1}) * 1e-2);
  }
  EXPECT_GT(residual(), fitted);

  net->module().eval();
  std::vector<PythonCase> cases;
  const StitchSpace& space = dynamic_cast<const StitchSpace&>(net->space());
  for (const StitchConfig& c :
       {StitchConfig{2, 2, 0}, StitchConfig{0, 1, 2}, StitchConfig{2, 1, 3}}) {
    cases.push_back(supernet_case(*net, space.decisions(c).value(), "stitch", cases.size()));
  }
  expect_python_outputs(cases, 1e-4);
  for (const auto& c : cases) std::remove(c.path.c_str());
}

}  // namespace
}  // namespace sylva::stitch
