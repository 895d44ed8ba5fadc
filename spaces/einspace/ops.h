// The op families of typed (einspace) grammars: what a quoted op name with
// its arguments means, its label, and its shape rule, parameter count and
// role. Labels are what canonical forms and keys print ("linear64",
// "im2col3k1s1p", "group2_dim1") and parse back with op_from_label.
// Torch-free; the shape rules are those of einspace_shapes.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "spaces/einspace/shapes.h"

namespace sylva::einspace {

enum class OpRole {
  kUnary,        // one tensor in, one out
  kBranching,    // one in, 2/4/8 equal pieces out
  kAggregation,  // the branch outputs in, one out
};

struct Op {
  enum Kind {
    kIdentity,
    kLinear,
    kLinearTimes,
    kLinearDiv,
    kNorm,
    kLeakyRelu,
    kSoftmax,
    kPosEnc,
    kPermute,
    kIm2col,
    kCol2im,
    kClone,
    kGroup,
    kAdd,
    kConcat,
    kDotProduct,
    kScaledDotProduct,
  };
  Kind kind = kIdentity;
  std::vector<int64_t> args;  // as written in the grammar: linear(N), im2col(k s p), ...

  OpRole role() const;
  std::string label() const;
  bool operator==(const Op& o) const { return kind == o.kind && args == o.args; }
};

// The op `family`(`args`), or an error saying what the family takes.
StatusOr<Op> make_family_op(const std::string& family, const std::vector<int64_t>& args);
// Parses a label back; nullopt if it is not one.
std::optional<Op> op_from_label(const std::string& label);
std::vector<std::string> family_names();

// Unary ops. `fold` carries the plane an im2col unfolded (written by im2col,
// read by col2im; col2im without one is invalid).
std::optional<Shape> apply_unary(const Op& op, const Shape& in, Fold* fold);
int64_t unary_params(const Op& op, const Shape& in);
// The output width of a linear op (absolute or relative) on input `in`.
int64_t linear_width(const Op& op, const Shape& in);
// Branching: the number of pieces and the shape of each (all equal).
std::optional<Shape> branch_piece(const Op& op, const Shape& in);
int64_t branch_factor(const Op& op);
// Aggregation over `factor` branch outputs: `a` is the first branch's, `b`
// the second's (for 4 or 8 branches every output equals `a`).
std::optional<Shape> aggregate(const Op& op, const Shape& a, const Shape& b, int64_t factor);

int64_t elements(const Shape& s);

}  // namespace sylva::einspace
