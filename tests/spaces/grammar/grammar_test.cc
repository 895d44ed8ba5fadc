// Grammar parsing, the decision tree it defines, canonical forms and keys.
#include "spaces/grammar/grammar.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "base/random.h"
#include "spaces/grammar/grammar_space.h"
#include "spaces/space.h"

namespace sylva {
namespace {

std::unique_ptr<Space> space_of(const std::string& text) {
  auto s = space_from_source("toy.grammar", text);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return std::move(s).value();
}

std::string error_of(const std::string& text) {
  auto s = space_from_source("bad.grammar", text);
  EXPECT_FALSE(s.is_ok());
  return s.is_ok() ? "" : s.status().message();
}

// Samples a full decision list by priors.
Architecture sample(const Space& space, Rng& rng) {
  std::vector<int> prefix;
  while (true) {
    auto ch = space.choices(prefix);
    if (ch.empty()) break;
    std::vector<double> w;
    for (auto& c : ch) w.push_back(c.prior);
    prefix.push_back(static_cast<int>(sample_index(rng, w)));
  }
  return space.make(prefix).value();
}

TEST(Grammar, ParsesRulesWeightsAndDirectives) {
  auto g = parse_grammar(R"(# toy
%stem 8
%stages 1 2
start -> cell cell      # two cells
cell  -> op op | op  [0.25]
      | "conv1x1"
op    -> "conv3x3" | "skip" | "none"
)",
                         "toy.grammar");
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  const Grammar& gr = g.value();
  ASSERT_EQ(gr.rules.size(), 3u);
  EXPECT_EQ(gr.rules[0].name, "start");
  EXPECT_EQ(gr.build.stem_channels, 8);
  EXPECT_EQ(gr.build.stages, (std::vector<int>{1, 2}));
  const auto& cell = gr.rules[1].alternatives;
  ASSERT_EQ(cell.size(), 3u);
  EXPECT_EQ(cell[0].label, "op op");
  EXPECT_EQ(cell[2].label, "conv1x1");
  EXPECT_DOUBLE_EQ(cell[1].prior, 0.25);
  EXPECT_DOUBLE_EQ(cell[0].prior, 0.375);
  EXPECT_DOUBLE_EQ(cell[2].prior, 0.375);
  EXPECT_EQ(gr.rules[0].min_height, 2);  // start -> cell -> "conv1x1"
  EXPECT_EQ(gr.rules[1].min_height, 1);  // cell -> "conv1x1"
}

TEST(Grammar, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(error_of("start -> op\nop -> \"conv3x3\" | \"conv9x9\"\n")
                .rfind("bad.grammar:2:19: unknown op 'conv9x9' (known: ", 0),
            0u);
  EXPECT_EQ(error_of("start -> op\nop -> cell\n"),
            "bad.grammar:2:7: undefined symbol 'cell' (quote op names: \"cell\")");
  EXPECT_EQ(error_of("start -> \"skip\"\nstart -> \"none\"\n"),
            "bad.grammar:2:1: rule 'start' is defined twice (first on line 1)");
  EXPECT_EQ(error_of("start \"skip\"\n"), "bad.grammar:1:7: expected '->' after 'start'");
  EXPECT_EQ(error_of("start -> \"skip\" | \n"),
            "bad.grammar:1:19: expected an alternative after '|' or '->'");
  EXPECT_EQ(error_of("start -> \"skip\" [1.5]\n"),
            "bad.grammar:1:17: weight must be a number in (0, 1], got '1.5'");
  EXPECT_EQ(error_of("start -> \"skip\" [0.7] | \"none\" [0.6] | \"conv1x1\"\n"),
            "bad.grammar:1:1: weights of rule 'start' sum to 1.3, leaving nothing for its 1 "
            "unweighted alternative(s)");
  EXPECT_EQ(error_of("start -> a\na -> a a | b\nb -> a\n"),
            "bad.grammar:1:1: rule 'start' can never finish: every alternative leads back to rules "
            "without a way out to ops");
  EXPECT_EQ(error_of("%stem wide\nstart -> \"skip\"\n"),
            "bad.grammar:1:2: %stem expects an integer >= 1, got 'wide'");
  EXPECT_EQ(error_of("%colour red\nstart -> \"skip\"\n"),
            "bad.grammar:1:2: unknown directive '%colour' (known: builder, stem, stages, head, "
            "cells, max-depth, state, input, classes, max-nodes, max-params, max-activation, "
            "max-memory)");
  EXPECT_EQ(error_of("start -> \"skip\" | \"skip\"\n"),
            "bad.grammar:1:19: alternative 'skip' appears twice in rule 'start'");
  EXPECT_EQ(error_of("start -> \"skip\" ?\n"), "bad.grammar:1:17: unexpected character '?'");
  EXPECT_EQ(error_of("# nothing\n"),
            "bad.grammar:1:1: no rules: a grammar needs at least one 'name -> ...' rule");
}

TEST(GrammarSpace, DecisionTreeListsChoicesWithPriors) {
  auto space = space_of("start -> op op\nop -> \"conv3x3\" [0.5] | \"skip\" | \"none\"\n");
  auto ch = space->choices({});
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[0].label, "conv3x3");
  EXPECT_DOUBLE_EQ(ch[0].prior, 0.5);
  EXPECT_DOUBLE_EQ(ch[1].prior, 0.25);
  EXPECT_EQ(space->choices({2}).size(), 3u);
  EXPECT_TRUE(space->choices({2, 1}).empty());
  EXPECT_THROW(space->choices({3}), std::invalid_argument);
  EXPECT_THROW(space->choices({0, 0, 0}), std::invalid_argument);
  auto arch = space->make({2, 0}).value();
  EXPECT_EQ(arch.key, "none/conv3x3");
  EXPECT_EQ(arch.canonical, "[start [op none] [op conv3x3]]");
  EXPECT_EQ(arch.primitives, (std::vector<std::string>{"none", "conv3x3"}));
  EXPECT_EQ(arch.hash, fnv1a64("[start [op none] [op conv3x3]]"));
  EXPECT_FALSE(space->make({2}).is_ok());
}

