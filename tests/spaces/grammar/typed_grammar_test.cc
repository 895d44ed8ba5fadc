// Typed grammars (%state tensor) and the einspace space: choices filtered by
// shape and budget before they are made, samples that are always valid
// networks, canonical forms that parse back to the same tree, the seed
// architectures with their parameter counts, and errors with positions.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "spaces/einspace/network.h"
#include "spaces/grammar/typed_grammar_space.h"
#include "spaces/space.h"

namespace sylva {
namespace {

std::unique_ptr<Space> space_of(const std::string& text) {
  auto s = space_from_source("test.grammar", text);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

std::unique_ptr<Space> einspace_at(int64_t c, int64_t h, int64_t w) {
  auto base = make_space("einspace").value();
  SpaceTarget t;
  t.channels = c;
  t.height = h;
  t.width = w;
  t.classes = 10;
  auto moved = retarget_space(*base, t).value();
  return moved ? std::move(moved) : std::move(base);
}

const TypedGrammarSpace& typed(const Space& s) { return dynamic_cast<const TypedGrammarSpace&>(s); }

// Chooses by the priors, as the strategies' samplers do.
Architecture sample(const Space& space, std::mt19937_64& rng) {
  auto cursor = space.cursor();
  while (!cursor->choices().empty()) {
    std::vector<double> w;
    for (const auto& c : cursor->choices()) w.push_back(c.prior);
    std::discrete_distribution<int> pick(w.begin(), w.end());
    cursor->choose(pick(rng));
  }
  auto arch = space.make(cursor->decisions());
  EXPECT_TRUE(arch.is_ok()) << arch.status().message();
  return arch.value();
}

// The offered choices: every alternative is listed, those that cannot
// complete a valid network with prior 0.
std::vector<std::string> labels(const std::vector<Choice>& choices) {
  std::vector<std::string> out;
  for (const auto& c : choices) {
    if (c.prior > 0) out.push_back(c.label);
  }
  return out;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

TEST(TypedGrammar, GroupingIsFilteredPerDimensionAndConcatPerBranchCount) {
  auto space = einspace_at(1, 28, 28);
  // S -> branch(B, M, A): its B decision on the 1x28x28 input. One channel
  // cannot be grouped; 28 splits in 2 and 4 along H or W, not in 8.
  const auto& s = space->choices({});
  ASSERT_EQ(labels(s),
            (std::vector<std::string>{"sequential(M, M)", "branch(B, M, A)", "route(P, M, R)"}));
  EXPECT_EQ(labels(space->choices({1})),
            (std::vector<std::string>{"clone2", "clone4", "clone8", "group2_dim2", "group4_dim2",
                                      "group2_dim3", "group4_dim3"}));
  // Two independent branches of C (no shape change): every aggregation of
  // two equal 1x28x28 tensors but the dot products needs 28 = 28 -- all fit.
  // Under clone8 there is one shared M, and the aggregations see 8 inputs:
  // dot products take exactly two, so they are not offered.
  const int clone8 = 2, m_is_c = 3, identity = 0;
  const auto agg = space->choices({1, clone8, m_is_c, identity});
  EXPECT_EQ(labels(agg),
            (std::vector<std::string>{"add", "concat_dim1", "concat_dim2", "concat_dim3"}));
  const auto two = space->choices({1, 0, m_is_c, identity, m_is_c, identity});
  EXPECT_EQ(labels(two), (std::vector<std::string>{"dot_product", "scaled_dot_product", "add",
                                                   "concat_dim1", "concat_dim2", "concat_dim3"}));
}

// A draw by the priors searches for a witness of what it draws only, and
// takes each choice as often as choices() offers it: under clone8 the four
// aggregations that take eight inputs, a quarter each, never a dot product.
TEST(TypedGrammar, ADrawTakesTheOfferedChoicesByTheirPriorsAndSearchesLess) {
  auto space = einspace_at(1, 28, 28);
  const std::vector<int> prefix = {1, 2, 3, 0};  // branch, clone8, M -> C, identity
  const auto& stats = typed(*space).stats();
  int64_t before = stats.witness_searches;
  const auto offered = space->choices(prefix);
  const int64_t offering = stats.witness_searches - before;
  ASSERT_EQ(offered.size(), 6u);
  EXPECT_EQ(offering, 4);  // the dot products fail as they apply, before any search
  Rng rng(11);
  const int n = 4000;
  std::vector<int> count(offered.size(), 0);
  int64_t drawing = 0;
  for (int i = 0; i < n; ++i) {
    auto cursor = space->cursor();
    for (int d : prefix) cursor->choose(d);
    before = stats.witness_searches;
    const int index = cursor->draw(rng);
    drawing += stats.witness_searches - before;
    ASSERT_EQ(cursor->decisions().back(), index);
    ASSERT_TRUE(cursor->choices().empty());  // the aggregation ends the network
    ++count[index];
  }
  for (size_t a = 0; a < offered.size(); ++a) {
    const double expected = offered[a].prior * n;
    if (offered[a].prior == 0) {
      EXPECT_EQ(count[a], 0) << offered[a].label;
    } else {
      EXPECT_DOUBLE_EQ(offered[a].prior, 0.25) << offered[a].label;
      EXPECT_NEAR(count[a], expected, 4 * std::sqrt(expected)) << offered[a].label;
    }
  }
  // A draw that meets a dot product draws again without a search: one search
  // a draw, where offering the choices took four.
  EXPECT_EQ(drawing, n);
}

TEST(TypedGrammar, BranchOutputsThatCannotBeAggregatedAreNeverReached) {
  // Two branches: the second must end in a shape the first's output can be
  // added to; a linear that no later choice can undo is not offered there.
  auto space = space_of(
      "%state tensor\n%input 1 4 4\n%max-depth 4\n"
      "S -> branch(B, M, A)\n"
      "M -> C\n"
      "B -> \"clone\"(2)\n"
      "A -> \"add\"\n"
      "C -> \"identity\" | \"linear\"(16 | 32)\n");
  ASSERT_TRUE(space);
  // First branch: all three; then the second must match it.
  EXPECT_EQ(labels(space->choices({})),
            (std::vector<std::string>{"identity", "linear16", "linear32"}));
  EXPECT_EQ(labels(space->choices({1})), (std::vector<std::string>{"linear16"}));
  EXPECT_EQ(labels(space->choices({2})), (std::vector<std::string>{"linear32"}));
  // Decisions are grammar alternatives in every context.
  EXPECT_EQ(space->choices({2}).size(), 3u);
  EXPECT_EQ(space->choices({2})[0].prior, 0);
  EXPECT_FALSE(space->make({2, 0}).is_ok());
  EXPECT_EQ(space->make({2, 2}).value().canonical,
            "[S [B clone2] [M [C linear32]] [M [C linear32]] [A add]]");
}

// Whether `prefix` has a valid completion, by trying every alternative at
// every decision (no witness search).
bool completable(const Space& space, const std::vector<int>& prefix) {
  auto cursor = space.cursor();
  try {
    for (int d : prefix) cursor->choose(d);
  } catch (const std::invalid_argument&) {
    return false;
  }
  const size_t n = cursor->choice_count();
  if (n == 0) return space.make(prefix).is_ok();
  std::vector<int> next = prefix;
  next.push_back(0);
  for (size_t a = 0; a < n; ++a) {
    next.back() = static_cast<int>(a);
    if (completable(space, next)) return true;
  }
  return false;
}

// With budgets small enough for every witness search to finish, a choice is
// offered exactly when some completion of it is a valid network: the
// searches' prunings (failed states kept across searches, ranks that no
// aggregation can join, copies the node budget forbids) drop nothing valid.
TEST(TypedGrammar, EveryCompletableChoiceIsOfferedAndNothingElse) {
  for (int max_nodes : {9, 11, 13, 15}) {
    auto space = space_of("%state tensor\n%input 1 4 4\n%max-depth 8\n%max-nodes " +
                          std::to_string(max_nodes) +
                          "\n"
                          "S -> branch(B, M, A) | sequential(M, M)\n"
                          "M -> C | sequential(M, M) | route(P, M, R) | branch(B, M, A)\n"
                          "B -> \"clone\"(2)\n"
                          "A -> \"add\" | \"concat\"(1)\n"
                          "P -> \"identity\" | \"im2col\"(1 1 0)\n"
                          "R -> \"identity\" | \"col2im\"\n"
                          "C -> \"identity\" | \"linear\"(16)\n");
    ASSERT_TRUE(space);
    const auto& stats = typed(*space).stats();
    std::vector<std::vector<int>> open = {{}};
    int decisions = 0, refused = 0;
    while (!open.empty()) {
      const std::vector<int> prefix = open.back();
      open.pop_back();
      const auto choices = space->choices(prefix);
      if (choices.empty()) continue;
      ++decisions;
      for (size_t a = 0; a < choices.size(); ++a) {
        std::vector<int> next = prefix;
        next.push_back(static_cast<int>(a));
        const bool valid = completable(*space, next);
        ASSERT_EQ(choices[a].prior > 0, valid) << "%max-nodes " << max_nodes << ", decision "
                                               << prefix.size() << " " << choices[a].label;
        if (valid) {
          open.push_back(next);
        } else {
          ++refused;
        }
      }
    }
    EXPECT_EQ(stats.exhausted, 0) << max_nodes;
    EXPECT_GT(decisions, 50) << max_nodes;
    EXPECT_GT(refused, 10) << max_nodes;
    std::cout << max_nodes << ": " << decisions << " decisions, " << refused << " refused\n";
  }
}

TEST(TypedGrammar, BudgetsBoundEverySample) {
  const std::string src = make_space("einspace").value()->source();
  auto space = space_of(src + "%max-nodes 12\n%max-params 20000\n");
  ASSERT_TRUE(space);
  std::mt19937_64 rng(5);
  int64_t most_nodes = 0, most_params = 0;
  for (int i = 0; i < 200; ++i) {
    Architecture a = sample(*space, rng);
    auto size = typed(*space).size(a.decisions).value();
    most_nodes = std::max(most_nodes, size.nodes);
    most_params = std::max(most_params, size.params);
    // The builder agrees with the analytic count.
    auto net = build_einspace_network(a.canonical, InputShape{1, 28, 28, 10}).value();
    int64_t built = 0;
    for (const auto& p : net->parameters()) built += p.numel();
    ASSERT_EQ(built, size.params) << a.canonical;
  }
  EXPECT_LE(most_nodes, 12);
  EXPECT_LE(most_params, 20000);
  EXPECT_GE(most_nodes, 10);  // the budgets shape samples, they do not empty them
}

TEST(TypedGrammar, AnalyticCostsEqualTheBuiltNetworksCount) {
  // What `sylva sample` prints: params and FLOPs from the shapes, never a
  // built module; they must be what measure_cost counts on the network, at
  // both inputs, with fusion on (conv) as the builder runs it, and for the
  // seeds (shared branches, dot products).
  for (auto dims : {std::vector<int64_t>{1, 28, 28}, std::vector<int64_t>{3, 64, 64}}) {
    auto space = einspace_at(dims[0], dims[1], dims[2]);
    const InputShape input{dims[0], dims[1], dims[2], 10};
    std::vector<Architecture> archs;
    std::mt19937_64 rng(17);
    for (int i = 0; i < 50; ++i) archs.push_back(sample(*space, rng));
    for (const char* name : {"resnet18", "wrn16-4", "vit", "mlp-mixer"}) {
      archs.push_back(space
                          ->parse(read(std::string(SYLVA_SOURCE_DIR) + "/spaces/grammar/seeds/" +
                                       name + ".arch"))
                          .value());
    }
    int with_flops = 0;
    for (const Architecture& a : archs) {
      const auto known = space->known_metrics(a.decisions);
      ASSERT_EQ(known.size(), 2u) << a.canonical;
      auto net = build_einspace_network(a.canonical, input).value();
      const Cost built = measure_cost(*net);
      EXPECT_EQ(static_cast<int64_t>(known.at("params")), built.params) << a.canonical;
      EXPECT_EQ(static_cast<int64_t>(known.at("flops")), built.flops) << a.canonical;
      with_flops += built.flops > 10 * 10;  // more than a head
    }
    EXPECT_GE(with_flops, 20);
  }
  EXPECT_TRUE(make_space("einspace").value()->known_metrics({0}).empty());
}

TEST(TypedGrammar, PastTheDepthLimitOnlyComputationIsOffered) {
  const std::string src = make_space("einspace").value()->source();
  auto space = space_of(src + "%max-depth 3\n");
  ASSERT_TRUE(space);
  // S at depth 1, its Ms at depth 2; an M there can only become C (depth 3).
  const auto first_m = space->choices({0});
  EXPECT_EQ(labels(first_m), (std::vector<std::string>{"C"}));
}

TEST(TypedGrammar, SamplesRoundTripThroughCanonicalForms) {
  for (auto dims : {std::vector<int64_t>{1, 28, 28}, std::vector<int64_t>{3, 64, 64}}) {
    auto space = einspace_at(dims[0], dims[1], dims[2]);
    std::mt19937_64 rng(11);
    for (int i = 0; i < 60; ++i) {
      Architecture a = sample(*space, rng);
      auto back = space->parse(a.canonical);
      ASSERT_TRUE(back.is_ok()) << back.status().message();
      EXPECT_EQ(back.value().hash, a.hash);
      EXPECT_EQ(back.value().decisions, a.decisions);
      EXPECT_EQ(back.value().canonical, a.canonical);
      auto size = typed(*space).size(a.decisions).value();
      EXPECT_LE(size.nodes, 1000);
      EXPECT_LE(size.params, 25000000);
    }
  }
}

TEST(TypedGrammar, SeedsParseWithThePapersParameterCounts) {
  auto space = einspace_at(3, 64, 64);
  // At 3x64x64 with 10 classes. Paper: 11.2M, 2.8M, 4.4M, 6.5M. WRN-16-4 is
  // the reference's own definition; its 2.75M rounds to the paper's 2.8M.
  const std::pair<const char*, int64_t> seeds[] = {
      {"resnet18", 11215690}, {"wrn16-4", 2751146}, {"vit", 4370442}, {"mlp-mixer", 6474762}};
  for (const auto& [name, params] : seeds) {
    const std::string text =
        read(std::string(SYLVA_SOURCE_DIR) + "/spaces/grammar/seeds/" + name + ".arch");
    auto arch = space->parse(text);
    ASSERT_TRUE(arch.is_ok()) << name << ": " << arch.status().message();
    EXPECT_EQ(typed(*space).size(arch.value().decisions).value().params, params) << name;
    // The printed form parses to the same tree.
    EXPECT_EQ(space->parse(arch.value().canonical).value().hash, arch.value().hash) << name;
  }
}

TEST(TypedGrammar, SeedsBuildAndRunOnFashionMnistShapes) {
  auto space = einspace_at(1, 28, 28);
  for (const char* name : {"resnet18", "wrn16-4", "vit", "mlp-mixer"}) {
    auto arch = space->parse(
        read(std::string(SYLVA_SOURCE_DIR) + "/spaces/grammar/seeds/" + name + ".arch"));
    ASSERT_TRUE(arch.is_ok()) << name << ": " << arch.status().message();
    auto net = build_einspace_network(arch.value().canonical, InputShape{1, 28, 28, 10});
    ASSERT_TRUE(net.is_ok()) << name << ": " << net.status().message();
    int64_t built = 0;
    for (const auto& p : net.value()->parameters()) built += p.numel();
    EXPECT_EQ(built, typed(*space).size(arch.value().decisions).value().params) << name;
    torch::NoGradGuard no_grad;
    net.value()->eval();
    EXPECT_EQ(net.value()->forward(torch::randn({2, 1, 28, 28})).sizes(),
              torch::IntArrayRef({2, 10}));
  }
}

TEST(TypedGrammar, AThousandSampledNetworksRunForwardAndBackward) {
  auto space = make_space("einspace").value();
  std::mt19937_64 rng(2024);
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  const torch::Tensor y = torch::tensor({3, 7});
  for (int i = 0; i < 1000; ++i) {
    Architecture a = sample(*space, rng);
    auto net = build_einspace_network(a.canonical, InputShape{1, 28, 28, 10});
    ASSERT_TRUE(net.is_ok()) << i << ": " << net.status().message();
    net.value()->train();
    auto loss = torch::nn::functional::cross_entropy(net.value()->forward(x), y);
    loss.backward();
    int64_t with_grad = 0;
    for (const auto& p : net.value()->parameters()) with_grad += p.grad().defined();
    // The head always learns.
    ASSERT_GE(with_grad, 2) << a.canonical;
  }
}

TEST(TypedGrammar, ErrorsNameTheFileLineAndColumn) {
  auto error_of = [](const std::string& text) {
    auto s = space_from_source("bad.grammar", text);
    return s.is_ok() ? std::string("ok") : s.status().message();
  };
  const std::string head = "%state tensor\n%input 1 8 8\n";
  EXPECT_EQ(error_of(head + "S -> sequential(M, M)\nM -> \"linear\"(16 | x)\n"),
            "bad.grammar:4:20: expected the op's arguments (numbers), got 'x'");
  EXPECT_EQ(error_of(head + "S -> sequential(M, M)\nM -> \"lineer\"(16)\n"),
            "bad.grammar:4:6: unknown op 'lineer' (known: identity, linear, linear_x, "
            "linear_div, norm, leakyrelu, softmax, pos_enc, permute, im2col, col2im, clone, "
            "group, add, concat, dot_product, scaled_dot_product)");
  EXPECT_EQ(error_of(head + "S -> sequential(M)\nM -> \"norm\"\n"),
            "bad.grammar:3:6: sequential(...) takes 2 rules, got 1");
  EXPECT_EQ(error_of(head + "S -> branch(M, M, M)\nM -> \"norm\"\n"),
            "bad.grammar:3:16: rule 'M' is used as a module (tensor to tensor) here but as a "
            "branching (the B of branch(B, M, A)) elsewhere");
  EXPECT_EQ(error_of("S -> sequential(M, M)\nM -> \"conv3x3\"\n"),
            "bad.grammar:1:6: constructor forms like 'sequential(M, M)' need '%state tensor'");
  EXPECT_EQ(error_of(head + "S -> route(P, M, R)\nP -> \"im2col\"(16 16 0)\nM -> \"norm\"\n"
                            "R -> \"col2im\"\n"),
            "bad.grammar: the grammar derives no valid network for a 1x8x8 input within its "
            "budgets: 'im2col16k16s0p' of rule 'P' on a 1x8x8 tensor: im2col16k16s0p cannot "
            "take a 1x8x8 tensor");
}

TEST(TypedGrammar, TypedGrammarsBuildWithTheEinspaceBuilderOnly) {
  auto error_of = [](const std::string& text) {
    auto s = space_from_source("b.grammar", text);
    return s.is_ok() ? std::string("ok") : s.status().message();
  };
  EXPECT_EQ(error_of("%state tensor\n%builder chain\nS -> sequential(M, M)\nM -> \"norm\"\n"),
            "b.grammar:2:2: a typed grammar (%state tensor) builds with %builder einspace, not "
            "'chain'");
  EXPECT_EQ(error_of("%builder einspace\nnet -> \"conv3x3\"\n"),
            "b.grammar:1:2: %builder einspace needs '%state tensor' (a typed grammar)");
  auto s = space_from_source("t.grammar", "%state tensor\nS -> sequential(M, M)\nM -> \"norm\"\n");
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s.value()->build_spec().builder, "einspace");
}

TEST(TypedGrammar, RetargetingAppendsOnlyWhatChanges) {
  auto space = make_space("einspace").value();
  SpaceTarget same;
  same.channels = 1;
  same.height = 28;
  same.width = 28;
  same.classes = 10;
  EXPECT_EQ(retarget_space(*space, same).value(), nullptr);
  SpaceTarget t = same;
  t.channels = 3;
  t.max_nodes = 50;
  auto moved = retarget_space(*space, t).value();
  ASSERT_NE(moved, nullptr);
  const std::string& src = moved->source();
  EXPECT_EQ(src.substr(src.size() - 71),
            "# set by the command line and the dataset\n%input 3 28 28\n%max-nodes 50\n");
  EXPECT_EQ(typed(*moved).grammar().max_nodes, 50);
  // Retargeting the result again changes nothing.
  EXPECT_EQ(retarget_space(*moved, t).value(), nullptr);
  auto macro = make_space("nas-bench-macro").value();
  SpaceTarget budget;
  budget.max_params = 1000;
  EXPECT_EQ(retarget_space(*macro, budget).status().message(),
            "--max-params applies to typed grammars (%state tensor); space 'nas-bench-macro' is "
            "not one");
}

TEST(TypedGrammar, ArchitectureErrorsNameTheColumnAndTheReason) {
  auto space = einspace_at(1, 28, 28);
  EXPECT_EQ(space->parse("[S [B clone2] [M [C norm]] [A add]]").status().message(),
            "canonical form, column 1: clone2 makes 2 branches, so '[S ...]' takes 2 M "
            "children, got 1");
  EXPECT_EQ(space->parse("[S [B group8_dim1] [M [C norm]] [A add]]").status().message(),
            "canonical form, column 4: not valid here: decision 1: 'group8_dim1' of rule 'B' on "
            "a 1x28x28 tensor: group8_dim1 cannot split a 1x28x28 tensor");
  EXPECT_EQ(space->parse("[S [B clone2] [M [C linear16]] [M [C norm]] [A add]]").status().message(),
            "canonical form, column 45: not valid here: decision 6: 'add' of rule 'A' on a 1x28x28 "
            "tensor: add cannot combine 2 branch outputs 1x28x16 and 1x28x28");
  EXPECT_EQ(space->parse("[S [P permute21] [M [C norm]] [R identity]]").status().message(),
            "canonical form, column 4: not valid here: decision 1: 'permute21' of rule 'P' on a "
            "1x28x28 tensor: permute21 cannot take a 1x28x28 tensor");
  EXPECT_EQ(space->parse("[S [M [C norm]] [M [C nrom]]]").status().message(),
            "canonical form, column 20: rule 'C' has no alternative 'nrom' (alternatives: "
            "identity | linear16 | linear32 | linear64 | linear128 | linear256 | linear512 | "
            "linear1024 | linear2048 | linear_x2 | linear_x4 | linear_div2 | linear_div4 | norm | "
            "leakyrelu | softmax | pos_enc)");
  EXPECT_EQ(space->parse("[S [M [C norm]] [M [C norm]]").status().message(),
            "canonical form, column 29: expected ']' before the end");
}

}  // namespace
}  // namespace sylva
