// The stub evaluator scores the searched architecture, hyperparameters
// included: two jobs of one network with different values score
// differently, a space without hyperparameters scores as it always did (the
// hash of the network's canonical form), and any hyperparameter is accepted.
#include "evaluators/stub_evaluator.h"

#include <gtest/gtest.h>

#include "spaces/hparam_space.h"

namespace sylva::evaluators {
namespace {

class NullReporter : public Reporter {
 public:
  void intermediate(int, const std::string&, double) override {}
};

TEST(StubEvaluatorTest, HyperparametersChangeThePseudoAccuracy) {
  auto space = make_space_with_hparams("nb201", "lr=0.01,0.1").value();
  auto stub = make_stub_evaluator({}).value();
  NullReporter reporter;
  auto score = [&](const std::string& key) {
    const Architecture searched = space->parse(key).value();
    const HparamSplit split = split_hparams(*space, searched);
    Job job;
    job.arch = split.arch;
    job.space = split.space;
    job.key = searched.key;
    job.canonical = searched.canonical;
    job.hparams = split.hparams;
    EvalResult r = stub->evaluate(job, reporter);
    EXPECT_EQ(r.state, TrialState::kComplete);
    return r.metrics.at("val_acc");
  };
  const std::string cell = "nor_conv_3x3/skip_connect/none/nor_conv_1x1/avg_pool_3x3/none";
  const double slow = score("lr=0.01/" + cell);
  const double fast = score("lr=0.1/" + cell);
  EXPECT_NE(slow, fast);
  EXPECT_EQ(score("lr=0.1/" + cell), fast);  // seed-free: the same every time
  EXPECT_GE(slow, 50.0);
  EXPECT_LT(slow, 100.0);
  // The network alone, as a space without hyperparameters passes it: its own hash.
  auto plain = make_space("nb201").value();
  const Architecture a = plain->parse(cell).value();
  Job without;
  without.arch = a;
  without.space = plain.get();
  const double alone = stub->evaluate(without, reporter).metrics.at("val_acc");
  without.key = a.key;
  without.canonical = a.canonical;
  EXPECT_EQ(stub->evaluate(without, reporter).metrics.at("val_acc"), alone);
  EXPECT_TRUE(stub->check_hparams({{"whatever", {"a", "b"}}}).is_ok());
}

}  // namespace
}  // namespace sylva::evaluators
