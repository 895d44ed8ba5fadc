// Hyperparameters as decisions: `%hparam` lines and `--hparam` values parse
// (lists, log(), linear()) and refuse what they cannot hold at their
// file:line:col; the wrapper's keys and canonical forms round-trip through
// parse() and through space_from_source(source()); its cursor, slots,
// encoding and split agree with the inner space; command-line
// hyperparameters are added to any space, and a name in both places is
// refused; retargeting and supernet specs keep the hyperparameters.
#include "spaces/hparam_space.h"

#include <gtest/gtest.h>

#include <random>

#include "spaces/supernets/family.h"

namespace sylva {
namespace {

const std::string kToy =
    "%hparam lr = 0.01 | 0.1\n"
    "%hparam wd = 0 | 1e-4\n"
    "net -> op op\n"
    "op -> \"conv3x3\" | \"skip\" | \"none\"\n";

std::unique_ptr<Space> space_of(const std::string& text, const std::string& name = "toy.grammar") {
  auto s = space_from_source(name, text);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

std::vector<std::string> values_of(const std::string& line) {
  auto d = parse_hparam_decl(line, "f.grammar", 1);
  EXPECT_TRUE(d.is_ok()) << d.status().message();
  return d.is_ok() ? d.value().values : std::vector<std::string>{};
}

std::string error_of(const std::string& line) {
  auto d = parse_hparam_decl(line, "f.grammar", 3);
  EXPECT_FALSE(d.is_ok()) << line;
  return d.is_ok() ? "" : d.status().message();
}

using Values = std::vector<std::string>;

TEST(HparamDecl, ListsLogAndLinearValues) {
  auto d = parse_hparam_decl("  %hparam lr = 0.01 | 0.03 | 0.1   # peak", "f", 1);
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_EQ(d.value().name, "lr");
  EXPECT_EQ(d.value().values, (Values{"0.01", "0.03", "0.1"}));
  EXPECT_EQ(values_of("%hparam optimizer=sgd,adamw"), (Values{"sgd", "adamw"}));
  EXPECT_EQ(values_of("%hparam lr = log(1e-4, 1e-1, 4)"),
            (Values{"0.0001", "0.001", "0.01", "0.1"}));
  EXPECT_EQ(values_of("%hparam wd = log(1e-5, 1e-2, 7)"),
            (Values{"1e-05", "3.16e-05", "0.0001", "0.000316", "0.001", "0.00316", "0.01"}));
  EXPECT_EQ(values_of("%hparam width = linear(16, 64, 4)"), (Values{"16", "32", "48", "64"}));
  EXPECT_EQ(values_of("%hparam s = linear(0, 1, 5)"), (Values{"0", "0.25", "0.5", "0.75", "1"}));
  // Generators and plain values mix.
  EXPECT_EQ(values_of("%hparam m = 0 | log(1, 100, 3)"), (Values{"0", "1", "10", "100"}));
  EXPECT_EQ(hparam_line({"lr", {"0.01", "0.1"}}), "%hparam lr = 0.01 | 0.1");
}

TEST(HparamDecl, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(error_of("%hparam 1lr = 0.1"),
            "f.grammar:3:9: '1lr' is not a hyperparameter name (letters, digits and '_', not "
            "starting with a digit)");
  EXPECT_EQ(error_of("%hparam"),
            "f.grammar:3:8: expected a hyperparameter name: %hparam NAME = V1 | V2 | ...");
  EXPECT_EQ(error_of("%hparam lr 0.1"),
            "f.grammar:3:12: expected '=' after 'lr': %hparam lr = V1 | V2 | ...");
  EXPECT_EQ(error_of("%hparam lr ="),
            "f.grammar:3:13: expected values after '=' (V1 | V2 | ..., log(a, b, n) or "
            "linear(a, b, n))");
  EXPECT_EQ(error_of("%hparam lr = 0.1 || 0.2"), "f.grammar:3:19: empty value");
  EXPECT_EQ(error_of("%hparam lr = 0.1 |"), "f.grammar:3:18: empty value");
  EXPECT_EQ(error_of("%hparam lr = 0.1 | 0.1"), "f.grammar:3:20: value '0.1' is given twice");
  EXPECT_EQ(error_of("%hparam lr = a/b"), "f.grammar:3:15: value 'a/b' may not contain '/'");
  EXPECT_EQ(error_of("%hparam lr = a=b"), "f.grammar:3:15: value 'a=b' may not contain '='");
  EXPECT_EQ(error_of("%hparam lr = 0.1 0.2"),
            "f.grammar:3:17: value '0.1 0.2' contains white space (values are separated by '|' "
            "or ',')");
  EXPECT_EQ(error_of("%hparam lr = log(0, 1, 3)"),
            "f.grammar:3:18: log(a, b, n): a must be > 0, got '0'");
  EXPECT_EQ(error_of("%hparam lr = log(1, x, 3)"),
            "f.grammar:3:21: log(a, b, n): b must be a number, got 'x'");
  EXPECT_EQ(error_of("%hparam lr = log(1, 2, 1.5)"),
            "f.grammar:3:24: log(a, b, n): n must be an integer in [2, 1000], got '1.5'");
  EXPECT_EQ(error_of("%hparam lr = linear(1, 2)"),
            "f.grammar:3:20: linear(a, b, n) takes 3 arguments, got 2");
  EXPECT_EQ(error_of("%hparam lr = exp(1, 2, 3)"),
            "f.grammar:3:14: unknown generator 'exp' (log or linear)");
  EXPECT_EQ(error_of("%hparam lr = log(1, 2, 3"), "f.grammar:3:17: '(' without ')'");
  EXPECT_EQ(error_of("%hparam lr = log(1, 1.001, 5)"),
            "f.grammar:3:17: log(1, 1.001, 5) gives '1' twice once written with 3 significant "
            "digits");
  EXPECT_EQ(error_of("%hparam n = linear(1, 2, 3) | 1.5"),
            "f.grammar:3:31: value '1.5' is given twice");
}

TEST(HparamDecl, CommandLineValuesAndTheirJoinedForm) {
  auto one = parse_hparam_option("lr=0.01,0.1");
  ASSERT_TRUE(one.is_ok()) << one.status().message();
  EXPECT_EQ(one.value().name, "lr");
  EXPECT_EQ(one.value().values, (Values{"0.01", "0.1"}));
  // A repeated --hparam is stored joined by ','.
  auto all = parse_hparam_options("lr=0.01,0.1,wd=log(1e-5,1e-3,3),opt=sgd");
  ASSERT_TRUE(all.is_ok()) << all.status().message();
  ASSERT_EQ(all.value().size(), 3u);
  EXPECT_EQ(all.value()[1].name, "wd");
  EXPECT_EQ(all.value()[1].values, (Values{"1e-05", "0.0001", "0.001"}));
  EXPECT_EQ(all.value()[2].values, (Values{"sgd"}));
  EXPECT_TRUE(parse_hparam_options("").value().empty());
  EXPECT_EQ(parse_hparam_option("lr").status().message(), "--hparam 'lr': expected NAME=V1,V2,...");
  EXPECT_EQ(parse_hparam_option("lr=").status().message(),
            "--hparam 'lr=': expected values after '=' (V1 | V2 | ..., log(a, b, n) or "
            "linear(a, b, n))");
  EXPECT_EQ(parse_hparam_option("l r=1").status().message(),
            "--hparam 'l r=1': 'l r' is not a hyperparameter name (letters, digits and '_', not "
            "starting with a digit)");
  EXPECT_EQ(parse_hparam_options("lr=1,lr=2").status().message(), "--hparam 'lr' is given twice");
}

TEST(HparamSpace, DecisionsComeFirstAndFormTheKeyAndCanonicalForm) {
  auto space = space_of(kToy);
  ASSERT_TRUE(space);
  const HparamSpace* h = as_hparam_space(*space);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(space->name(), "toy.grammar");
  ASSERT_EQ(h->hparams().size(), 2u);
  auto first = space->choices({});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].label, "lr=0.01");
  EXPECT_EQ(first[1].label, "lr=0.1");
  EXPECT_DOUBLE_EQ(first[0].prior, 0.5);
  EXPECT_EQ(space->choices({1})[1].label, "wd=1e-4");
  EXPECT_EQ(space->choices({1, 0}).size(), 3u);  // the inner space's first decision
  EXPECT_THROW(space->choices({2}), std::invalid_argument);

