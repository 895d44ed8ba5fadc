#include "spaces/grammar/grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <set>
#include <sstream>

#include "spaces/einspace/ops.h"
#include "spaces/op_registry.h"

namespace sylva {
namespace {

constexpr int kInfinite = INT_MAX / 4;

struct Token {
  enum Kind {
    kIdent,
    kQuoted,
    kArrow,
    kBar,
    kWeight,
    kLParen,
    kRParen,
    kComma,
    kNumber,
    kEnd
  } kind;
  std::string text;
  double weight = 0;
  int col = 0;
};

class Parser {
 public:
  Parser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  StatusOr<Grammar> parse() {
    g_.source_name = source_;
    std::istringstream in(text_);
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      Status s = parse_line(line, lineno);
      if (!s.is_ok()) return s;
    }
    if (g_.rules.empty())
      return error(lineno, 1, "no rules: a grammar needs at least one 'name -> ...' rule");
    Status s = resolve();
    if (!s.is_ok()) return s;
    return std::move(g_);
  }

 private:
  Status error(int line, int col, const std::string& message) const {
    return Status::error(fmt::format("{}:{}:{}: {}", source_, line, col, message));
  }

  // Splits one line into tokens; comments end it.
  StatusOr<std::vector<Token>> tokenize(const std::string& line, int lineno) const {
    std::vector<Token> out;
    size_t i = 0;
    while (i < line.size()) {
      char c = line[i];
      int col = static_cast<int>(i) + 1;
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '#') {
        break;
      } else if (c == '-' && i + 1 < line.size() && line[i + 1] == '>') {
        out.push_back({Token::kArrow, "->", 0, col});
        i += 2;
      } else if (c == '|') {
        out.push_back({Token::kBar, "|", 0, col});
        ++i;
      } else if (c == '(' || c == ')' || c == ',') {
        out.push_back({c == '('   ? Token::kLParen
                       : c == ')' ? Token::kRParen
                                  : Token::kComma,
                       std::string(1, c), 0, col});
        ++i;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t end = i;
        while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end]))) ++end;
        if (end - i > 12) return error(lineno, col, "number too large");
        out.push_back({Token::kNumber, line.substr(i, end - i), 0, col});
        i = end;
      } else if (c == '"') {
        size_t end = line.find('"', i + 1);
        if (end == std::string::npos) return error(lineno, col, "unterminated quoted name");
        std::string name = line.substr(i + 1, end - i - 1);
        if (name.empty()) return error(lineno, col, "empty quoted name");
        out.push_back({Token::kQuoted, name, 0, col});
        i = end + 1;
      } else if (c == '[') {
        size_t end = line.find(']', i + 1);
        if (end == std::string::npos) return error(lineno, col, "expected ']' after weight");
        std::string num = line.substr(i + 1, end - i - 1);
        char* stop = nullptr;
        double w = std::strtod(num.c_str(), &stop);
        if (num.empty() || *stop != '\0' || !(w > 0) || w > 1) {
          return error(lineno, col,
                       fmt::format("weight must be a number in (0, 1], got '{}'", num));
        }
        out.push_back({Token::kWeight, num, w, col});
        i = end + 1;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t end = i;
        while (end < line.size() &&
               (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '_' ||
                line[end] == '.' || line[end] == '-') &&
               !(line[end] == '-' && end + 1 < line.size() && line[end + 1] == '>')) {
          ++end;
        }
        out.push_back({Token::kIdent, line.substr(i, end - i), 0, col});
        i = end;
      } else {
        return error(lineno, col, fmt::format("unexpected character '{}'", c));
      }
    }
    out.push_back({Token::kEnd, "", 0, static_cast<int>(line.size()) + 1});
    return out;
  }

  Status parse_line(const std::string& line, int lineno) {
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') return Status::ok();
    if (line[first] == '%') return parse_directive(line.substr(first + 1), lineno, first + 2);
    auto tokens_or = tokenize(line, lineno);
    if (!tokens_or.is_ok()) return tokens_or.status();
    const auto& t = tokens_or.value();
    size_t pos = 0;
    if (t[0].kind == Token::kBar) {
      if (g_.rules.empty())
        return error(lineno, t[0].col, "'|' continues a rule, but no rule began");
    } else {
      if (t[0].kind != Token::kIdent) return error(lineno, t[0].col, "expected a rule name");
      if (t[1].kind != Token::kArrow) {
        return error(lineno, t[1].col, fmt::format("expected '->' after '{}'", t[0].text));
      }
      if (g_.index.count(t[0].text)) {
        return error(lineno, t[0].col,
                     fmt::format("rule '{}' is defined twice (first on line {})", t[0].text,
                                 g_.rules[g_.index[t[0].text]].line));
      }
      GrammarRule rule;
      rule.name = t[0].text;
      rule.line = lineno;
      rule.col = t[0].col;
      g_.index[rule.name] = static_cast<int>(g_.rules.size());
      g_.rules.push_back(rule);
      pos = 2;
      if (t[pos].kind == Token::kBar)
        return error(lineno, t[pos].col, "expected an alternative before '|'");
    }
    if (t[pos].kind == Token::kBar) ++pos;
    GrammarRule& rule = g_.rules.back();
    // alternatives separated by '|'
    while (true) {
      GrammarAlternative alt;
      alt.line = lineno;
      alt.col = t[pos].col;
      alt.prior = -1;
      std::vector<std::string> words;
      std::vector<std::vector<int64_t>> instances;  // an op family's argument tuples
      while (t[pos].kind == Token::kIdent || t[pos].kind == Token::kQuoted) {
        GrammarSymbol sym;
        sym.is_primitive = t[pos].kind == Token::kQuoted;
        sym.name = t[pos].text;
        sym.line = lineno;
        sym.col = t[pos].col;
        ++pos;
        if (t[pos].kind == Token::kLParen) {
          if (!alt.symbols.empty()) {
            return error(lineno, sym.col,
                         fmt::format("'{}(...)' must be the whole alternative", sym.name));
          }
          Status s = sym.is_primitive ? family_instances(t, &pos, lineno, &instances)
                                      : constructor(t, &pos, lineno, sym, &alt, &words);
          if (!s.is_ok()) return s;
          if (t[pos].kind == Token::kIdent || t[pos].kind == Token::kQuoted) {
            return error(lineno, t[pos].col,
                         fmt::format("'{}(...)' must be the whole alternative", sym.name));
          }
          if (sym.is_primitive) {
            sym.family = sym.name;
            alt.symbols.push_back(sym);
          }
          break;
        }
        if (sym.is_primitive) sym.family = sym.name;
        alt.symbols.push_back(sym);
        words.push_back(sym.name);
      }
      if (alt.symbols.empty()) {
        return error(lineno, t[pos].col,
                     t[pos].kind == Token::kEnd ? "expected an alternative after '|' or '->'"
                                                : "expected a symbol or a quoted op name");
      }
      if (t[pos].kind == Token::kWeight) {
        alt.prior = t[pos].weight;
        ++pos;
      }
      if (instances.empty()) {
        alt.label = join(words, " ");
        Status s = add_alternative(&rule, alt);
        if (!s.is_ok()) return s;
      } else {
        // One alternative per tuple; a weight is the family's, shared equally.
        for (const auto& args : instances) {
          GrammarAlternative inst = alt;
          inst.symbols[0].args = args;
          if (alt.prior > 0) inst.prior = alt.prior / static_cast<double>(instances.size());
          std::vector<std::string> text;
          for (int64_t a : args) text.push_back(std::to_string(a));
          inst.label = inst.symbols[0].name + "(" + join(text, " ") + ")";
          Status s = add_alternative(&rule, inst);
          if (!s.is_ok()) return s;
        }
      }
      if (t[pos].kind == Token::kEnd) break;
      if (t[pos].kind != Token::kBar) {
        return error(lineno, t[pos].col,
                     fmt::format("expected '|' or end of line, got '{}'", t[pos].text));
      }
      ++pos;
    }
    return Status::ok();
  }

  Status add_alternative(GrammarRule* rule, const GrammarAlternative& alt) const {
    for (const auto& other : rule->alternatives) {
      if (other.label == alt.label) {
        return error(
            alt.line, alt.col,
            fmt::format("alternative '{}' appears twice in rule '{}'", alt.label, rule->name));
      }
    }
    rule->alternatives.push_back(alt);
    return Status::ok();
  }

  // "family"(a b | c d | ...) after the name; `pos` is at '('.
  Status family_instances(const std::vector<Token>& t, size_t* pos, int lineno,
                          std::vector<std::vector<int64_t>>* out) const {
    ++*pos;
    while (true) {
      std::vector<int64_t> args;
      while (t[*pos].kind == Token::kNumber) {
        args.push_back(std::strtoll(t[*pos].text.c_str(), nullptr, 10));
        ++*pos;
      }
      if (args.empty()) {
        return error(lineno, t[*pos].col,
                     fmt::format("expected the op's arguments (numbers), got '{}'",
                                 t[*pos].text.empty() ? "end of line" : t[*pos].text));
      }
      out->push_back(args);
      if (t[*pos].kind == Token::kRParen) break;
      if (t[*pos].kind != Token::kBar) {
        return error(lineno, t[*pos].col,
                     fmt::format("expected a number, '|' or ')', got '{}'", t[*pos].text));
      }
      ++*pos;
    }
    ++*pos;
    return Status::ok();
  }

  // sequential(X, Y) | branch(B, M, A) | route(P, M, R); `pos` is at '('.
  Status constructor(const std::vector<Token>& t, size_t* pos, int lineno,
                     const GrammarSymbol& name, GrammarAlternative* alt,
                     std::vector<std::string>* words) const {
    static const std::map<std::string, std::pair<Constructor, size_t>> kForms = {
        {"sequential", {Constructor::kSequential, 2}},
        {"branch", {Constructor::kBranch, 3}},
        {"route", {Constructor::kRoute, 3}}};
    auto form = kForms.find(name.name);
    if (form == kForms.end()) {
      return error(lineno, name.col,
                   fmt::format("unknown constructor '{}' (known: sequential(X, Y), "
                               "branch(B, M, A), route(P, M, R))",
                               name.name));
    }
    ++*pos;
    std::vector<std::string> args;
    while (true) {
      if (t[*pos].kind != Token::kIdent) {
        return error(
            lineno, t[*pos].col,
            fmt::format("expected a rule name in '{}(...)', got '{}'", name.name, t[*pos].text));
      }
      GrammarSymbol sym;
      sym.name = t[*pos].text;
      sym.line = lineno;
      sym.col = t[*pos].col;
      alt->symbols.push_back(sym);
      args.push_back(sym.name);
      ++*pos;
      if (t[*pos].kind == Token::kRParen) break;
      if (t[*pos].kind != Token::kComma) {
        return error(lineno, t[*pos].col,
                     fmt::format("expected ',' or ')', got '{}'", t[*pos].text));
      }
      ++*pos;
    }
    ++*pos;
    if (args.size() != form->second.second) {
      return error(lineno, name.col,
                   fmt::format("{}(...) takes {} rules, got {}", name.name, form->second.second,
                               args.size()));
    }
    alt->constructor = form->second.first;
    words->push_back(name.name + "(" + join(args, ", ") + ")");
    return Status::ok();
  }

  static std::vector<std::string> split_words(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s.substr(0, s.find('#')));
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
  }

  Status parse_int(const std::string& word, int lineno, size_t col, const std::string& what, int lo,
                   int* out) const {
    int64_t v = 0;
    Status s = parse_int64(word, lineno, col, what, lo, 1 << 20, &v);
    *out = static_cast<int>(v);
    return s;
  }

  Status parse_int64(const std::string& word, int lineno, size_t col, const std::string& what,
                     int64_t lo, int64_t hi, int64_t* out) const {
    char* stop = nullptr;
    long long v = std::strtoll(word.c_str(), &stop, 10);
    if (word.empty() || *stop != '\0' || v < lo || v > hi) {
      return error(lineno, static_cast<int>(col),
                   fmt::format("%{} expects an integer >= {}, got '{}'", what, lo, word));
    }
    *out = v;
    return Status::ok();
  }

  Status parse_directive(const std::string& rest, int lineno, size_t col) {
    auto words = split_words(rest);
    if (words.empty())
      return error(lineno, static_cast<int>(col), "expected a directive name after '%'");
    const std::string& d = words[0];
    auto need = [&](size_t n) -> Status {
      if (words.size() - 1 != n) {
        return error(lineno, static_cast<int>(col),
                     fmt::format("%{} takes {} value(s), got {}", d, n, words.size() - 1));
      }
      return Status::ok();
    };
    Status s;
    if (d == "builder") {
      if (!(s = need(1)).is_ok()) return s;
      if (words[1] != "chain" && words[1] != "cell" && words[1] != "einspace") {
        return error(
            lineno, static_cast<int>(col),
            fmt::format("%builder must be 'chain', 'cell' or 'einspace', got '{}'", words[1]));
      }
      g_.build.builder = words[1];
      builder_line_ = lineno;
    } else if (d == "stem") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int(words[1], lineno, col, d, 1, &g_.build.stem_channels);
    } else if (d == "head") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int(words[1], lineno, col, d, 0, &g_.build.head_channels);
    } else if (d == "cells") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int(words[1], lineno, col, d, 1, &g_.build.cells_per_stage);
    } else if (d == "max-depth") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int(words[1], lineno, col, d, 1, &g_.max_depth);
    } else if (d == "stages") {
      if (words.size() < 2)
        return error(lineno, static_cast<int>(col), "%stages needs at least one count");
      g_.build.stages.clear();
      for (size_t i = 1; i < words.size(); ++i) {
        int v = 0;
        if (!(s = parse_int(words[i], lineno, col, d, 1, &v)).is_ok()) return s;
        g_.build.stages.push_back(v);
      }
    } else if (d == "state") {
      if (!(s = need(1)).is_ok()) return s;
      if (words[1] != "tensor") {
        return error(lineno, static_cast<int>(col),
                     fmt::format("%state must be 'tensor', got '{}'", words[1]));
      }
      g_.typed = true;
    } else if (d == "input") {
      if (!(s = need(3)).is_ok()) return s;
      for (int i = 0; i < 3; ++i) {
        if (!(s = parse_int64(words[i + 1], lineno, col, d, 1, 1 << 16, &g_.input[i])).is_ok()) {
          return s;
        }
      }
    } else if (d == "classes") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int64(words[1], lineno, col, d, 1, 1 << 20, &g_.classes);
    } else if (d == "max-nodes") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int64(words[1], lineno, col, d, 0, int64_t{1} << 40, &g_.max_nodes);
    } else if (d == "max-params") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int64(words[1], lineno, col, d, 0, int64_t{1} << 40, &g_.max_params);
    } else if (d == "max-activation") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int64(words[1], lineno, col, d, 0, int64_t{1} << 40, &g_.max_activation);
    } else if (d == "max-memory") {
      if (!(s = need(1)).is_ok()) return s;
      return parse_int64(words[1], lineno, col, d, 0, int64_t{1} << 50, &g_.max_memory);
    } else {
      return error(lineno, static_cast<int>(col),
                   fmt::format("unknown directive '%{}' (known: builder, stem, stages, head, "
                               "cells, max-depth, state, input, classes, max-nodes, max-params, "
                               "max-activation, max-memory)",
                               d));
    }
    return Status::ok();
  }

  // Links symbols to rules, checks ops, normalises priors, computes heights.
  Status resolve() {
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
              return error(sym.line, sym.col,
                           fmt::format("undefined symbol '{}' (quote op names: \"{}\")", sym.name,
                                       sym.name));
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
    if (g_.typed && !builder_line_) g_.build.builder = "einspace";
    if (g_.typed != (g_.build.builder == "einspace")) {
      return error(builder_line_, 2,
                   g_.typed ? fmt::format("a typed grammar (%state tensor) builds with %builder "
                                          "einspace, not '{}'",
                                          g_.build.builder)
                            : "%builder einspace needs '%state tensor' (a typed grammar)");
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

  Status check_untyped() const {
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

  // In a typed grammar each rule has one role, given by where it is used:
  // a module (tensor to tensor), a branching (B), an aggregation (A), or the
  // re-arrangements before (P) and after (R) a route. Its alternatives must
  // fit that role.
  using Role = RuleRole;
  static constexpr Role kNoRole = RuleRole::kNone, kModule = RuleRole::kModule,
                        kBranching = RuleRole::kBranching, kAggregation = RuleRole::kAggregation,
                        kPre = RuleRole::kPre, kPost = RuleRole::kPost;

  static const char* role_name(Role r) {
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

  Status check_roles() {
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

  const std::string& text_;
  std::string source_;
  Grammar g_;
  int builder_line_ = 0;  // the line of %builder, 0: not given
};

}  // namespace

StatusOr<Grammar> parse_grammar(const std::string& text, const std::string& source_name) {
  return Parser(text, source_name).parse();
}

}  // namespace sylva
