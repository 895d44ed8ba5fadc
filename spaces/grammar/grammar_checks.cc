#include <fmt/format.h>

#include <algorithm>
#include <climits>

#include "base/strings.h"
#include "spaces/builders.h"
#include "spaces/einspace/ops.h"
#include "spaces/grammar/grammar_parser.h"
#include "spaces/op_registry.h"

namespace sylva::grammar_internal {

namespace {

constexpr int kInfinite = INT_MAX / 4;

}  // namespace

Status Parser::resolve() {
  for (auto& rule : g_.rules) {
    double given = 0;
    int missing = 0;
    for (auto& alt : rule.alternatives) {
      for (auto& sym : alt.symbols) {
        if (sym.is_primitive && g_.typed) {
          auto op = einspace::make_family_op(sym.family, sym.args);
          if (!op.is_ok()) return error(sym.line, sym.col, op.status().message());
          sym.name = op.value().label();
          alt.label = sym.name;
        } else if (sym.is_primitive) {
          if (!sym.args.empty() || alt.label.find('(') != std::string::npos) {
            return error(sym.line, sym.col,
                         fmt::format("op families with arguments need '%state tensor' (got "
                                     "\"{}\"(...))",
                                     sym.name));
          }
          if (sym.name.find('/') != std::string::npos || !is_op(sym.name)) {
            return error(
                sym.line, sym.col,
                fmt::format("unknown op '{}' (known: {})", sym.name, join(op_names(), ", ")));
          }
        } else {
          auto it = g_.index.find(sym.name);
          if (it == g_.index.end()) {
            return error(
                sym.line, sym.col,
                fmt::format("undefined symbol '{}' (quote op names: \"{}\")", sym.name, sym.name));
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
                                 rule.name, given, missing));
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
  // Shortest derivation heights by fixed point.
  for (auto& rule : g_.rules) rule.min_height = kInfinite;
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto& rule : g_.rules) {
      for (const auto& alt : rule.alternatives) {
        int h = 1;
        for (const auto& sym : alt.symbols) {
          if (!sym.is_primitive) h = std::max(h, 1 + g_.rules[sym.rule].min_height);
        }
        if (h < rule.min_height) {
          rule.min_height = h;
          changed = true;
        }
      }
    }
  }
  for (const auto& rule : g_.rules) {
    if (rule.min_height >= kInfinite) {
      return error(rule.line, rule.col,
                   fmt::format("rule '{}' can never finish: every alternative leads back to "
                               "rules without a way out to ops",
                               rule.name));
    }
  }
  if (g_.rules[0].min_height > g_.max_depth) {
    return error(g_.rules[0].line, g_.rules[0].col,
                 fmt::format("%max-depth {} is below the shortest derivation of '{}' ({})",
                             g_.max_depth, g_.rules[0].name, g_.rules[0].min_height));
  }
  return Status::ok();
}

Status Parser::check_untyped() const {
  for (const auto& rule : g_.rules) {
    for (const auto& alt : rule.alternatives) {
      if (alt.constructor != Constructor::kNone) {
        return error(alt.line, alt.col,
                     fmt::format("constructor forms like '{}' need '%state tensor'", alt.label));
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
                   fmt::format("rule '{}' is used as {} here but as {} elsewhere", sym.name,
                               role_name(role), role_name(roles[sym.rule])));
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
                       fmt::format("'{}' is a module, but rule '{}' is {}", alt.label,
                                   g_.rules[r].name, role_name(role)));
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
                                 alt.label));
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
                     fmt::format("op '{}' cannot stand where rule '{}' is {}", sym.name,
                                 g_.rules[r].name, role_name(role)));
      }
    }
  }
  for (size_t r = 0; r < roles.size(); ++r) g_.rules[r].role = roles[r];
  return Status::ok();
}

}  // namespace sylva::grammar_internal
