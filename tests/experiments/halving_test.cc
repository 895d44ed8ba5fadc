// SuccessiveHalving: rung budgets, promotions of the best 1/eta of a rung as
// results arrive, and no trial promoted twice from one rung.
#include "experiments/halving.h"

#include <gtest/gtest.h>

namespace sylva::experiments {
namespace {

TEST(SuccessiveHalving, RungsGrowByEtaUpToTheMaximum) {
  EXPECT_EQ(SuccessiveHalving::make(1, 9, 3).value().rungs(), (std::vector<int64_t>{1, 3, 9}));
  EXPECT_EQ(SuccessiveHalving::make(1, 10, 3).value().rungs(), (std::vector<int64_t>{1, 3, 10}));
  EXPECT_EQ(SuccessiveHalving::make(2, 5, 3).value().rungs(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(SuccessiveHalving::make(4, 4, 2).value().rungs(), (std::vector<int64_t>{4}));
  EXPECT_EQ(SuccessiveHalving::make(1, 9, 3).value().rung_of(3), 1);
  EXPECT_EQ(SuccessiveHalving::make(1, 9, 3).value().rung_of(4), -1);
  EXPECT_EQ(SuccessiveHalving::make(0, 9, 3).status().message(),
            "--min-epochs must be >= 1, got 0");
  EXPECT_EQ(SuccessiveHalving::make(1, 9, 1).status().message(), "--eta must be >= 2, got 1");
}

TEST(SuccessiveHalving, PromotesTheBestThirdAsResultsArrive) {
  auto sh = SuccessiveHalving::make(1, 9, 3).value();
  sh.record(10, 0, 0, 5.0);
  sh.record(11, 1, 0, 7.0);
  EXPECT_FALSE(sh.next_promotion());  // 2 results: a third of them is none
  sh.record(12, 2, 0, std::nullopt);  // a failure is never promoted
  EXPECT_FALSE(sh.next_promotion());  // failures do not count as results
  sh.record(13, 3, 0, 6.0);
  auto p = sh.next_promotion();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, 11);
  EXPECT_EQ(p->to_rung, 1);
  EXPECT_FALSE(sh.next_promotion());  // 11 is promoted already
  for (int i = 0; i < 3; ++i) sh.record(20 + i, 4 + i, 0, 1.0 + i);
  p = sh.next_promotion();  // 6 results: the best two are 11 and 13
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, 13);
  // Higher rungs first: 3 results at rung 1 promote the best to the top.
  sh.record(11, 1, 1, 3.0);
  sh.record(13, 3, 1, 4.0);
  sh.record(30, 9, 1, 3.5);
  p = sh.next_promotion();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, 13);
  EXPECT_EQ(p->to_rung, 2);
  // A resumed scheduler that is told of past promotions does not repeat them.
  auto again = SuccessiveHalving::make(1, 9, 3).value();
  again.record(10, 0, 0, 5.0);
  again.record(11, 1, 0, 7.0);
  again.record(13, 3, 0, 6.0);
  again.promoted(11, 0);
  EXPECT_FALSE(again.next_promotion());
}

}  // namespace
}  // namespace sylva::experiments
