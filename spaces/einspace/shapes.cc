#include "spaces/einspace/shapes.h"

namespace sylva::einspace {
namespace {

bool valid(const Shape& s) {
  if (!is_im(s) && !is_col(s)) return false;
  for (int64_t d : s) {
    if (d < 1) return false;
  }
  return true;
}

// Index into a batchless shape of a reference dimension (batch = 0).
std::optional<size_t> axis(const Shape& s, int dim) {
  if (dim < 1 || dim > static_cast<int>(s.size())) return std::nullopt;
  return static_cast<size_t>(dim - 1);
}

}  // namespace

std::optional<Shape> same(const Shape& in) {
  if (!valid(in)) return std::nullopt;
  return in;
}

std::optional<Shape> linear(const Shape& in, int64_t out) {
  if (!valid(in) || out < 1) return std::nullopt;
  Shape s = in;
  s.back() = out;
  return s;
}

std::optional<std::pair<Shape, Fold>> im2col(const Shape& in, const Im2col& op) {
  if (!valid(in) || !is_im(in) || op.kernel < 1 || op.stride < 1 || op.padding < 0) {
    return std::nullopt;
  }
  const int64_t c = in[0], h = in[1] + 2 * op.padding, w = in[2] + 2 * op.padding;
  if (h < op.kernel || w < op.kernel) return std::nullopt;
  Fold fold{(h - op.kernel) / op.stride + 1, (w - op.kernel) / op.stride + 1};
  return std::make_pair(Shape{fold.h * fold.w, c * op.kernel * op.kernel}, fold);
}

std::optional<Shape> col2im(const Shape& in, const Fold& fold) {
  if (!valid(in) || !is_col(in) || fold.h < 1 || fold.w < 1) return std::nullopt;
  const int64_t elements = in[0] * in[1], plane = fold.h * fold.w;
  if (elements % plane != 0) return std::nullopt;
  return Shape{elements / plane, fold.h, fold.w};
}

std::optional<Shape> permute(const Shape& in, const std::string& code) {
  if (!valid(in)) return std::nullopt;
  if (is_col(in)) {
    if (code != "21") return std::nullopt;
    return Shape{in[1], in[0]};
  }
  // Reference codes name the order of the batchless axes 1, 2, 3.
  if (code.size() != 3 || code == "123") return std::nullopt;
  Shape out;
  bool used[3] = {false, false, false};
  for (char ch : code) {
    const int a = ch - '1';
    if (a < 0 || a > 2 || used[a]) return std::nullopt;
    used[a] = true;
    out.push_back(in[a]);
  }
  return out;
}

std::optional<std::vector<Shape>> group(const Shape& in, int64_t splits, int dim) {
  if (!valid(in) || splits < 2) return std::nullopt;
  const auto a = axis(in, dim);
  if (!a || in[*a] % splits != 0) return std::nullopt;
  Shape part = in;
  part[*a] /= splits;
  return std::vector<Shape>(static_cast<size_t>(splits), part);
}

std::vector<Shape> clone(const Shape& in, int64_t copies) {
  return std::vector<Shape>(static_cast<size_t>(copies), in);
}

std::optional<Shape> add(const std::vector<Shape>& in) {
  if (in.size() < 2 || !valid(in[0])) return std::nullopt;
  for (const Shape& s : in) {
    if (s != in[0]) return std::nullopt;
  }
  return in[0];
}

std::optional<Shape> concat(const std::vector<Shape>& in, int dim) {
  if (in.size() < 2 || !valid(in[0])) return std::nullopt;
  const auto a = axis(in[0], dim);
  if (!a) return std::nullopt;
  Shape out = in[0];
  out[*a] = 0;
  for (const Shape& s : in) {
    if (s.size() != out.size()) return std::nullopt;
    for (size_t i = 0; i < s.size(); ++i) {
      if (i != *a && s[i] != out[i]) return std::nullopt;
    }
    out[*a] += s[*a];
  }
  return out;
}

std::optional<Shape> dot_product(const Shape& a, const Shape& b) {
  if (!valid(a) || !valid(b) || a.size() != b.size()) return std::nullopt;
  const size_t n = a.size();
  if (a[n - 1] != b[n - 2]) return std::nullopt;    // inner dimensions
  if (n == 3 && a[0] != b[0]) return std::nullopt;  // leading (channel) axis
  Shape out = a;
  out[n - 1] = b[n - 1];
  return out;
}

int64_t linear_params(const Shape& in, int64_t out) { return in.back() * out + out; }

int64_t norm_params(const Shape& in) { return 2 * (is_im(in) ? in[0] : in.back()); }

int64_t positional_params(const Shape& in) {
  int64_t n = 1;
  for (int64_t d : in) n *= d;
  return n;
}

}  // namespace sylva::einspace
