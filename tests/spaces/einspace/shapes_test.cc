// The analytic shape rules of einspace's operations agree with the LibTorch
// ops they describe: where a rule gives a shape, the op produces exactly that
// shape; where it gives none, the op throws (or, for group, would split
// unevenly, which the reference refuses).
#include "spaces/einspace/shapes.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace sylva::einspace {
namespace {

std::vector<int64_t> batched(const Shape& s) {
  std::vector<int64_t> b = {2};
  b.insert(b.end(), s.begin(), s.end());
  return b;
}

Shape unbatched(const torch::Tensor& t) { return Shape(t.sizes().begin() + 1, t.sizes().end()); }

const std::vector<Shape> kIm = {{1, 28, 28}, {3, 64, 64}, {16, 7, 7},
                                {8, 3, 5},   {4, 1, 1},   {6, 16, 2}};
const std::vector<Shape> kCol = {{49, 16}, {16, 49}, {1, 8}, {64, 48}, {10, 3}};

TEST(EinspaceShapes, Im2colAndCol2imMatchUnfoldAndReshape) {
  const std::vector<Im2col> ops = {{1, 1, 0}, {1, 2, 0}, {3, 1, 1},  {3, 2, 1},
                                   {4, 4, 0}, {8, 8, 0}, {16, 16, 0}};
  int accepted = 0, refused = 0;
  for (const Shape& s : kIm) {
    for (const Im2col& op : ops) {
      const torch::Tensor x = torch::randn(batched(s));
      auto rule = im2col(s, op);
      if (!rule) {
        ++refused;
        EXPECT_ANY_THROW(torch::nn::functional::unfold(
            x, torch::nn::functional::UnfoldFuncOptions({op.kernel, op.kernel})
                   .stride(op.stride)
                   .padding(op.padding)));
        continue;
      }
      ++accepted;
      const torch::Tensor cols =
          torch::nn::functional::unfold(
              x, torch::nn::functional::UnfoldFuncOptions({op.kernel, op.kernel})
                     .stride(op.stride)
                     .padding(op.padding))
              .permute({0, 2, 1});
      EXPECT_EQ(unbatched(cols), rule->first);
      // col2im of the unchanged columns and of a linear on them.
      for (int64_t d : {rule->first[1], int64_t{16}}) {
        const torch::Tensor y = torch::randn({2, rule->first[0], d});
        auto back = col2im(unbatched(y), rule->second);
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(unbatched(y.permute({0, 2, 1}).reshape({2, -1, rule->second.h, rule->second.w})),
                  *back);
      }
    }
  }
  EXPECT_GT(accepted, 20);
  EXPECT_GT(refused, 5);
  // Columns whose count no longer fills the remembered plane cannot fold back.
  EXPECT_FALSE(col2im({7, 3}, Fold{2, 2}).has_value());
  EXPECT_ANY_THROW(torch::randn({1, 7, 3}).permute({0, 2, 1}).reshape({1, -1, 2, 2}));
  EXPECT_FALSE(im2col({49, 16}, {3, 1, 1}).has_value());  // col mode
}

TEST(EinspaceShapes, PermutesLinearAndNormMatchTorch) {
  for (const Shape& s : kIm) {
    const torch::Tensor x = torch::randn(batched(s));
    const std::vector<std::pair<std::string, std::vector<int64_t>>> codes = {{"132", {0, 1, 3, 2}},
                                                                             {"213", {0, 2, 1, 3}},
                                                                             {"231", {0, 2, 3, 1}},
                                                                             {"312", {0, 3, 1, 2}},
                                                                             {"321", {0, 3, 2, 1}}};
    for (const auto& [code, order] : codes) {
      EXPECT_EQ(*permute(s, code), unbatched(x.permute(order))) << code;
    }
    EXPECT_FALSE(permute(s, "21").has_value());
    EXPECT_FALSE(permute(s, "123").has_value());
    torch::nn::BatchNorm2d bn(s[0]);
    EXPECT_EQ(norm_params(s), bn->parameters()[0].numel() + bn->parameters()[1].numel());
  }
  for (const Shape& s : kCol) {
    const torch::Tensor x = torch::randn(batched(s));
    EXPECT_EQ(*permute(s, "21"), unbatched(x.permute({0, 2, 1})));
    EXPECT_FALSE(permute(s, "132").has_value());
    torch::nn::LayerNorm ln(torch::nn::LayerNormOptions({s.back()}));
    EXPECT_EQ(norm_params(s), ln->weight.numel() + ln->bias.numel());
    EXPECT_EQ(unbatched(ln->forward(x)), *same(s));
  }
  for (const Shape& s : {Shape{3, 8, 5}, Shape{10, 3}}) {
    torch::nn::Linear fc(s.back(), 32);
    EXPECT_EQ(*linear(s, 32), unbatched(fc->forward(torch::randn(batched(s)))));
    EXPECT_EQ(linear_params(s, 32), fc->weight.numel() + fc->bias.numel());
    EXPECT_EQ(positional_params(s), torch::randn(s.vec()).numel());
  }
}

TEST(EinspaceShapes, BranchingAndAggregationMatchTorch) {
  for (const Shape& s : kIm) {
    const torch::Tensor x = torch::randn(batched(s));
    for (int dim = 1; dim <= 3; ++dim) {
      for (int64_t n : {2, 4, 8}) {
        auto parts = group(s, n, dim);
        const int64_t size = s[dim - 1];
        EXPECT_EQ(parts.has_value(), size % n == 0) << dim << " " << n;
        if (!parts) continue;
        auto chunks = torch::split(x, size / n, dim);
        ASSERT_EQ(static_cast<int64_t>(chunks.size()), n);
        EXPECT_EQ(unbatched(chunks[0]), (*parts)[0]);
        std::vector<torch::Tensor> list(chunks.begin(), chunks.end());
        EXPECT_EQ(*concat(*parts, dim), unbatched(torch::cat(list, dim)));
        EXPECT_EQ(*add(*parts), unbatched(list[0] + list[1]));
      }
    }
    EXPECT_FALSE(group(s, 2, 4).has_value());
    EXPECT_EQ(clone(s, 4).size(), 4u);
  }
  // Shapes that differ other than along the concatenated dim do not concat.
  EXPECT_FALSE(concat({{4, 8, 8}, {4, 8, 7}}, 1).has_value());
  EXPECT_ANY_THROW(torch::cat({torch::randn({1, 4, 8, 8}), torch::randn({1, 4, 8, 7})}, 1));
  EXPECT_FALSE(add({{4, 8, 8}, {4, 8, 7}}).has_value());
}

TEST(EinspaceShapes, DotProductIsAMatmulOverTheLastTwoAxes) {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> ok = {
      {{49, 16}, {16, 49}}, {{10, 3}, {3, 10}}, {{4, 8, 5}, {4, 5, 8}}, {{2, 3, 3}, {2, 3, 3}}};
  for (const auto& c : ok) {
    auto rule = dot_product(c.a, c.b);
    ASSERT_TRUE(rule.has_value());
    EXPECT_EQ(*rule,
              unbatched(torch::matmul(torch::randn(batched(c.a)), torch::randn(batched(c.b)))));
  }
  const std::vector<Case> bad = {
      {{49, 16}, {49, 16}}, {{4, 8, 5}, {4, 8, 5}}, {{10, 3}, {4, 3, 10}}};
  for (const auto& c : bad) {
    EXPECT_FALSE(dot_product(c.a, c.b).has_value());
    EXPECT_ANY_THROW(torch::matmul(torch::randn(batched(c.a)), torch::randn(batched(c.b))));
  }
  // Unequal channels would broadcast in torch when one is 1; the reference
  // requires them equal, and so does the rule.
  EXPECT_FALSE(dot_product({1, 8, 5}, {4, 5, 8}).has_value());
}

}  // namespace
}  // namespace sylva::einspace
