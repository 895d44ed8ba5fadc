// The bracket parser reads canonical forms back into trees with columns,
// prints them in the one-line canonical form, and names the column and what
// it expected on malformed text.
#include "spaces/bracket.h"

#include <gtest/gtest.h>

namespace sylva {
namespace {

TEST(Bracket, ParsesNodesOpsAndColumns) {
  auto tree = parse_bracket("  [S [B clone2]\n [M [C norm]] [A add]]");
  ASSERT_TRUE(tree.is_ok()) << tree.status().message();
  const BracketNode& s = tree.value();
  EXPECT_EQ(s.name, "S");
  EXPECT_FALSE(s.is_op);
  EXPECT_EQ(s.col, 3);
  ASSERT_EQ(s.children.size(), 3u);
  EXPECT_EQ(s.children[0].name, "B");
  EXPECT_EQ(s.children[0].col, 6);
  ASSERT_EQ(s.children[0].children.size(), 1u);
  EXPECT_TRUE(s.children[0].children[0].is_op);
  EXPECT_EQ(s.children[0].children[0].name, "clone2");
  EXPECT_EQ(s.children[0].children[0].col, 9);
  EXPECT_EQ(s.children[1].children[0].children[0].name, "norm");
  EXPECT_EQ(format_bracket(s), "[S [B clone2] [M [C norm]] [A add]]");
}

TEST(Bracket, FormatIsAFixedPointOfParse) {
  const std::string text = "[S [M [P im2col3k1s1p] [M [C linear64]] [R col2im]] [M [C norm]]]";
  auto tree = parse_bracket(text);
  ASSERT_TRUE(tree.is_ok());
  EXPECT_EQ(format_bracket(tree.value()), text);
}

TEST(Bracket, ErrorsNameTheColumnAndWhatWasExpected) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "column 1: expected '['"},
      {"S [M]", "column 1: expected '['"},
      {"[ ]", "column 3: expected a rule name after '['"},
      {"[S [M [C norm]]", "column 16: expected ']' before the end"},
      {"[S [C norm]] x", "column 14: unexpected text after the closing ']'"},
  };
  for (const auto& [text, message] : cases) {
    auto tree = parse_bracket(text);
    ASSERT_FALSE(tree.is_ok()) << text;
    EXPECT_NE(tree.status().message().find(message), std::string::npos)
        << text << " -> " << tree.status().message();
  }
}

}  // namespace
}  // namespace sylva
