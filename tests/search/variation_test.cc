// The variation operators on the decision tree: decision slots, mutation that
// re-decides one point and keeps everything outside its subtree, crossover of
// same-kind subtrees.
#include "search/variation.h"

#include <gtest/gtest.h>

#include <set>

namespace sylva::search {
namespace {

std::unique_ptr<Space> toy() {
  return space_from_source("toy", R"(%max-depth 5
net   -> block block
block -> op | block block [0.3]
op    -> "conv3x3" | "skip" | "none"
)")
      .value();
}

TEST(Slots, KindsAndSubtreeEndsFollowTheDerivation) {
  auto space = toy();
  auto a = space->parse("[net [block [block [op skip]] [block [op none]]] [block [op conv3x3]]]");
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  // Decisions in pre-order: block(1), block(0), op(1), block(0), op(2), block(0), op(0).
  EXPECT_EQ(a.value().decisions, (std::vector<int>{1, 0, 1, 0, 2, 0, 0}));
  auto slots = space->slots(a.value().decisions);
  std::vector<std::string> kinds;
  std::vector<int> ends;
  for (const auto& s : slots) {
    kinds.push_back(s.kind);
    ends.push_back(s.end);
  }
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"block", "block", "op", "block", "op", "block", "op"}));
  EXPECT_EQ(ends, (std::vector<int>{5, 3, 3, 5, 5, 7, 7}));
  EXPECT_TRUE(space->subtree_closed({1, 0, 1}, 1));
  EXPECT_FALSE(space->subtree_closed({1, 0, 1}, 0));
  EXPECT_FALSE(space->subtree_closed({1, 0}, 1));
}

TEST(Mutate, ChainChildDiffersInExactlyOneLayer) {
  auto space = make_space("nas-bench-macro").value();
  auto parent = space
                    ->parse(
                        "identity/mbconv_e3_k3/mbconv_e6_k5/identity/identity/mbconv_e3_k3/"
                        "mbconv_e6_k5/identity")
                    .value();
  std::set<int> changed_layers;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    auto child = mutate(*space, parent, rng);
    ASSERT_TRUE(child.has_value());
    int diff = 0;
    for (size_t i = 0; i < 8; ++i) {
      if (child->decisions[i] != parent.decisions[i]) {
        ++diff;
        changed_layers.insert(static_cast<int>(i));
      }
    }
    EXPECT_EQ(diff, 1) << child->key;
  }
  EXPECT_EQ(changed_layers.size(), 8u);  // every decision point gets picked
}

TEST(Mutate, KeepsEverythingOutsideTheRedecidedSubtree) {
  auto space = toy();
  auto parent =
      space->parse("[net [block [block [op skip]] [block [op none]]] [block [op conv3x3]]]")
          .value();
  const std::string left = "[block [block [op skip]] [block [op none]]]";
  const std::string right = "[block [op conv3x3]]";
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Rng rng(seed);
    auto child = mutate(*space, parent, rng);
    ASSERT_TRUE(child.has_value());
    EXPECT_NE(child->canonical, parent.canonical);
    // Either top-level block is re-decided inside, never both.
    const bool keeps_left = child->canonical.rfind("[net " + left + " ", 0) == 0;
    const bool keeps_right = child->canonical.size() > right.size() + 1 &&
                             child->canonical.compare(child->canonical.size() - right.size() - 1,
                                                      right.size(), right) == 0;
    EXPECT_TRUE(keeps_left || keeps_right) << child->canonical;
  }
}

TEST(Crossover, GraftsASameKindSubtreeOfTheOtherParent) {
  auto space = toy();
  auto a = space->parse("[net [block [op skip]] [block [op skip]]]").value();
  auto b = space->parse("[net [block [block [op none]] [block [op conv3x3]]] [block [op none]]]")
               .value();
  std::set<std::string> children;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    auto child = crossover(*space, a, b, rng);
    ASSERT_TRUE(child.has_value());
    children.insert(child->canonical);
  }
  // Every child keeps one of a's two blocks or ops and takes a subtree of b.
  for (const auto& c : children) EXPECT_NE(c.find("[op skip]"), std::string::npos) << c;
  EXPECT_TRUE(
      children.count("[net [block [block [op none]] [block [op conv3x3]]] [block [op skip]]]"));
  EXPECT_TRUE(children.count("[net [block [op skip]] [block [op conv3x3]]]"));
  EXPECT_TRUE(children.count("[net [block [op none]] [block [op skip]]]"));
}

}  // namespace
}  // namespace sylva::search