  auto arch = space->make({1, 0, 0, 1});
  ASSERT_TRUE(arch.is_ok()) << arch.status().message();
  const Architecture inner = h->inner().make({0, 1}).value();
  EXPECT_EQ(arch.value().key, "lr=0.1/wd=0/conv3x3/skip");
  EXPECT_EQ(arch.value().canonical, "lr=0.1/wd=0/" + inner.canonical);
  EXPECT_EQ(arch.value().hash, fnv1a64(arch.value().canonical));
  EXPECT_NE(arch.value().hash, inner.hash);
  EXPECT_EQ(arch.value().decisions, (std::vector<int>{1, 0, 0, 1}));
  EXPECT_EQ(arch.value().labels, (Values{"lr=0.1", "wd=0", "conv3x3", "skip"}));
  EXPECT_EQ(arch.value().primitives, inner.primitives);
  EXPECT_FALSE(space->make({1}).is_ok());
  EXPECT_FALSE(space->make({1, 2, 0, 0}).is_ok());
}

TEST(HparamSpace, KeysAndCanonicalFormsRoundTripThroughParseAndSource) {
  auto space = space_of(kToy);
  ASSERT_TRUE(space);
  // The source rebuilds the same space, and a rebuilt space's source is itself.
  auto again = space_of(space->source());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->source(), space->source());
  int count = 0;
  for (int a = 0; a < 2; ++a) {
    for (int b = 0; b < 2; ++b) {
      for (int c = 0; c < 3; ++c) {
        for (int d = 0; d < 3; ++d) {
          const Architecture arch = space->make({a, b, c, d}).value();
          auto by_key = space->parse(arch.key);
          ASSERT_TRUE(by_key.is_ok()) << by_key.status().message();
          EXPECT_EQ(by_key.value().decisions, arch.decisions);
          auto by_canonical = space->parse(arch.canonical);
          ASSERT_TRUE(by_canonical.is_ok()) << by_canonical.status().message();
          EXPECT_EQ(by_canonical.value().key, arch.key);
          EXPECT_EQ(by_canonical.value().hash, arch.hash);
          EXPECT_EQ(again->parse(arch.canonical).value().decisions, arch.decisions);
          ++count;
        }
      }
    }
  }
  EXPECT_EQ(count, 36);
  // Added on the command line: the same forms, and a source that rebuilds it.
  auto plain = space_of("net -> op op\nop -> \"conv3x3\" | \"skip\" | \"none\"\n");
  auto added = add_hparams(std::move(plain), {{"lr", {"0.01", "0.1"}}, {"wd", {"0", "1e-4"}}});
  ASSERT_TRUE(added.is_ok()) << added.status().message();
  EXPECT_EQ(added.value()->source(),
            "%hparam lr = 0.01 | 0.1\n%hparam wd = 0 | 1e-4\nnet -> op op\nop -> \"conv3x3\" | "
            "\"skip\" | \"none\"\n");
  auto rebuilt = space_of(added.value()->source());
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ(rebuilt->make({1, 0, 0, 1}).value().canonical,
            space->make({1, 0, 0, 1}).value().canonical);
}

