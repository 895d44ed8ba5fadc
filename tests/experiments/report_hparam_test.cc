// The reports of a space with hyperparameters: one column per hyperparameter
// after the key, holding the value read from the key's "name=value/" parts
// (empty where a key does not begin with them), in every format; best and
// Pareto tables carry them too.
#include <gtest/gtest.h>

#include "experiments/report.h"

namespace sylva::experiments {
namespace {

TrialRow row(int64_t number, const std::string& key, double acc) {
  TrialRow t;
  t.number = number;
  t.state = TrialState::kComplete;
  t.arch_key = key;
  t.arch_canonical = key;
  t.metrics["val_acc"] = acc;
  return t;
}

TEST(ReportHparams, AColumnPerHyperparameterFromTheKey) {
  const std::vector<TrialRow> trials = {row(0, "lr=0.1/wd=1e-4/conv3x3/skip", 80),
                                        row(1, "lr=0.01/wd=0/skip/skip", 90),
                                        row(2, "conv3x3/skip", 70)};
  const Table t = trials_table(trials, {"lr", "wd"});
  ASSERT_EQ(t.columns,
            (std::vector<std::string>{"number", "state", "key", "lr", "wd", "val_acc", "message"}));
  EXPECT_EQ(t.rows[0][3], "0.1");
  EXPECT_EQ(t.rows[0][4], "1e-4");
  EXPECT_EQ(t.rows[1][3], "0.01");
  EXPECT_TRUE(t.rows[2][3].is_null());
  EXPECT_TRUE(t.rows[2][4].is_null());
  EXPECT_EQ(render(t, "csv").value(),
            "number,state,key,lr,wd,val_acc,message\n"
            "0,COMPLETE,lr=0.1/wd=1e-4/conv3x3/skip,0.1,1e-4,80,\n"
            "1,COMPLETE,lr=0.01/wd=0/skip/skip,0.01,0,90,\n"
            "2,COMPLETE,conv3x3/skip,,,70,\n");
  const Table best = best_table(trials, {"val_acc", true}, 1, {"lr", "wd"});
  ASSERT_EQ(best.rows.size(), 1u);
  EXPECT_EQ(best.columns[4], "lr");
  EXPECT_EQ(best.rows[0][4], "0.01");
  EXPECT_NE(render(best, "json").value().find("\"lr\": \"0.01\""), std::string::npos);
  const Table front = pareto_table(trials, {{"val_acc", true}}, {"lr"});
  EXPECT_EQ(front.rows[0][4], "0.01");
  // Without hyperparameters the layout is as it was.
  EXPECT_EQ(trials_table(trials).columns,
            (std::vector<std::string>{"number", "state", "key", "val_acc", "message"}));
}

}  // namespace
}  // namespace sylva::experiments
