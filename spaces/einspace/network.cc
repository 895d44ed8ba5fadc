#include "spaces/einspace/network.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <utility>
#include <vector>

#include "spaces/bracket.h"
#include "spaces/einspace/blocks.h"
#include "spaces/einspace/ops.h"
#include "spaces/nets/blocks.h"

namespace sylva {
namespace {

using einspace::BlockPtr;
using einspace::Fold;
using einspace::Op;
using einspace::OpRole;
using einspace::Shape;

// A built subtree: its block and output shape; `fold` is set by im2col, for
// the col2im that may close its route.
struct Built {
  BlockPtr block;
  Shape shape;
  std::optional<Fold> fold;
};

std::string show(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// Follows pass-throughs ([X [Y ...]]) to the node that does something.
const BracketNode& through(const BracketNode& n) {
  const BracketNode* p = &n;
  while (p->children.size() == 1 && !p->children[0].is_op) p = &p->children[0];
  return *p;
}

bool is_op_node(const BracketNode& n) { return n.children.size() == 1 && n.children[0].is_op; }

// The label of an op node (after pass-throughs).
const std::string& label(const BracketNode& n) { return through(n).children[0].name; }

bool is_linear(const Op& op) {
  return op.kind == Op::kLinear || op.kind == Op::kLinearTimes || op.kind == Op::kLinearDiv;
}

einspace::Im2col im2col_of(const Op& op) { return {op.args[0], op.args[1], op.args[2]}; }

// Why a unary op may not apply, for errors.
std::string unary_rule(const Op& op, const Shape& in, const Fold& fold) {
  switch (op.kind) {
    case Op::kPermute:
      return "col [S, D] takes permute21, im [C, H, W] takes permute132 213 231 312 321";
    case Op::kIm2col:
      return "it needs an im input [C, H, W] of at least k x k after padding";
    case Op::kCol2im:
      return fmt::format(
          "it needs a col input [S, D] whose S D divides by the {} x {} plane "
          "its im2col unfolded",
          fold.h, fold.w);
    case Op::kLinearDiv:
      return fmt::format("the last axis must divide by {}", op.args[0]);
    default:
      return "its input must be im [C, H, W] or col [S, D]";
  }
}

template <typename T, typename... Args>
BlockPtr make(Args&&... args) {
  return std::make_shared<T>(std::forward<Args>(args)...);
}

// The block of a unary op whose output shape `out` has been checked.
BlockPtr unary_block(const Op& op, const Shape& in, const Shape& out, const Fold& fold) {
  switch (op.kind) {
    case Op::kLinear:
    case Op::kLinearTimes:
    case Op::kLinearDiv:
      return make<einspace::LinearImpl>(in.back(), out.back());
    case Op::kNorm:
      return make<einspace::NormImpl>(in);
    case Op::kLeakyRelu:
      return make<einspace::ActivationImpl>(einspace::Activation::kLeakyRelu);
    case Op::kSoftmax:
      return make<einspace::ActivationImpl>(einspace::Activation::kSoftmax);
    case Op::kPosEnc:
      return make<einspace::PositionalImpl>(in);
    case Op::kPermute:
      return make<einspace::PermuteImpl>(std::to_string(op.args[0]));
    case Op::kIm2col:
      return make<einspace::Im2colImpl>(im2col_of(op));
    case Op::kCol2im:
      return make<einspace::Col2imImpl>(fold);
    default:
      return make<IdentityImpl>();
  }
}

class Builder {
 public:
  explicit Builder(const EinspaceBuildOptions& opt) : opt_(opt) {}

  // Any module node applied to an input of shape `in`.
  StatusOr<Built> module(const BracketNode& node, const Shape& in) {
    const BracketNode& n = through(node);
    if (is_op_node(n)) return op_module(n, in);
    for (const BracketNode& c : n.children) {
      if (c.is_op) return fail(n, fmt::format("op '{}' must sit alone in a node [X op]", c.name));
    }
    std::optional<Op> lead;
    if (!n.children.empty() && is_op_node(through(n.children[0]))) {
      SYLVA_ASSIGN(op, op_of(n.children[0]));
      lead = op;
    }
    if (n.children.size() == 2) return sequential(n, in);
    if (lead && lead->role() == OpRole::kBranching) return branch(n, *lead, in);
    if (n.children.size() == 3 && lead) return route(n, *lead, in);
    return fail(n, fmt::format("expected [X op], [X M M], [X B M A], [X B M M A] or [X P M R], "
                               "got {} children",
                               n.children.size()));
  }

 private:
  static Status fail(const BracketNode& n, const std::string& what) {
    return Status::invalid_argument(
        fmt::format("einspace: '{}' at column {}: {}", n.name, n.col, what));
  }

  // The op of a node that must be an op node (after pass-throughs).
  static StatusOr<Op> op_of(const BracketNode& node) {
    const BracketNode& n = through(node);
    if (!is_op_node(n)) return fail(n, "expected an op node [X op]");
    if (auto op = einspace::op_from_label(label(n))) return *op;
    return fail(n, fmt::format("unknown einspace op '{}' (families: {})", label(n),
                               fmt::join(einspace::family_names(), ", ")));
  }

  // An op node standing as a module: unary ops only, and no col2im (which
  // only closes a route).
  StatusOr<Built> op_module(const BracketNode& n, const Shape& in) {
    SYLVA_ASSIGN(op, op_of(n));
    if (op.role() == OpRole::kBranching) {
      return fail(
          n, fmt::format("'{}' is a branching op; it only opens a branch [X B M A]", label(n)));
    }
    if (op.role() == OpRole::kAggregation) {
      return fail(
          n, fmt::format("'{}' is an aggregation op; it only closes a branch [X B M A]", label(n)));
    }
    return unary(n, op, in, std::nullopt);
  }

  StatusOr<Built> unary(const BracketNode& n, const Op& op, const Shape& in,
                        const std::optional<Fold>& fold);
  StatusOr<Built> sequential(const BracketNode& n, const Shape& in);
  StatusOr<Built> branch(const BracketNode& n, const Op& split, const Shape& in);
  StatusOr<Shape> aggregate(const BracketNode& a, const Op& op, const std::vector<Shape>& in);
  StatusOr<Built> route(const BracketNode& n, const Op& p, const Shape& in);
  std::optional<Op> single_linear(const BracketNode& m) const;

  const EinspaceBuildOptions& opt_;
};

StatusOr<Built> Builder::unary(const BracketNode& n, const Op& op, const Shape& in,
                               const std::optional<Fold>& fold) {
  if (op.kind == Op::kCol2im && !fold) {
    return fail(n, "col2im only closes a route [X P M R] whose P is im2col");
  }
  Fold f = fold.value_or(Fold{});  // im2col writes it, col2im reads it
  const auto out = einspace::apply_unary(op, in, &f);
  if (!out) {
    return fail(n, fmt::format("{} does not apply to shape {}: {}", label(n), show(in),
                               unary_rule(op, in, f)));
  }
  Built built{unary_block(op, in, *out, f), *out, {}};
  if (op.kind == Op::kIm2col) built.fold = f;
  return built;
}

StatusOr<Built> Builder::sequential(const BracketNode& n, const Shape& in) {
  SYLVA_ASSIGN(a, module(n.children[0], in));
  SYLVA_ASSIGN(b, module(n.children[1], a.shape));
  return Built{
      std::make_shared<SequenceImpl>(std::vector<BlockPtr>{a.block, b.block}), b.shape, {}};
}

StatusOr<Shape> Builder::aggregate(const BracketNode& a, const Op& op,
                                   const std::vector<Shape>& in) {
  std::vector<std::string> shapes;
  for (const Shape& s : in) shapes.push_back(show(s));
  const std::string got = fmt::format("got {}", fmt::join(shapes, ", "));
  std::optional<Shape> out;
  if (op.kind == Op::kAdd) {
    out = einspace::add(in);
    if (!out) return fail(a, "add needs equal branch shapes, " + got);
  } else if (op.kind == Op::kConcat) {
    out = einspace::concat(in, static_cast<int>(op.args[0]));
    if (!out) {
      return fail(a, fmt::format("{} needs branch shapes equal but for axis {} (batch = 0), {}",
                                 label(a), op.args[0], got));
    }
  } else {
    if (in.size() != 2) {
      return fail(a, fmt::format("{} takes exactly 2 branches, {}", label(a), got));
    }
    out = einspace::dot_product(in[0], in[1]);
    if (!out) {
      return fail(a, fmt::format("{} needs a @ b with a's last axis equal to b's second-last "
                                 "(and equal channels for im), {}",
                                 label(a), got));
    }
  }
  return *out;
}

StatusOr<Built> Builder::branch(const BracketNode& n, const Op& split, const Shape& in) {
  const BracketNode& a = n.children.back();
  SYLVA_ASSIGN(agg, op_of(a));
  if (agg.role() != OpRole::kAggregation) {
    return fail(a, fmt::format("a branch ends with an aggregation (add, concat_dim{{d}}, "
                               "dot_product, scaled_dot_product), got '{}'",
                               label(a)));
  }
  const int64_t branches = einspace::branch_factor(split);
  const int64_t modules = static_cast<int64_t>(n.children.size()) - 2;
  if (modules != 1 && modules != branches) {
    return fail(n, fmt::format("{} opens {} branches: give one M (built once per branch) or {}, "
                               "got {}",
                               label(n.children[0]), branches, branches, modules));
  }
  const auto piece = einspace::branch_piece(split, in);
  if (!piece) {
    return fail(through(n.children[0]),
                fmt::format("{} needs axis {} (batch = 0) of {} to exist and divide by {}",
                            label(n.children[0]), split.args[1], show(in), branches));
  }
  std::vector<BlockPtr> inner;
  std::vector<Shape> outs;
  for (int64_t i = 0; i < branches; ++i) {
    // A single M is built again per branch, so each gets its own weights.
    SYLVA_ASSIGN(m, module(n.children[modules == 1 ? 1 : 1 + i], *piece));
    inner.push_back(m.block);
    outs.push_back(m.shape);
  }
  SYLVA_ASSIGN(out, aggregate(a, agg, outs));
  const bool group = split.kind == Op::kGroup;
  const einspace::Branching branching{!group, branches,
                                      group ? static_cast<int>(split.args[1]) : 1};
  einspace::Aggregation aggregation;
  aggregation.kind = agg.kind == Op::kAdd          ? einspace::Aggregation::kAdd
                     : agg.kind == Op::kConcat     ? einspace::Aggregation::kConcat
                     : agg.kind == Op::kDotProduct ? einspace::Aggregation::kDotProduct
                                                   : einspace::Aggregation::kScaledDotProduct;
  aggregation.dim = agg.kind == Op::kConcat ? static_cast<int>(agg.args[0]) : 1;
  return Built{make<einspace::BranchImpl>(branching, std::move(inner), aggregation), out, {}};
}

// The op when route body `m` is exactly one linear op (through pass-throughs).
std::optional<Op> Builder::single_linear(const BracketNode& m) const {
  const BracketNode& n = through(m);
  if (!is_op_node(n)) return std::nullopt;
  auto op = einspace::op_from_label(label(n));
  if (!op || !is_linear(*op)) return std::nullopt;
  return op;
}

StatusOr<Built> Builder::route(const BracketNode& n, const Op& p_op, const Shape& in) {
  const BracketNode &p_node = n.children[0], &m_node = n.children[1], &r_node = n.children[2];
  SYLVA_ASSIGN(r_op, op_of(r_node));
  if (p_op.role() != OpRole::kUnary || r_op.role() != OpRole::kUnary) {
    return fail(n, fmt::format("a route's P and R are unary ops, got '{}' and '{}'", label(p_node),
                               label(r_node)));
  }
  SYLVA_ASSIGN(p, unary(through(p_node), p_op, in, std::nullopt));
  const auto linear = single_linear(m_node);
  const int64_t width = linear ? einspace::linear_width(*linear, p.shape) : 0;
  if (opt_.fuse && p_op.kind == Op::kIm2col && r_op.kind == Op::kCol2im && width > 0) {
    // Valid by construction: [h'w', N] always folds back to [N, h', w'].
    const Shape out = *einspace::col2im(*einspace::linear(p.shape, width), *p.fold);
    return Built{make<einspace::ConvImpl>(in[0], width, im2col_of(p_op)), out, {}};
  }
  SYLVA_ASSIGN(m, module(m_node, p.shape));
  SYLVA_ASSIGN(r, unary(through(r_node), r_op, m.shape, p.fold));
  return Built{std::make_shared<SequenceImpl>(std::vector<BlockPtr>{p.block, m.block, r.block}),
               r.shape,
               {}};
}

}  // namespace

StatusOr<std::shared_ptr<NetworkImpl>> build_einspace_network(const std::string& canonical,
                                                              const InputShape& input,
                                                              const EinspaceBuildOptions& opt) {
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0 || input.classes <= 0) {
    return Status::invalid_argument(fmt::format(
        "einspace: input shape must be positive, got channels={} height={} width={} classes={}",
        input.channels, input.height, input.width, input.classes));
  }
  SYLVA_ASSIGN(tree, parse_bracket(canonical));
  SYLVA_ASSIGN(body, Builder(opt).module(tree, {input.channels, input.height, input.width}));
  // einspace's head: average the spatial (im) or feature (col) axes away.
  const bool im = einspace::is_im(body.shape);
  BlockPtr head = std::make_shared<ClassifierImpl>(
      body.shape[0], input.classes, im ? std::vector<int64_t>{2, 3} : std::vector<int64_t>{2});
  return std::make_shared<NetworkImpl>(std::vector<BlockPtr>{body.block, head}, input);
}

}  // namespace sylva