TEST(HparamSpace, ParseNamesWhatIsWrong) {
  auto space = space_of(kToy);
  ASSERT_TRUE(space);
  EXPECT_EQ(space->parse("lr=0.5/wd=0/conv3x3/skip").status().message(),
            "'lr=0.5/wd=0/conv3x3/skip': hyperparameter lr is one of 0.01 | 0.1, got '0.5'");
  EXPECT_EQ(space->parse("wd=0/lr=0.1/conv3x3/skip").status().message(),
            "'wd=0/lr=0.1/conv3x3/skip': expected 'lr=VALUE' next (architectures of "
            "'toy.grammar' begin with lr=VALUE/wd=VALUE/)");
  EXPECT_EQ(space->parse("conv3x3/skip").status().message(),
            "'conv3x3/skip': expected 'lr=VALUE' next (architectures of 'toy.grammar' begin with "
            "lr=VALUE/wd=VALUE/)");
  EXPECT_EQ(space->parse("lr=0.1/wd=0").status().message(),
            "'lr=0.1/wd=0' ends after its hyperparameters; the architecture follows them");
  // The inner part is the inner space's to judge.
  EXPECT_FALSE(space->parse("lr=0.1/wd=0/conv3x3/conv7x7").is_ok());
}

TEST(HparamSpace, LineNumbersOfTheGrammarStayRight) {
  auto s = space_from_source("bad.grammar",
                             "%hparam lr = 0.1 | 0.2\n"
                             "net -> op op\n"
                             "op -> \"conv3x3\" | \"conv7x7\"\n");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().location()->line, 3);
  EXPECT_EQ(s.status().location()->file, "bad.grammar");
  auto malformed = space_from_source("bad.grammar",
                                     "net -> op op\n"
                                     "  %hparam lr = 0.1 | 0.1\n"
                                     "op -> \"conv3x3\" | \"skip\"\n");
  ASSERT_FALSE(malformed.is_ok());
  EXPECT_EQ(malformed.status().message(), "bad.grammar:2:22: value '0.1' is given twice");
  auto twice = space_from_source("bad.grammar",
                                 "%hparam lr = 0.1\n"
                                 "%hparam lr = 0.2\n"
                                 "net -> \"conv3x3\" | \"skip\"\n");
  ASSERT_FALSE(twice.is_ok());
  EXPECT_EQ(twice.status().message(),
            "bad.grammar:2:9: hyperparameter 'lr' is declared twice (first on line 1)");
  // %hparams is not %hparam: the grammar parser judges it.
  EXPECT_FALSE(space_from_source("g", "%hparams lr = 1\nnet -> \"conv3x3\" | \"skip\"\n").is_ok());
}

