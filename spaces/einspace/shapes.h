// Analytic shape rules of einspace's fundamental operations (Ericsson et
// al., NeurIPS 2024): what the einspace grammar needs to filter its choices
// before making them, so that no option that cannot produce a valid network
// is offered and no tensor is ever run to find out.
//
// Shapes leave out the batch dimension: [C, H, W] is "im" mode, [S, D] is
// "col" mode. Dimension arguments (`dim` of group and concat) count the batch
// as 0, as the reference does: in im mode 1 = C, 2 = H, 3 = W; in col mode
// 1 = S, 2 = D. Each rule returns nullopt where the op cannot apply, and the
// matching LibTorch op would throw or produce something else (tested against
// LibTorch). Semantics follow the reference implementation:
//   linear(n)      acts on the last axis
//   im2col(k,s,p)  unfold + permute to [h'w', C k k], remembering (h', w')
//   col2im         permute + reshape back to [S D / (h' w'), h', w']
//   permute        "21" in col mode; "132" "213" "231" "312" "321" in im mode
//   group(n, dim)  n equal splits along dim;  clone(n): n copies
//   add            equal shapes;  concat(dim): equal but for dim
//   dot_product    a @ b over the last two axes (no implicit transpose)
// Torch-free; pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sylva::einspace {

// A batchless shape: rank 2 (col) or 3 (im), held inline. The grammar's
// witness searches copy shapes millions of times; a heap vector made
// allocation their main cost.
class Shape {
 public:
  using value_type = int64_t;
  using size_type = size_t;
  using iterator = int64_t*;
  using const_iterator = const int64_t*;
  using reference = int64_t&;
  using const_reference = const int64_t&;
  static constexpr size_t kMaxRank = 4;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    for (int64_t d : dims) push_back(d);
  }
  template <typename It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](size_t i) { return d_[i]; }
  int64_t operator[](size_t i) const { return d_[i]; }
  int64_t& back() { return d_[n_ - 1]; }
  int64_t back() const { return d_[n_ - 1]; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  void push_back(int64_t d) {
    if (n_ == kMaxRank) throw std::length_error("a shape of rank above 4");
    d_[n_++] = d;
  }
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  bool operator==(const Shape& o) const {
    if (n_ != o.n_) return false;
    for (size_t i = 0; i < n_; ++i) {
      if (d_[i] != o.d_[i]) return false;
    }
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  int64_t d_[kMaxRank] = {0, 0, 0, 0};
  uint8_t n_ = 0;
};

inline bool is_im(const Shape& s) { return s.size() == 3; }
inline bool is_col(const Shape& s) { return s.size() == 2; }

// Ops that keep the shape (identity, norm, leakyrelu, softmax, learnable
// positional encoding) apply to any im or col shape.
std::optional<Shape> same(const Shape& in);

std::optional<Shape> linear(const Shape& in, int64_t out);

struct Fold {
  int64_t h = 0, w = 0;  // the spatial size im2col unfolded to
};
struct Im2col {
  int64_t kernel = 1, stride = 1, padding = 0;
};
std::optional<std::pair<Shape, Fold>> im2col(const Shape& in, const Im2col& op);
std::optional<Shape> col2im(const Shape& in, const Fold& fold);

std::optional<Shape> permute(const Shape& in, const std::string& code);

std::optional<std::vector<Shape>> group(const Shape& in, int64_t splits, int dim);
std::vector<Shape> clone(const Shape& in, int64_t copies);

std::optional<Shape> add(const std::vector<Shape>& in);
std::optional<Shape> concat(const std::vector<Shape>& in, int dim);
std::optional<Shape> dot_product(const Shape& a, const Shape& b);

// Trainable parameters each op adds for input `in`.
int64_t linear_params(const Shape& in, int64_t out);  // weight and bias
int64_t norm_params(const Shape& in);                 // BatchNorm2d(C) in im, LayerNorm(D) in col
int64_t positional_params(const Shape& in);           // one value per element

}  // namespace sylva::einspace
