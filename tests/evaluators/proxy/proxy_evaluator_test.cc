// The proxy evaluator on Fashion-MNIST: every proxy of a small chain CNN is
// finite, a trial's seed gives the same scores twice, params and flops are
// measure_architecture's, and bad options are named.
#include "evaluators/proxy/proxy_evaluator.h"

#include <gtest/gtest.h>

#include <cmath>

#include "../train/train_test_support.h"
#include "evaluators/proxy_scorer.h"
#include "evaluators/train/model_tools.h"

namespace sylva::evaluators {
namespace {

using testing::RecordingReporter;
using testing::StubSpace;

BuildSpec small_spec() {
  BuildSpec spec;
  spec.builder = "chain";
  spec.stem_channels = 8;
  spec.stages = {1, 1};
  return spec;
}

class ProxyEvaluatorTest : public testing::FashionMnistTest {
 protected:
  Job job(uint64_t seed) const {
    Job j;
    j.seed = seed;
    j.arch.primitives = {"conv3x3", "conv3x3"};
    j.arch.key = "conv3x3/conv3x3";
    j.space = &space_;
    return j;
  }
  StubSpace space_{small_spec()};
};

TEST_F(ProxyEvaluatorTest, ScoresEveryProxyReproducibly) {
  ProxyOptions o;
  o.proxies = proxy_names();
  o.batch_size = 16;
  auto evaluator = make_proxy_evaluator(o, data_).value();
  RecordingReporter reporter;
  const EvalResult a = evaluator->evaluate(job(7), reporter);
  ASSERT_EQ(a.state, TrialState::kComplete) << a.message;
  for (const std::string& p : proxy_names()) {
    ASSERT_TRUE(a.metrics.count(p)) << p;
    EXPECT_TRUE(std::isfinite(a.metrics.at(p))) << p;
  }
  const EvalResult b = evaluator->evaluate(job(7), reporter);
  for (const std::string& p : proxy_names()) EXPECT_EQ(a.metrics.at(p), b.metrics.at(p)) << p;
  const EvalResult c = evaluator->evaluate(job(8), reporter);
  EXPECT_NE(a.metrics.at("snip"), c.metrics.at("snip"));

  const ModelCost cost =
      measure_architecture(space_, job(7).arch, ModelShape{1, 28, 28, 10}).value();
  EXPECT_EQ(a.metrics.at("params"), static_cast<double>(cost.params));
  EXPECT_EQ(a.metrics.at("flops"), static_cast<double>(cost.flops));
  EXPECT_EQ(evaluator->metrics().front(), "synflow");
}

TEST_F(ProxyEvaluatorTest, OptionsAreNamed) {
  EXPECT_EQ(parse_proxy_list("snip,bogus").status().message(),
            "--proxy 'bogus' is unknown (proxies: synflow, naswot, snip, grad_norm, jacob_cov, "
            "fisher, params, flops)");
  EXPECT_EQ(parse_proxy_list("snip,snip").status().message(), "--proxy 'snip' is given twice");
  ProxyOptions o;
  o.proxies = {"naswot"};
  o.batch_size = 1;
  EXPECT_EQ(make_proxy_evaluator(o, data_).status().message(),
            "--proxy-batch-size must be >= 2, got 1");
}

}  // namespace
}  // namespace sylva::evaluators