TEST(HparamSpace, CursorAgreesWithChoicesEverywhere) {
  auto base = make_space("nb201").value();
  auto space =
      add_hparams(std::move(base), {{"lr", {"0.01", "0.1", "1"}}, {"opt", {"sgd", "adamw"}}})
          .value();
  std::mt19937_64 rng(7);
  for (int draw = 0; draw < 50; ++draw) {
    auto cursor = space->cursor();
    std::vector<int> prefix;
    while (true) {
      const auto expected = space->choices(prefix);
      const auto& got = cursor->choices();
      ASSERT_EQ(got.size(), expected.size());
      EXPECT_EQ(cursor->choice_count(), expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].label, expected[i].label);
        EXPECT_DOUBLE_EQ(got[i].prior, expected[i].prior);
      }
      for (int i = 0; i < static_cast<int>(prefix.size()); ++i) {
        EXPECT_EQ(cursor->subtree_closed(i), space->subtree_closed(prefix, i)) << i;
      }
      if (got.empty()) break;
      const int pick = static_cast<int>(rng() % got.size());
      cursor->choose(pick);
      prefix.push_back(pick);
      EXPECT_EQ(cursor->decisions(), prefix);
    }
    EXPECT_EQ(prefix.size(), 8u);
    EXPECT_TRUE(space->make(prefix).is_ok());
  }
  auto cursor = space->cursor();
  EXPECT_THROW(cursor->choose(3), std::invalid_argument);
}

