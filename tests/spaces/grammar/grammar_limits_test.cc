// What a grammar may ask for is bounded: generated grammars far past any real
// use (200,000 layers, nested rules that multiply to 10^5 ops, %stem 100000)
// are refused at parse time with a message naming the limit, and quoted input
// is cut so that a 1 MB token gives a short one-line message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "spaces/grammar/grammar.h"
#include "spaces/space.h"

namespace sylva {
namespace {

std::string error_of(const std::string& text) {
  auto g = parse_grammar(text, "grammar.txt");
  EXPECT_FALSE(g.is_ok());
  return g.is_ok() ? "" : g.status().message();
}

std::string repeated(const std::string& word, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? " " : "") + word;
  return out;
}

TEST(QuoteCut, ShortTextIsKeptLongTextCutWithItsLength) {
  EXPECT_EQ(quote_cut("conv3x3"), "conv3x3");
  EXPECT_EQ(quote_cut(std::string(60, 'a')), std::string(60, 'a'));
  EXPECT_EQ(quote_cut(std::string(61, 'a')), std::string(60, 'a') + "... (61 bytes)");
  EXPECT_EQ(quote_cut(std::string(1000000, 'x'), 10), "xxxxxxxxxx... (1000000 bytes)");
  // Control characters keep the message on one line.
  EXPECT_EQ(quote_cut("a\nb\tc\rd\x01"), "a\\nb\\tc\\rd\\x01");
  // Never inside a UTF-8 character: "é" is two bytes.
  EXPECT_EQ(quote_cut("abcé", 4), "abc... (5 bytes)");
  EXPECT_EQ(quote_cut("abcé", 5), "abcé");
  EXPECT_EQ(quote_cut("\n\n\n", 5), "\\n\\n... (3 bytes)");
}

TEST(GrammarLimits, TwoHundredThousandLayersAreRefused) {
  // 600 KB, within the size limit: the alternative's length is the problem.
  const std::string text =
      "start -> " + repeated("op", 200000) + "\nop -> \"conv3x3\" | \"skip\"\n";
  EXPECT_EQ(error_of(text),
            "grammar.txt:1:10: an alternative of rule 'start' has 200000 symbols (layers), more "
            "than the limit of 10000");
  // At the limit it parses.
  EXPECT_TRUE(parse_grammar("start -> " + repeated("op", grammar_limits::kLayers) +
                                "\nop -> \"conv3x3\" | \"skip\"\n",
                            "grammar.txt")
                  .is_ok());
  // 2 MB of quoted ops: the file's size.
  const std::string big = "start -> " + repeated("\"conv3x3\"", 200000) + "\n";
  EXPECT_EQ(error_of(big), "grammar.txt: " + std::to_string(big.size()) +
                               " bytes, more than the limit of 1048576 for a grammar");
}

TEST(GrammarLimits, AHugeFileIsRefusedByItsSizeWithoutBeingRead) {
  // 64 GiB, sparse: reading it would take minutes and all the memory.
  const std::string path = "/tmp/sylva-huge-grammar-" + std::to_string(getpid()) + ".txt";
  std::ofstream(path).close();
  std::filesystem::resize_file(path, uintmax_t{64} << 30);
  auto space = make_space(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(space.is_ok());
  EXPECT_EQ(space.status().message(),
            path + ": 68719476736 bytes, more than the limit of 1048576 for a grammar");
}

TEST(GrammarLimits, NestedRulesThatMultiplyAreRefused) {
  // Five rules of ten symbols each: the smallest network has 10^5 ops.
  std::string text;
  const char* names[] = {"start", "a", "b", "c", "d"};
  for (int i = 0; i < 5; ++i) {
    text +=
        std::string(names[i]) + " -> " + repeated(i < 4 ? names[i + 1] : "\"conv3x3\"", 10) + "\n";
  }
  EXPECT_EQ(error_of(text),
            "grammar.txt:1:1: the smallest network 'start' derives has 100000 ops (layers), more "
            "than the limit of 10000");
  // Four levels, 10^4 ops: at the limit.
  std::string four = "start -> " + repeated("b", 10) + "\n";
  for (int i = 2; i < 5; ++i) {
    four += std::string(names[i]) + " -> " + repeated(i < 4 ? names[i + 1] : "\"skip\"", 10) + "\n";
  }
  EXPECT_TRUE(parse_grammar(four, "grammar.txt").is_ok());
  // A recursive rule is judged by its shortest derivation.
  EXPECT_TRUE(parse_grammar("start -> start start | \"skip\"\n", "grammar.txt").is_ok());
}

TEST(GrammarLimits, RulesAndAlternativesAreBounded) {
  std::string alts = "start -> \"skip\"";
  for (int i = 0; i < grammar_limits::kAlternatives; ++i) alts += " | r" + std::to_string(i);
  alts += "\n";
  for (int i = 0; i < grammar_limits::kAlternatives; ++i)
    alts += "r" + std::to_string(i) + " -> \"skip\"\n";
  // 10,001 rules; the start rule's 10,001st alternative comes first.
  const size_t col = alts.find(" r9999\n") + 2;
  EXPECT_EQ(error_of(alts), "grammar.txt:1:" + std::to_string(col) +
                                ": rule 'start' has more than 10000 alternatives, the limit");

  std::string rules = "start -> r0\n";
  for (int i = 0; i < grammar_limits::kRules; ++i) {
    rules += "r" + std::to_string(i) + " -> r" + std::to_string(i + 1) + "\n";
  }
  EXPECT_EQ(error_of(rules), "grammar.txt:10001:1: more than 10000 rules, the limit");
}

TEST(GrammarLimits, ALongChainOfRulesResolvesQuickly) {
  // Rules defined before the rules they use: heights settle in one pass of
  // the queue, not one sweep per rule (10^8 steps).
  std::string text;
  const int n = grammar_limits::kRules - 1;
  for (int i = 0; i < n; ++i) {
    text += "r" + std::to_string(i) + " -> r" + std::to_string(i + 1) + " | \"skip\" \"skip\"\n";
  }
  text += "r" + std::to_string(n) + " -> \"conv3x3\"\n%max-depth 1000\n";
  auto g = parse_grammar(text, "grammar.txt");
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  EXPECT_EQ(g.value().rules[0].min_height, 1);
  EXPECT_EQ(g.value().rules[n].min_height, 1);
  // Without the way out, the height is the chain's length.
  std::string chain;
  for (int i = 0; i < 999; ++i)
    chain += "r" + std::to_string(i) + " -> r" + std::to_string(i + 1) + "\n";
  chain += "r999 -> \"skip\"\n%max-depth 1000\n";
  auto c = parse_grammar(chain, "grammar.txt");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c.value().rules[0].min_height, 1000);
  EXPECT_EQ(c.value().rules[999].min_height, 1);
}

TEST(GrammarLimits, DirectiveValuesAreCheckedBeforeAnythingIsSized) {
  const std::string rule = "start -> \"conv3x3\"\n";
  EXPECT_EQ(error_of("%stem 100000\n" + rule),
            "grammar.txt:1:2: %stem 100000 is more than the limit of 4096");
  EXPECT_EQ(error_of("%head 99999999999999999999999\n" + rule),
            "grammar.txt:1:2: %head 99999999999999999999999 is more than the limit of 4096");
  EXPECT_EQ(error_of("%cells 501\n" + rule),
            "grammar.txt:1:2: %cells 501 is more than the limit of 500");
  EXPECT_EQ(error_of("%max-depth 1001\n" + rule),
            "grammar.txt:1:2: %max-depth 1001 is more than the limit of 1000");
  EXPECT_EQ(error_of("%stages 1 20000\n" + rule),
            "grammar.txt:1:2: %stages 20000 is more than the limit of 10000");
  EXPECT_EQ(error_of("%stages 6000 6000\n" + rule),
            "grammar.txt:1:2: %stages sum to 12000 layers, more than the limit of 10000");
  EXPECT_EQ(error_of("%state tensor\n%input 3 100000 100000\nM -> \"linear\"(16)\n"),
            "grammar.txt:2:2: %input 100000 is more than the limit of 8192");
  EXPECT_EQ(error_of("%state tensor\n%input 5000 32 32\nM -> \"linear\"(16)\n"),
            "grammar.txt:2:2: %input 5000 is more than the limit of 4096");
  EXPECT_EQ(error_of("%state tensor\n%classes 100000000\nM -> \"linear\"(16)\n"),
            "grammar.txt:2:2: %classes 100000000 is more than the limit of 100000");
  // Each stage doubles the width: %stem 512 and four stages make 8192 channels.
  EXPECT_EQ(error_of("%stem 512\n%stages 1 1 1 1\nstart -> " + repeated("\"conv3x3\"", 4) + "\n"),
            "grammar.txt:2:2: %stem 512 doubled at each of its 4 reductions makes layers of 8192 "
            "channels, more than the limit of 4096");
  EXPECT_EQ(
      error_of("%stages " + repeated("1", 40) + "\nstart -> " + repeated("\"conv3x3\"", 40) + "\n"),
      "grammar.txt:1:2: %stem 32 doubled at each of its 40 reductions makes layers of "
      "35184372088832 channels, more than the limit of 4096");
  EXPECT_EQ(error_of("%stages " + repeated("1", 5000) + "\nstart -> " +
                     repeated("\"conv3x3\"", 5000) + "\n"),
            "grammar.txt:1:2: %stem 32 doubled at each of its 5000 reductions makes layers of "
            "32 x 2^5000 channels, more than the limit of 4096");
  EXPECT_EQ(error_of("%builder cell\n%stem 2048\nstart -> " + repeated("\"conv3x3\"", 6) + "\n"),
            "grammar.txt:2:2: %stem 2048 doubled at each of its 2 reductions makes layers of 8192 "
            "channels, more than the limit of 4096");
  // At the limits they parse.
  auto g = parse_grammar(
      "%stem 512\n%stages 1 1 1\n%head 4096\nstart -> " + repeated("\"conv3x3\"", 3) + "\n",
      "grammar.txt");
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  EXPECT_EQ(g.value().build.stem_channels, 512);
  EXPECT_EQ(g.value().build.head_channels, 4096);
}

TEST(GrammarLimits, AMegabyteTokenGivesAShortMessage) {
  const std::string token(1000000, 'q');
  const std::string cut = std::string(60, 'q') + "... (1000000 bytes)";
  // Each message quoting the token stays short.
  std::vector<std::pair<std::string, std::string>> cases = {
      {"start -> " + token + "\n",
       "grammar.txt:1:10: undefined symbol '" + cut + "' (quote op names: \"" + cut + "\")"},
      {"start -> \"" + token + "\"\n", "grammar.txt:1:10: unknown op '" + cut + "' (known: "},
      {token + " \"skip\"\n", "grammar.txt:1:1000002: expected '->' after '" + cut + "'"},
      {"start -> \"skip\" [" + token + "]\n",
       "grammar.txt:1:17: weight must be a number in (0, 1], got '" + cut + "'"},
      {"%stem " + token + "\nstart -> \"skip\"\n",
       "grammar.txt:1:2: %stem expects an integer >= 1, got '" + cut + "'"},
      {"%" + token + "\nstart -> \"skip\"\n", "grammar.txt:1:2: unknown directive '%" + cut},
      {"start -> \"skip\" " + token + "(a)\n",
       "grammar.txt:1:17: '" + cut + "(...)' must be the whole alternative"},
  };
  // Three times 300 KB, within the size limit.
  const std::string third(300000, 'q');
  cases.push_back({"start -> " + third + " | " + third + "\n" + third + " -> \"skip\"\n",
                   "grammar.txt:1:300013: alternative '" + std::string(60, 'q') +
                       "... (300000 bytes)' appears twice in rule 'start'"});
  for (const auto& [text, want] : cases) {
    const std::string message = error_of(text);
    SCOPED_TRACE(message.substr(0, 200));
    EXPECT_LT(message.size(), 300u);
    EXPECT_EQ(message.substr(0, want.size()), want);
  }
}

}  // namespace
}  // namespace sylva
