// The built-in `mlp` space: its decisions (a depth, then per block a width,
// a norm, an activation and a dropout), keys and canonical forms; and the
// check that a grammar names only ops its builder builds, with a message
// that says which builder the op belongs to and lists the right ones.
#include <gtest/gtest.h>

#include <set>

#include "spaces/builders.h"
#include "spaces/grammar/grammar.h"
#include "spaces/space.h"

namespace sylva {
namespace {

std::string error_of(const std::string& text) {
  auto s = space_from_source("bad.grammar", text);
  EXPECT_FALSE(s.is_ok());
  return s.is_ok() ? "" : s.status().message();
}

std::vector<std::string> labels(const std::vector<Choice>& choices) {
  std::vector<std::string> out;
  for (const auto& c : choices) out.push_back(c.label);
  return out;
}

TEST(MlpGrammar, DecidesDepthThenFourChoicesPerBlock) {
  auto space = make_space("mlp").value();
  EXPECT_EQ(space->build_spec().builder, "mlp");
  const auto depth = space->choices({});
  EXPECT_EQ(labels(depth), (std::vector<std::string>{"block", "block block", "block block block",
                                                     "block block block block"}));
  for (const auto& c : depth) EXPECT_DOUBLE_EQ(c.prior, 0.25);
  EXPECT_EQ(labels(space->choices({0})),
            (std::vector<std::string>{"linear64", "linear128", "linear256", "linear512"}));
  EXPECT_EQ(labels(space->choices({0, 0})),
            (std::vector<std::string>{"identity", "batchnorm", "layernorm"}));
  EXPECT_EQ(labels(space->choices({0, 0, 0})),
            (std::vector<std::string>{"relu", "gelu", "tanh", "silu"}));
  EXPECT_EQ(labels(space->choices({0, 0, 0, 0})),
            (std::vector<std::string>{"identity", "dropout0.1", "dropout0.3"}));
  EXPECT_TRUE(space->choices({0, 0, 0, 0, 0}).empty());
  // Depth d: 1 + 4d decisions, 4 leaves per block.
  for (int d = 0; d < 4; ++d) {
    std::vector<int> prefix = {d};
    while (!space->choices(prefix).empty()) prefix.push_back(0);
    EXPECT_EQ(prefix.size(), 1u + 4u * (d + 1));
    EXPECT_EQ(space->make(prefix).value().primitives.size(), 4u * (d + 1));
  }
}

// The one-block networks, all 4 x 3 x 4 x 3 of them, each with its own key
// that parses back, as does its canonical form.
TEST(MlpGrammar, EnumeratesTheOneBlockNetworksWithDistinctKeys) {
  auto space = make_space("mlp").value();
  std::set<std::string> keys;
  for (int w = 0; w < 4; ++w) {
    for (int n = 0; n < 3; ++n) {
      for (int a = 0; a < 4; ++a) {
        for (int p = 0; p < 3; ++p) {
          const Architecture arch = space->make({0, w, n, a, p}).value();
          keys.insert(arch.key);
          EXPECT_EQ(space->parse(arch.key).value(), arch);
          EXPECT_EQ(space->parse(arch.canonical).value().key, arch.key);
        }
      }
    }
  }
  EXPECT_EQ(keys.size(), 144u);
  const Architecture a = space->make({1, 1, 2, 3, 1, 3, 1, 1, 2}).value();
  EXPECT_EQ(a.key,
            "block block/linear128/layernorm/silu/dropout0.1/linear512/batchnorm/gelu/dropout0.3");
  EXPECT_EQ(a.primitives,
            (std::vector<std::string>{"linear128", "layernorm", "silu", "dropout0.1", "linear512",
                                      "batchnorm", "gelu", "dropout0.3"}));
  EXPECT_EQ(a.canonical,
            "[net [block [width linear128] [norm layernorm] [act silu] [drop dropout0.1]] [block "
            "[width linear512] [norm batchnorm] [act gelu] [drop dropout0.3]]]");
}

TEST(MlpGrammar, BuilderTableDescribesMlp) {
  const BuilderDef* mlp = find_builder("mlp");
  ASSERT_NE(mlp, nullptr);
  EXPECT_EQ(mlp->kind, BuilderKind::kMlp);
  EXPECT_FALSE(mlp->typed);
  EXPECT_STREQ(mlp->help,
               "layers in order on the flattened input: linear, normalisation, activation, "
               "dropout; a linear head");
  EXPECT_EQ(mlp->ops, OpDomain::kVector);
  // The report draws an mlp as the chain of its layers.
  EXPECT_STREQ(mlp->drawing, "chain");
  EXPECT_STREQ(find_builder("chain")->drawing, "chain");
  EXPECT_STREQ(find_builder("cell")->drawing, "cell");
  EXPECT_STREQ(find_builder("einspace")->drawing, "tree");
  EXPECT_EQ(builder_names(), (std::vector<std::string>{"chain", "cell", "einspace", "mlp"}));
  EXPECT_EQ(builder_names(OpDomain::kImage), (std::vector<std::string>{"chain", "cell"}));
  EXPECT_EQ(builder_names(OpDomain::kVector), (std::vector<std::string>{"mlp"}));
}

constexpr const char* kMlpOps =
    "batchnorm, dropout0.1, dropout0.3, gelu, identity, layernorm, linear128, linear256, "
    "linear512, linear64, relu, silu, tanh";
constexpr const char* kImageOps =
    "avg_pool_3x3, conv1x1, conv3x3, conv5x5, dwsep_conv_3x3, identity, max_pool_3x3, "
    "mbconv_e3_k3, mbconv_e6_k5, none, nor_conv_1x1, nor_conv_3x3, skip, skip_connect, zero";

TEST(MlpGrammar, OpsOfAnotherBuilderAreRejectedNamingIt) {
  EXPECT_EQ(error_of("%builder mlp\nnet -> layer\nlayer -> \"linear64\" | \"conv3x3\"\n"),
            std::string("bad.grammar:3:23: %builder mlp cannot build op 'conv3x3': it maps "
                        "feature maps [C, H, W] (an op of %builder chain or cell); mlp's ops map "
                        "feature vectors [D]: ") +
                kMlpOps);
  EXPECT_EQ(error_of("%builder chain\nnet -> \"conv3x3\" \"relu\"\n"),
            std::string("bad.grammar:2:18: %builder chain cannot build op 'relu': it maps "
                        "feature vectors [D] (an op of %builder mlp); chain's ops map feature "
                        "maps [C, H, W]: ") +
                kImageOps);
  // Without %builder a grammar is the chain's.
  EXPECT_EQ(error_of("net -> \"batchnorm\"\n")
                .rfind("bad.grammar:1:8: %builder chain cannot "
                       "build op 'batchnorm'",
                       0),
            0u);
  // none is zeros of a feature map; skip and skip_connect alias identity on maps only.
  for (const char* op : {"none", "zero", "skip", "skip_connect"}) {
    EXPECT_NE(error_of(std::string("%builder mlp\nnet -> \"") + op + "\"\n")
                  .find(std::string("cannot build op '") + op + "'"),
              std::string::npos)
        << op;
  }
  // An unknown op lists the builder's ops.
  EXPECT_EQ(error_of("%builder mlp\nnet -> \"linear1024\"\n"),
            std::string("bad.grammar:2:8: unknown op 'linear1024' (known: ") + kMlpOps + ")");
}

TEST(MlpGrammar, IdentityAndTheBuilderLineAnywhereAreAccepted) {
  // %builder applies to the whole file, wherever it stands.
  auto s = space_from_source("late.grammar", "net -> \"identity\" \"relu\"\n%builder mlp\n");
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s.value()->build_spec().builder, "mlp");
  EXPECT_TRUE(space_from_source("c.grammar", "net -> \"identity\" \"conv1x1\"\n").is_ok());
  // %stem means nothing to mlp, and its width limit is not checked there.
  EXPECT_TRUE(
      space_from_source("m.grammar", "%builder mlp\n%stem 4096\nnet -> \"relu\"\n").is_ok());
}

}  // namespace
}  // namespace sylva