TEST(HparamSpace, SlotsEncodingAndKnownMetricsFollowTheInnerSpace) {
  auto base = make_space("nb201").value();
  const std::vector<int> inner_decisions = {0, 1, 2, 3, 4, 0};
  const auto inner_slots = base->slots(inner_decisions);
  const auto inner_code = base->encode(inner_decisions);
  auto space =
      add_hparams(std::move(base), {{"lr", {"0.01", "0.1"}}, {"wd", {"0", "1e-4", "1e-3"}}})
          .value();
  const std::vector<int> decisions = {1, 2, 0, 1, 2, 3, 4, 0};
  const auto slots = space->slots(decisions);
  ASSERT_EQ(slots.size(), 8u);
  EXPECT_EQ(slots[0].kind, "hparam:lr");
  EXPECT_EQ(slots[0].end, 1);
  EXPECT_EQ(slots[1].kind, "hparam:wd");
  EXPECT_EQ(slots[1].end, 2);
  for (size_t i = 0; i < inner_slots.size(); ++i) {
    EXPECT_EQ(slots[i + 2].kind, inner_slots[i].kind);
    EXPECT_EQ(slots[i + 2].end, inner_slots[i].end + 2);
  }
  EXPECT_TRUE(space->subtree_closed({1}, 0));
  EXPECT_FALSE(space->subtree_closed({1}, 1));
  // One-hot per hyperparameter (2 + 3), then the inner encoding (6 edges x 5 ops).
  const auto code = space->encode(decisions);
  ASSERT_EQ(code.size(), 5 + inner_code.size());
  EXPECT_EQ(inner_code.size(), 30u);
  EXPECT_EQ(std::vector<double>(code.begin(), code.begin() + 5),
            (std::vector<double>{0, 1, 0, 0, 1}));
  EXPECT_EQ(std::vector<double>(code.begin() + 5, code.end()), inner_code);
  EXPECT_EQ(space->build_spec().builder, "cell");
  EXPECT_TRUE(space->known_metrics(decisions).empty());
}

TEST(HparamSpace, SplitGivesTheInnerArchitectureAndTheValues) {
  auto space = space_of(kToy);
  ASSERT_TRUE(space);
  const Architecture arch = space->parse("lr=0.01/wd=1e-4/none/skip").value();
  const HparamSplit split = split_hparams(*space, arch);
  const HparamSpace* h = as_hparam_space(*space);
  EXPECT_EQ(split.space, &h->inner());
  EXPECT_EQ(split.arch.key, "none/skip");
  EXPECT_EQ(split.arch.canonical, h->inner().make({2, 1}).value().canonical);
  ASSERT_EQ(split.hparams.size(), 2u);
  EXPECT_EQ(split.hparams[0].name, "lr");
  EXPECT_EQ(split.hparams[0].value, "0.01");
  EXPECT_EQ(split.hparams[1].name, "wd");
  EXPECT_EQ(split.hparams[1].value, "1e-4");
  // A space without hyperparameters splits into itself.
  auto plain = make_space("nb201").value();
  const Architecture a = plain->make({0, 1, 2, 3, 4, 0}).value();
  const HparamSplit same = split_hparams(*plain, a);
  EXPECT_EQ(same.space, plain.get());
  EXPECT_EQ(same.arch.canonical, a.canonical);
  EXPECT_TRUE(same.hparams.empty());
  EXPECT_EQ(as_hparam_space(*plain), nullptr);
}

TEST(HparamSpace, CommandLineHyperparametersExtendTheFilesAndConflictsNameBoth) {
  auto space = space_of(kToy);
  auto extended = add_hparams(std::move(space), {{"optimizer", {"sgd", "adamw"}}});
  ASSERT_TRUE(extended.is_ok()) << extended.status().message();
  const HparamSpace* h = as_hparam_space(*extended.value());
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(h->hparams().size(), 3u);
  EXPECT_EQ(h->hparams()[2].name, "optimizer");
  EXPECT_EQ(extended.value()->make({0, 0, 1, 0, 0}).value().key,
            "lr=0.01/wd=0/optimizer=adamw/conv3x3/conv3x3");
  EXPECT_EQ(hparam_names_of_source(extended.value()->source()), (Values{"lr", "wd", "optimizer"}));
  auto conflict = add_hparams(space_of(kToy), {{"wd", {"0.1"}}});
  EXPECT_EQ(conflict.status().message(),
            "--hparam wd is declared by space 'toy.grammar' too (%hparam wd = 0 | 1e-4); declare "
            "it in one place");
  // No hyperparameters: the space as it was.
  auto plain = make_space("nb201").value();
  const Space* before = plain.get();
  EXPECT_EQ(add_hparams(std::move(plain), {}).value().get(), before);
  EXPECT_EQ(HparamSpace::make(make_space("nb201").value(), {{"lr", {"1"}}, {"lr", {"2"}}})
                .status()
                .message(),
            "hyperparameter 'lr' is declared twice");
  EXPECT_FALSE(HparamSpace::make(make_space("nb201").value(), {{"lr", {"a b"}}}).is_ok());
  auto made = make_space_with_hparams("nb201", "lr=0.1,1,batch=linear(32,128,4)");
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  EXPECT_EQ(hparam_names_of_source(made.value()->source()), (Values{"lr", "batch"}));
  EXPECT_EQ(made.value()->choices({0})[3].label, "batch=128");
  EXPECT_EQ(make_space_with_hparams("nb201", "lr").status().message(),
            "--hparam 'lr': expected NAME=V1,V2,...");
}

