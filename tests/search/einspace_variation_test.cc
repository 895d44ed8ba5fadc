// Mutation and crossover on the einspace grammar, from its seed
// architectures: children always differ from their parent, are valid
// networks within the budgets, and keep the parent outside the changed
// subtree (a decision index names the same alternative in every context).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "search/strategy.h"
#include "search/variation.h"
#include "spaces/grammar/typed_grammar_space.h"

namespace sylva::search {
namespace {

Architecture seed(const Space& space, const std::string& name) {
  std::ifstream in(std::string(SYLVA_SOURCE_DIR) + "/spaces/grammar/seeds/" + name + ".arch");
  std::stringstream buf;
  buf << in.rdbuf();
  auto arch = space.parse(buf.str());
  EXPECT_TRUE(arch.is_ok()) << name << ": " << arch.status().message();
  return arch.value();
}

const char* const kSeeds[] = {"resnet18", "wrn16-4", "vit", "mlp-mixer"};

TEST(EinspaceVariation, MutantsOfEverySeedDifferAndStayValid) {
  auto space = make_space("einspace").value();
  const auto& typed = dynamic_cast<const TypedGrammarSpace&>(*space);
  Rng rng(7);
  for (const char* name : kSeeds) {
    const Architecture parent = seed(*space, name);

    const auto slots = space->slots(parent.decisions);
    for (int i = 0; i < 8; ++i) {
      auto child = mutate(*space, parent, rng);
      ASSERT_TRUE(child) << name;
      EXPECT_NE(child->hash, parent.hash) << name;
      auto size = typed.size(child->decisions);
      ASSERT_TRUE(size.is_ok()) << name << ": " << size.status().message();
      EXPECT_LE(size.value().nodes, typed.grammar().max_nodes);
      EXPECT_LE(size.value().params, typed.grammar().max_params);
      // The parse of the printed child is the child.
      EXPECT_EQ(space->parse(child->canonical).value().hash, child->hash);
      // Outside the re-decided subtree the parent is kept exactly: its
      // decisions before the first that differs, and all after that
      // decision's subtree.
      const auto& c = child->decisions;
      const auto& p = parent.decisions;
      size_t at = 0;
      while (at < c.size() && at < p.size() && c[at] == p[at]) ++at;
      ASSERT_LT(at, p.size()) << name;
      const size_t rest = p.size() - static_cast<size_t>(slots[at].end);
      ASSERT_GE(c.size(), at + 1 + rest) << name;
      EXPECT_TRUE(
          std::equal(p.end() - static_cast<long>(rest), p.end(), c.end() - static_cast<long>(rest)))
          << name << ": the parent's decisions after the subtree at " << at << " changed";
    }
  }
}

// At an op decision of a parent (its own subtree), a cursor told to rejoin
// the parent's rest offers exactly the ops after which the rest still makes
// a valid network; without it, ops that only some other completion suits
// (here: a width the next add cannot take, unless its add became a concat).
TEST(EinspaceVariation, ARejoiningCursorOffersExactlyTheOpsTheRestFollows) {
  auto space = make_space("einspace").value();
  const Architecture parent = seed(*space, "resnet18");
  const auto& d = parent.decisions;
  const auto slots = space->slots(d);
  int points = 0, other_ops = 0, only_without_rest = 0;
  for (size_t k = 0; k < d.size(); ++k) {
    if (slots[k].kind.rfind("C ", 0) != 0) continue;
    ASSERT_EQ(slots[k].end, static_cast<int>(k) + 1);
    ++points;
    const std::vector<int> prefix(d.begin(), d.begin() + static_cast<long>(k));
    const std::vector<int> rest(d.begin() + static_cast<long>(k) + 1, d.end());
    auto c = space->cursor();
    for (int x : prefix) c->choose(x);
    ASSERT_TRUE(c->rejoin(rest));
    const std::vector<Choice> with_rest = c->choices();
    const std::vector<Choice> any = space->choices(prefix);
    ASSERT_EQ(with_rest.size(), any.size());
    for (size_t a = 0; a < with_rest.size(); ++a) {
      std::vector<int> kept = prefix;
      kept.push_back(static_cast<int>(a));
      kept.insert(kept.end(), rest.begin(), rest.end());
      const bool follows = space->make(kept).is_ok();
      EXPECT_EQ(with_rest[a].prior > 0, follows)
          << "decision " << k << " op " << with_rest[a].label;
      other_ops += follows && static_cast<int>(a) != d[k];
      only_without_rest += any[a].prior > 0 && !follows;
    }
  }
  EXPECT_GE(points, 60);
  EXPECT_GT(other_ops, points);  // most points have other ops that fit
  EXPECT_GT(only_without_rest, 0);
}

TEST(EinspaceVariation, CrossoverGraftsASubtreeThatTakesTheSameTensor) {
  auto space = make_space("einspace").value();
  Rng rng(3);
  const Architecture vit = seed(*space, "vit");
  const Architecture mixer = seed(*space, "mlp-mixer");
  const auto vit_slots = space->slots(vit.decisions);
  const auto mixer_slots = space->slots(mixer.decisions);
  int made = 0;
  for (int i = 0; i < 8; ++i) {
    auto child = crossover(*space, vit, mixer, rng);
    if (!child) continue;
    ++made;
    EXPECT_TRUE(space->make(child->decisions).is_ok());
    // Every slot kind of the child ("RULE in>out") is one of its parents'.
    for (const auto& s : space->slots(child->decisions)) {
      bool known = false;
      for (const auto& p : vit_slots) known |= p.kind == s.kind;
      for (const auto& p : mixer_slots) known |= p.kind == s.kind;
      EXPECT_TRUE(known) << s.kind;
    }
  }
  EXPECT_GE(made, 6);
}

TEST(InitFiles, CanonicalFormsSpanLinesAndErrorsNameLineAndColumn) {
  auto space = make_space("einspace").value();
  const std::vector<std::string> lines = {
      "# two architectures",
      "[S [M [C norm]]   # a comment inside",
      "   [M [C linear16]]]",
      "",
      "[S [M [C leakyrelu]] [M [C norm]]]",
  };
  auto init = parse_init(*space, lines, "seeds.arch");
  ASSERT_TRUE(init.is_ok()) << init.status().message();
  ASSERT_EQ(init.value().size(), 2u);
  EXPECT_EQ(init.value()[0].canonical, "[S [M [C norm]] [M [C linear16]]]");
  EXPECT_EQ(init.value()[1].canonical, "[S [M [C leakyrelu]] [M [C norm]]]");
  const std::vector<std::string> bad = {
      "# comment",
      "[S [M [C norm]]",
      "   [M [B clone2] [M [C linear16]] [M [C norm]] [A add]]]",
  };
  EXPECT_EQ(parse_init(*space, bad, "seeds.arch").status().message(),
            "seeds.arch:3:48: canonical form: not valid here: decision 9: 'add' of rule 'A' on a "
            "1x28x28 tensor: add cannot combine 2 branch outputs 1x28x16 and 1x28x28");
  EXPECT_EQ(parse_init(*space, {"[S [M [C norm]] [M [C nrom]]]"}, "a.arch").status().message(),
            "a.arch:1:20: canonical form: rule 'C' has no alternative 'nrom' (alternatives: "
            "identity | linear16 | linear32 | linear64 | linear128 | linear256 | linear512 | "
            "linear1024 | linear2048 | linear_x2 | linear_x4 | linear_div2 | linear_div4 | norm | "
            "leakyrelu | softmax | pos_enc)");
}

}  // namespace
}  // namespace sylva::search
