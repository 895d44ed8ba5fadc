// The strategies on the once-for-all configuration space: mutation re-decides
// one decision (a stage's depth redraws that stage's blocks) and crossover
// swaps whole stages or single decisions of the same kind.
#include <gtest/gtest.h>

#include "search/variation.h"
#include "spaces/supernets/ofa/ofa_space.h"

namespace sylva::search {
namespace {

TEST(OfaSearch, MutationAndCrossoverGiveConfigurations) {
  ofa::OfaSpace space("ofa", ofa::OfaSpec{});
  const Architecture big = space.make(space.decisions(ofa::largest(space.spec())).value()).value();
  const Architecture small =
      space.make(space.decisions(ofa::smallest(space.spec())).value()).value();
  Rng rng(4);
  int swapped = 0;
  for (int i = 0; i < 40; ++i) {
    auto child = mutate(space, big, rng);
    ASSERT_TRUE(child);
    EXPECT_NE(child->hash, big.hash);
    EXPECT_TRUE(space.config(child->decisions).is_ok());
    auto mixed = crossover(space, big, small, rng);
    ASSERT_TRUE(mixed);
    const ofa::OfaConfig c = space.config(mixed->decisions).value();
    // Whole stages or single decisions of the same kind come from either parent.
    for (size_t s = 0; s < c.depth.size(); ++s) {
      swapped += c.depth[s] == 2;
      for (int64_t b = 0; b < c.depth[s]; ++b) {
        EXPECT_TRUE(c.kernel[s][b] == 3 || c.kernel[s][b] == 7);
        EXPECT_TRUE(c.expand[s][b] == 3 || c.expand[s][b] == 6);
      }
    }
  }
  EXPECT_GE(swapped, 2);  // 4 of big's 37 slots are stages
}

}  // namespace
}  // namespace sylva::search