TEST(HparamSpace, RetargetingKeepsTheHyperparameters) {
  auto typed = space_of(
      "%hparam lr = 0.1 | 0.2\n"
      "%state tensor\n%input 1 4 4\n%max-depth 4\n"
      "S -> branch(B, M, A)\n"
      "M -> C\n"
      "B -> \"clone\"(2)\n"
      "A -> \"add\"\n"
      "C -> \"identity\" | \"linear\"(16 | 32)\n",
      "typed.grammar");
  ASSERT_TRUE(typed);
  SpaceTarget t;
  t.max_nodes = 40;
  auto moved = retarget_space(*typed, t);
  ASSERT_TRUE(moved.is_ok()) << moved.status().message();
  ASSERT_NE(moved.value(), nullptr);
  const HparamSpace* h = as_hparam_space(*moved.value());
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->hparams()[0].values, (Values{"0.1", "0.2"}));
  EXPECT_NE(h->inner().source().find("%max-nodes 40"), std::string::npos);
  // Stored and rebuilt, it changes nothing more.
  auto rebuilt = space_of(moved.value()->source(), "typed.grammar");
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ(retarget_space(*rebuilt, t).value(), nullptr);
  EXPECT_EQ(rebuilt->choices({}).size(), 2u);
  // A space that is not typed: nothing to change, and budgets are refused as before.
  auto macro = make_space_with_hparams("nas-bench-macro", "lr=0.1,0.2").value();
  EXPECT_EQ(retarget_space(*macro, SpaceTarget{}).value(), nullptr);
  SpaceTarget budget;
  budget.max_params = 1000;
  EXPECT_EQ(retarget_space(*macro, budget).status().message(),
            "--max-params applies to typed grammars (%state tensor); space 'nas-bench-macro' is "
            "not one");
}

TEST(HparamSpace, SupernetSpecsTakeHyperparametersToo) {
  const SupernetFamily* ofa = find_supernet_family("ofa");
  ASSERT_NE(ofa, nullptr);
  const std::string spec = ofa->spec_for(1, 28, 10);
  auto plain = space_of(spec, "supernet:x.pt");
  ASSERT_TRUE(plain);
  auto space = space_of("%hparam lr = 0.01 | 0.1\n" + spec, "supernet:x.pt");
  ASSERT_TRUE(space);
  const HparamSpace* h = as_hparam_space(*space);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->inner().source(), plain->source());
  EXPECT_TRUE(is_supernet_source(h->inner().source()));
  EXPECT_EQ(space->choices({1}).size(), plain->choices({}).size());
  // Budgets are the spec's words: retargeting the inner spec keeps the wrapper.
  SpaceTarget t;
  t.max_params = 5000000;
  auto moved = retarget_space(*space, t);
  ASSERT_TRUE(moved.is_ok()) << moved.status().message();
  ASSERT_NE(moved.value(), nullptr);
  EXPECT_NE(moved.value()->source().find("max-params=5000000"), std::string::npos);
  EXPECT_EQ(as_hparam_space(*moved.value())->hparams().size(), 1u);
}

TEST(HparamSpace, NamesOfASourceWithoutBuildingIt) {
  EXPECT_EQ(hparam_names_of_source(kToy), (Values{"lr", "wd"}));
  EXPECT_EQ(hparam_names_of_source("net -> \"conv3x3\"\n"), Values{});
  EXPECT_EQ(hparam_names_of_source("# %hparam lr = 1\n  %hparam  momentum=0.9,0.99\n"),
            (Values{"momentum"}));
}

}  // namespace
}  // namespace sylva