TEST(GrammarSpace, CanonicalAndKeyRoundTripOnRecursiveGrammar) {
  auto space = space_of(R"(%max-depth 6
net  -> blk | blk net [0.6]
blk  -> op | op op
op   -> "conv3x3" | "skip" | "avg_pool_3x3"
)");
  Rng rng(7);
  std::set<uint64_t> hashes;
  for (int i = 0; i < 300; ++i) {
    Architecture a = sample(*space, rng);
    auto back = space->parse(a.canonical);
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(back.value().decisions, a.decisions);
    EXPECT_EQ(back.value().hash, a.hash);
    auto by_key = space->parse(a.key);
    ASSERT_TRUE(by_key.is_ok()) << by_key.status().message();
    EXPECT_EQ(by_key.value().canonical, a.canonical);
    hashes.insert(a.hash);
    // The depth limit holds: at most 6 nested brackets.
    int depth = 0, deepest = 0;
    for (char c : a.canonical) {
      depth += c == '[' ? 1 : c == ']' ? -1 : 0;
      deepest = std::max(deepest, depth);
    }
    EXPECT_LE(deepest, 6);
  }
  EXPECT_GT(hashes.size(), 50u);
}

TEST(GrammarSpace, CursorAgreesWithReplayingThePrefix) {
  auto space = space_from_source("rec", R"(%max-depth 6
net   -> block block
block -> op | block block [0.4] | op block
op    -> "conv3x3" | "skip" | "none"
)")
                   .value();
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Rng rng(seed);
    auto cursor = space->cursor();
    while (!cursor->choices().empty()) {
      const auto expected = space->choices(cursor->decisions());
      ASSERT_EQ(cursor->choices().size(), expected.size());
      std::vector<double> w;
      for (size_t c = 0; c < expected.size(); ++c) {
        EXPECT_EQ(cursor->choices()[c].label, expected[c].label);
        EXPECT_DOUBLE_EQ(cursor->choices()[c].prior, expected[c].prior);
        w.push_back(expected[c].prior);
      }
      cursor->choose(static_cast<int>(sample_index(rng, w)));
    }
    const std::vector<int> d = cursor->decisions();
    const auto slots = space->slots(d);
    // A decision's subtree is closed after prefix length L iff it ends by L.
    for (size_t len = 1; len <= d.size(); ++len) {
      const std::vector<int> prefix(d.begin(), d.begin() + len);
      for (size_t i = 0; i < len; ++i) {
        EXPECT_EQ(space->subtree_closed(prefix, static_cast<int>(i)),
                  slots[i].end <= static_cast<int>(len))
            << "seed " << seed << " prefix " << len << " decision " << i;
      }
    }
    EXPECT_THROW(cursor->choose(0), std::invalid_argument);
  }
}

