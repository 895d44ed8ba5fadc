#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "spaces/builders.h"
#include "spaces/einspace/ops.h"
#include "spaces/grammar/grammar_parser.h"
#include "spaces/op_registry.h"

namespace sylva::grammar_internal {

namespace {

constexpr int kInfinite = INT_MAX / 4;
constexpr int64_t kUnbounded = INT64_MAX / 4;  // least_values: the rule never finishes

// The least value of each rule, where an alternative's value is
// `combine(alternative, values)` once the values of its rules are known and a
// rule's value is the least of its alternatives' (kUnbounded: none finishes).
// `combine` is never below the value of any rule it reads, so the least value
// in the queue is final (Knuth's generalisation of Dijkstra's algorithm):
// O(S log S) for S symbols, where a fixed point by sweeps takes up to one
// sweep per rule.
template <typename Combine>
std::vector<int64_t> least_values(const Grammar& g, Combine combine) {
  const size_t n = g.rules.size();
  std::vector<std::vector<int>> pending(n);  // per alternative: uses of rules not final yet
  std::vector<std::vector<std::pair<int, int>>> uses(n);  // rule -> (rule, alternative) using it
  using Item = std::pair<int64_t, int>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue;
  std::vector<int64_t> value(n, kUnbounded);
  std::vector<bool> done(n, false);
  for (size_t r = 0; r < n; ++r) {
    const auto& alts = g.rules[r].alternatives;
    for (size_t a = 0; a < alts.size(); ++a) {
      int count = 0;
      for (const auto& sym : alts[a].symbols) {
        if (sym.is_primitive) continue;
        ++count;
        uses[sym.rule].emplace_back(static_cast<int>(r), static_cast<int>(a));
      }
      pending[r].push_back(count);
      if (count == 0) queue.emplace(combine(alts[a], value), static_cast<int>(r));
    }
  }
  while (!queue.empty()) {
    const auto [v, r] = queue.top();
    queue.pop();
    if (done[r]) continue;
    done[r] = true;
    value[r] = v;
    for (const auto& [q, a] : uses[r]) {
      if (--pending[q][a] == 0 && !done[q]) {
        queue.emplace(combine(g.rules[q].alternatives[a], value), q);
      }
    }
  }
  return value;
}

int64_t add_capped(int64_t a, int64_t b) { return a >= kUnbounded - b ? kUnbounded : a + b; }

}  // namespace

Status Parser::resolve() {
  for (auto& rule : g_.rules) {
    double given = 0;
    int missing = 0;
    for (auto& alt : rule.alternatives) {
      for (auto& sym : alt.symbols) {
        if (sym.is_primitive && g_.typed) {
          auto op = einspace::make_family_op(sym.family, sym.args);
          // Its message quotes the family and its arguments.
          if (!op.is_ok()) return error(sym.line, sym.col, quote_cut(op.status().message(), 200));
          sym.name = op.value().label();
          alt.label = sym.name;
        } else if (sym.is_primitive) {
          if (!sym.args.empty() || alt.label.find('(') != std::string::npos) {
            return error(sym.line, sym.col,
                         fmt::format("op families with arguments need '%state tensor' (got "
                                     "\"{}\"(...))",
                                     quote_cut(sym.name)));
          }
          const OpDef* op = sym.name.find('/') == std::string::npos ? find_op(sym.name) : nullptr;
          // %builder einspace without %state tensor is refused below.
          const BuilderDef& builder = *find_builder(g_.build.builder);
          const OpDomain domain = builder.typed ? OpDomain::kImage : builder.ops;
          if (op == nullptr) {
            return error(sym.line, sym.col,
                         fmt::format("unknown op '{}' (known: {})", quote_cut(sym.name),
                                     join(op_names(domain), ", ")));
          }
          if (!op_in_domain(*op, domain)) {
            const OpDomain other =
                domain == OpDomain::kImage ? OpDomain::kVector : OpDomain::kImage;
            return error(sym.line, sym.col,
                         fmt::format("%builder {} cannot build op '{}': it maps {} (an op of "
                                     "%builder {}); {}'s ops map {}: {}",
                                     builder.name, sym.name, domain_name(other),
                                     join_words(builder_names(other)), builder.name,
                                     domain_name(domain), join(op_names(domain), ", ")));
          }
        } else {
          auto it = g_.index.find(sym.name);
          if (it == g_.index.end()) {
            return error(sym.line, sym.col,
                         fmt::format("undefined symbol '{}' (quote op names: \"{}\")",
                                     quote_cut(sym.name), quote_cut(sym.name)));
          }
          sym.rule = it->second;
        }
      }
      if (alt.prior < 0) {
        ++missing;
      } else {
        given += alt.prior;
      }
    }
    if (missing == 0) {
      for (auto& alt : rule.alternatives) alt.prior /= given;
    } else {
      if (given >= 1.0 - 1e-12) {
        return error(rule.line, rule.col,
                     fmt::format("weights of rule '{}' sum to {:g}, leaving nothing for its {} "
                                 "unweighted alternative(s)",
                                 quote_cut(rule.name), given, missing));
      }
      for (auto& alt : rule.alternatives) {
        if (alt.prior < 0) alt.prior = (1.0 - given) / missing;
      }
    }
  }
  Status typed = g_.typed ? check_roles() : check_untyped();
  if (!typed.is_ok()) return typed;
  // Typed grammars build with the einspace builder; the others cannot.
  if (g_.typed && !builder_line_) g_.build.builder = typed_builder().name;
  if (g_.typed != find_builder(g_.build.builder)->typed) {
    return error(builder_line_, 2,
                 g_.typed ? fmt::format("a typed grammar (%state tensor) builds with %builder "
                                        "{}, not '{}'",
                                        typed_builder().name, g_.build.builder)
                          : fmt::format("%builder {} needs '%state tensor' (a typed grammar)",
                                        typed_builder().name));
  }
  SYLVA_RETURN_IF_ERROR(check_heights());
  if (!g_.typed) SYLVA_RETURN_IF_ERROR(check_widths());
  return Status::ok();
}

Status Parser::check_heights() {
  const std::vector<int64_t> height =
      least_values(g_, [](const GrammarAlternative& alt, const std::vector<int64_t>& value) {
        int64_t h = 1;
        for (const auto& sym : alt.symbols) {
          if (!sym.is_primitive) h = std::max(h, add_capped(value[sym.rule], 1));
        }
        return h;
      });
  for (size_t r = 0; r < g_.rules.size(); ++r) {
    // A shortest derivation uses each rule at most once on a path: at most kRules high.
    g_.rules[r].min_height = height[r] >= kUnbounded ? kInfinite : static_cast<int>(height[r]);
  }
  for (const auto& rule : g_.rules) {
    if (rule.min_height >= kInfinite) {
      return error(rule.line, rule.col,
                   fmt::format("rule '{}' can never finish: every alternative leads back to "
                               "rules without a way out to ops",
                               quote_cut(rule.name)));
    }
  }
  if (g_.rules[0].min_height > g_.max_depth) {
    return error(g_.rules[0].line, g_.rules[0].col,
                 fmt::format("%max-depth {} is below the shortest derivation of '{}' ({})",
                             g_.max_depth, quote_cut(g_.rules[0].name), g_.rules[0].min_height));
  }
  // Nesting multiplies: ten rules of ten symbols each derive 10^10 ops.
  const std::vector<int64_t> ops =
      least_values(g_, [](const GrammarAlternative& alt, const std::vector<int64_t>& value) {
        int64_t n = 0;
        for (const auto& sym : alt.symbols)
          n = add_capped(n, sym.is_primitive ? 1 : value[sym.rule]);
        return n;
      });
  if (ops[0] > grammar_limits::kLayers) {
    return error(g_.rules[0].line, g_.rules[0].col,
                 fmt::format("the smallest network '{}' derives has {} ops (layers), more than "
                             "the limit of {}",
                             quote_cut(g_.rules[0].name),
                             ops[0] >= kUnbounded ? "over 10^18" : std::to_string(ops[0]),
                             grammar_limits::kLayers));
  }
  return Status::ok();
}

Status Parser::check_widths() const {
  const BuildSpec& b = g_.build;
  // The mlp builder has no stem: its widths are its ops'.
  if (find_builder(b.builder)->ops != OpDomain::kImage) return Status::ok();
  // Chain: the first layer of each stage doubles the width (two reductions
  // without %stages); cell: two reduction blocks.
  const size_t reductions = b.builder == "chain" && !b.stages.empty() ? b.stages.size() : 2;
  // %stem is at most 2^12: 40 doublings fit in 64 bits.
  const int64_t widest = reductions > 40 ? kUnbounded : int64_t{b.stem_channels} << reductions;
  if (widest > grammar_limits::kChannels) {
    return error(width_line_, 2,
                 fmt::format("%stem {} doubled at each of its {} reductions makes layers of {} "
                             "channels, more than the limit of {}",
                             b.stem_channels, reductions,
                             reductions > 40 ? fmt::format("{} x 2^{}", b.stem_channels, reductions)
                                             : std::to_string(widest),
                             grammar_limits::kChannels));
  }
  return Status::ok();
}

Status Parser::check_untyped() const {
  for (const auto& rule : g_.rules) {
    for (const auto& alt : rule.alternatives) {
      if (alt.constructor != Constructor::kNone) {
        return error(
            alt.line, alt.col,
            fmt::format("constructor forms like '{}' need '%state tensor'", quote_cut(alt.label)));
      }
    }
  }
  return Status::ok();
}

const char* Parser::role_name(Role r) {
  switch (r) {
    case kModule:
      return "a module (tensor to tensor)";
    case kBranching:
      return "a branching (the B of branch(B, M, A))";
    case kAggregation:
      return "an aggregation (the A of branch(B, M, A))";
    case kPre:
      return "a re-arrangement (the P of route(P, M, R))";
    case kPost:
      return "a re-arrangement back (the R of route(P, M, R))";
    default:
      return "unused";
  }
}

Status Parser::check_roles() {
  std::vector<Role> roles(g_.rules.size(), kNoRole);
  std::vector<int> work = {0};
  roles[0] = kModule;
  auto assign = [&](const GrammarSymbol& sym, Role role) -> Status {
    if (roles[sym.rule] == kNoRole) {
      roles[sym.rule] = role;
      work.push_back(sym.rule);
    } else if (roles[sym.rule] != role) {
      return error(sym.line, sym.col,
                   fmt::format("rule '{}' is used as {} here but as {} elsewhere",
                               quote_cut(sym.name), role_name(role), role_name(roles[sym.rule])));
    }
    return Status::ok();
  };
  while (!work.empty()) {
    const int r = work.back();
    work.pop_back();
    const Role role = roles[r];
    for (const auto& alt : g_.rules[r].alternatives) {
      if (alt.constructor != Constructor::kNone) {
        if (role != kModule) {
          return error(alt.line, alt.col,
                       fmt::format("'{}' is a module, but rule '{}' is {}", quote_cut(alt.label),
                                   quote_cut(g_.rules[r].name), role_name(role)));
        }
        static const Role kSeq[] = {kModule, kModule};
        static const Role kBranch[] = {kBranching, kModule, kAggregation};
        static const Role kRoute[] = {kPre, kModule, kPost};
        const Role* want = alt.constructor == Constructor::kSequential ? kSeq
                           : alt.constructor == Constructor::kBranch   ? kBranch
                                                                       : kRoute;
        for (size_t i = 0; i < alt.symbols.size(); ++i) {
          Status s = assign(alt.symbols[i], want[i]);
          if (!s.is_ok()) return s;
        }
        continue;
      }
      if (alt.symbols.size() != 1) {
        return error(alt.line, alt.col,
                     fmt::format("in a typed grammar an alternative is one symbol or a "
                                 "constructor form; write sequential(X, Y) for '{}'",
                                 quote_cut(alt.label)));
      }
      const GrammarSymbol& sym = alt.symbols[0];
      if (!sym.is_primitive) {
        Status s = assign(sym, role);
        if (!s.is_ok()) return s;
        continue;
      }
      const einspace::Op op = einspace::make_family_op(sym.family, sym.args).value();
      const bool fits = op.role() == einspace::OpRole::kBranching     ? role == kBranching
                        : op.role() == einspace::OpRole::kAggregation ? role == kAggregation
                        : op.kind == einspace::Op::kCol2im
                            ? role == kPost
                            : role == kModule || role == kPre || role == kPost;
      if (!fits) {
        return error(sym.line, sym.col,
                     fmt::format("op '{}' cannot stand where rule '{}' is {}", quote_cut(sym.name),
                                 quote_cut(g_.rules[r].name), role_name(role)));
      }
    }
  }
  for (size_t r = 0; r < roles.size(); ++r) g_.rules[r].role = roles[r];
  return Status::ok();
}

}  // namespace sylva::grammar_internal
