#include "spaces/einspace/ops.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

namespace sylva::einspace {
namespace {

struct Family {
  const char* name;
  Op::Kind kind;
  int arity;
  const char* args;  // what the arguments are, for errors
};

constexpr Family kFamilies[] = {
    {"identity", Op::kIdentity, 0, ""},
    {"linear", Op::kLinear, 1, "the output width"},
    {"linear_x", Op::kLinearTimes, 1, "the width multiplier: 2, 4 or 8"},
    {"linear_div", Op::kLinearDiv, 1, "the width divisor: 2, 4 or 8"},
    {"norm", Op::kNorm, 0, ""},
    {"leakyrelu", Op::kLeakyRelu, 0, ""},
    {"softmax", Op::kSoftmax, 0, ""},
    {"pos_enc", Op::kPosEnc, 0, ""},
    {"permute", Op::kPermute, 1, "an axis order: 21, 132, 213, 231, 312 or 321"},
    {"im2col", Op::kIm2col, 3, "kernel, stride and padding (padding below the kernel)"},
    {"col2im", Op::kCol2im, 0, ""},
    {"clone", Op::kClone, 1, "the branch count: 2, 4 or 8"},
    {"group", Op::kGroup, 2, "the branch count (2, 4 or 8) and a dimension (1, 2 or 3)"},
    {"add", Op::kAdd, 0, ""},
    {"concat", Op::kConcat, 1, "a dimension: 1, 2 or 3"},
    {"dot_product", Op::kDotProduct, 0, ""},
    {"scaled_dot_product", Op::kScaledDotProduct, 0, ""},
};

const Family& family_of(Op::Kind kind) {
  for (const Family& f : kFamilies) {
    if (f.kind == kind) return f;
  }
  return kFamilies[0];
}

bool two_four_eight(int64_t v) { return v == 2 || v == 4 || v == 8; }

bool valid_args(Op::Kind kind, const std::vector<int64_t>& a) {
  switch (kind) {
    case Op::kLinear:
      return a[0] >= 1 && a[0] <= (1 << 20);
    case Op::kLinearTimes:
    case Op::kLinearDiv:
    case Op::kClone:
      return two_four_eight(a[0]);
    case Op::kPermute:
      return a[0] == 21 || a[0] == 132 || a[0] == 213 || a[0] == 231 || a[0] == 312 || a[0] == 321;
    case Op::kIm2col:
      return a[0] >= 1 && a[0] <= 64 && a[1] >= 1 && a[1] <= 64 && a[2] >= 0 && a[2] < a[0];
    case Op::kGroup:
      return two_four_eight(a[0]) && a[1] >= 1 && a[1] <= 3;
    case Op::kConcat:
      return a[0] >= 1 && a[0] <= 3;
    default:
      return true;
  }
}

}  // namespace

OpRole Op::role() const {
  switch (kind) {
    case kClone:
    case kGroup:
      return OpRole::kBranching;
    case kAdd:
    case kConcat:
    case kDotProduct:
    case kScaledDotProduct:
      return OpRole::kAggregation;
    default:
      return OpRole::kUnary;
  }
}

std::string Op::label() const {
  const std::string name = family_of(kind).name;
  switch (kind) {
    case kIm2col:
      return fmt::format("im2col{}k{}s{}p", args[0], args[1], args[2]);
    case kGroup:
      return fmt::format("group{}_dim{}", args[0], args[1]);
    case kConcat:
      return fmt::format("concat_dim{}", args[0]);
    case kLinear:
    case kLinearTimes:
    case kLinearDiv:
    case kPermute:
    case kClone:
      return name + std::to_string(args[0]);
    default:
      return name;
  }
}

StatusOr<Op> make_family_op(const std::string& family, const std::vector<int64_t>& args) {
  for (const Family& f : kFamilies) {
    if (family != f.name) continue;
    if (static_cast<int>(args.size()) != f.arity) {
      if (f.arity == 0)
        return Status::invalid_argument(fmt::format("op '{}' takes no arguments", family));
      return Status::invalid_argument(fmt::format("op '{}' takes {} argument(s): {}; got {}",
                                                  family, f.arity, f.args, args.size()));
    }
    if (!valid_args(f.kind, args)) {
      return Status::invalid_argument(
          fmt::format("op '{}' takes {}; got ({})", family, f.args, fmt::join(args, " ")));
    }
    return Op{f.kind, args};
  }
  return Status::invalid_argument(
      fmt::format("unknown op '{}' (known: {})", family, fmt::join(family_names(), ", ")));
}

std::vector<std::string> family_names() {
  std::vector<std::string> out;
  for (const Family& f : kFamilies) out.push_back(f.name);
  return out;
}

std::optional<Op> op_from_label(const std::string& label) {
  // The family is the longest name the label starts with; the numbers after
  // it (between the label's letters) are the arguments.
  const Family* best = nullptr;
  size_t best_len = 0;
  for (const Family& f : kFamilies) {
    const size_t n = std::char_traits<char>::length(f.name);
    if (label.compare(0, n, f.name) == 0 && n > best_len) {
      best = &f;
      best_len = n;
    }
  }
  if (!best) return std::nullopt;
  std::vector<int64_t> args;
  const char* p = label.c_str() + best_len;
  while (*p) {
    if (std::isdigit(static_cast<unsigned char>(*p))) {
      char* end = nullptr;
      args.push_back(std::strtoll(p, &end, 10));
      p = end;
    } else {
      ++p;
    }
  }
  auto op = make_family_op(best->name, args);
  if (!op.is_ok() || op.value().label() != label) return std::nullopt;
  return op.value();
}

int64_t elements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

int64_t linear_width(const Op& op, const Shape& in) {
  switch (op.kind) {
    case Op::kLinear:
      return op.args[0];
    case Op::kLinearTimes:
      return in.back() * op.args[0];
    case Op::kLinearDiv:
      return in.back() % op.args[0] == 0 ? in.back() / op.args[0] : 0;
    default:
      return 0;
  }
}

std::optional<Shape> apply_unary(const Op& op, const Shape& in, Fold* fold) {
  switch (op.kind) {
    case Op::kLinear:
    case Op::kLinearTimes:
    case Op::kLinearDiv:
      if (in.empty()) return std::nullopt;
      return linear(in, linear_width(op, in));
    case Op::kPermute:
      return permute(in, std::to_string(op.args[0]));
    case Op::kIm2col: {
      auto r = im2col(in, Im2col{op.args[0], op.args[1], op.args[2]});
      if (!r) return std::nullopt;
      if (fold) *fold = r->second;
      return r->first;
    }
    case Op::kCol2im:
      if (!fold || fold->h < 1) return std::nullopt;
      return col2im(in, *fold);
    case Op::kIdentity:
    case Op::kNorm:
    case Op::kLeakyRelu:
    case Op::kSoftmax:
    case Op::kPosEnc:
      return same(in);
    default:
      return std::nullopt;
  }
}

int64_t unary_params(const Op& op, const Shape& in) {
  switch (op.kind) {
    case Op::kLinear:
    case Op::kLinearTimes:
    case Op::kLinearDiv:
      return linear_params(in, linear_width(op, in));
    case Op::kNorm:
      return norm_params(in);
    case Op::kPosEnc:
      return positional_params(in);
    default:
      return 0;
  }
}

int64_t branch_factor(const Op& op) { return op.args.empty() ? 1 : op.args[0]; }

std::optional<Shape> branch_piece(const Op& op, const Shape& in) {
  if (op.kind == Op::kClone) return same(in);
  if (op.kind != Op::kGroup) return std::nullopt;
  auto parts = group(in, op.args[0], static_cast<int>(op.args[1]));
  if (!parts) return std::nullopt;
  return parts->front();
}

std::optional<Shape> aggregate(const Op& op, const Shape& a, const Shape& b, int64_t factor) {
  switch (op.kind) {
    case Op::kAdd:
      return factor == 2 ? add({a, b}) : same(a);
    case Op::kConcat:
      return concat(factor == 2 ? std::vector<Shape>{a, b}
                                : std::vector<Shape>(static_cast<size_t>(factor), a),
                    static_cast<int>(op.args[0]));
    case Op::kDotProduct:
    case Op::kScaledDotProduct:
      if (factor != 2) return std::nullopt;
      return dot_product(a, b);
    default:
      return std::nullopt;
  }
}

}  // namespace sylva::einspace