TEST(GrammarSpace, ParseErrorsAreClear) {
  auto space = space_of("start -> op op\nop -> \"conv3x3\" | \"skip\"\n");
  EXPECT_EQ(space->parse("skip/conv5x5").status().message(),
            "key 'skip/conv5x5': part 2 'conv5x5' is not a choice there (choices: conv3x3, skip)");
  EXPECT_EQ(space->parse("skip").status().message(),
            "key 'skip' ends after 1 parts, but more decisions follow in 'toy.grammar'");
  EXPECT_EQ(
      space->parse("skip/skip/skip").status().message(),
      "key 'skip/skip/skip' has 3 parts, but architectures of 'toy.grammar' have 2 decisions");
  EXPECT_EQ(space->parse("[start [op skip] [op conv3x3]").status().message(),
            "canonical form, column 30: expected ']' before the end");
  EXPECT_EQ(space->parse("[start [op skip] [op max]]").status().message(),
            "canonical form: 'op' has no alternative 'max' at depth 2");
  EXPECT_EQ(space->parse("[start [op skip] [op conv3x3]]").value().key, "skip/conv3x3");
}

TEST(BuiltinSpaces, NasBenchMacroKeysAreTheBenchmarkKeys) {
  auto space = make_space("nas-bench-macro").value();
  EXPECT_EQ(space->build_spec().stages, (std::vector<int>{2, 3, 3}));
  EXPECT_EQ(space->build_spec().head_channels, 1280);
  std::ifstream csv(SYLVA_SOURCE_DIR "/../shared/benchmarks/nas-bench-macro-cifar10.csv");
  if (!csv) GTEST_SKIP() << "benchmark table not found";
  std::string line;
  std::getline(csv, line);
  std::set<std::string> table;
  while (std::getline(csv, line)) table.insert(line.substr(0, line.find(',')));
  ASSERT_EQ(table.size(), 6561u);
  // Enumerate the whole space through the decision tree.
  std::set<std::string> keys;
  std::vector<int> d(8, 0);
  for (int n = 0; n < 6561; ++n) {
    int x = n;
    for (int i = 0; i < 8; ++i, x /= 3) d[i] = x % 3;
    keys.insert(space->make(d).value().key);
  }
  EXPECT_EQ(keys, table);
  auto a = space->parse(
      "identity/mbconv_e3_k3/mbconv_e6_k5/identity/identity/identity/identity/identity");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a.value().primitives[2], "mbconv_e6_k5");
}

TEST(BuiltinSpaces, Nb201KeyIsSixEdgesInArchStringOrder) {
  auto space = make_space("nb201").value();
  EXPECT_EQ(space->build_spec().builder, "cell");
  auto a = space->make({3, 1, 0, 2, 4, 3}).value();
  EXPECT_EQ(a.key, "nor_conv_3x3/skip_connect/none/nor_conv_1x1/avg_pool_3x3/nor_conv_3x3");
  EXPECT_EQ(a.primitives.size(), 6u);
}

TEST(BuiltinSpaces, EmbeddedTextEqualsTheGrammarFiles) {
  for (const auto& name : builtin_space_names()) {
    std::ifstream in(std::string(SYLVA_SOURCE_DIR) + "/spaces/grammar/grammars/" + name +
                     ".grammar");
    std::stringstream buf;
    buf << in.rdbuf();
    EXPECT_EQ(make_space(name).value()->source(), buf.str()) << name;
  }
  EXPECT_EQ(
      make_space("no-such-space").status().message(),
      "--space 'no-such-space' is neither a built-in space (einspace, mlp, nas-bench-macro, nb201) "
      "nor a "
      "readable grammar file");
}

}  // namespace
}  // namespace sylva
