// Mutation and crossover on the einspace grammar, from its seed
// architectures: children always differ from their parent, are valid
// networks within the budgets, and keep the parent outside the changed
// subtree (a decision index names the same alternative in every context).
#include <gtest/gtest.h>

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

    int kept_suffix = 0;
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
      // Outside the re-decided subtree the parent is kept: its last code
      // (the root's aggregation, routing or second module) survives unless
      // the root itself was re-decided.
      kept_suffix += child->decisions.back() == parent.decisions.back();
    }
    EXPECT_GE(kept_suffix, 4) << name;
  }
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
