#include "spaces/grammar/grammar_parser.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>
#include <utility>

#include "base/strings.h"

namespace sylva::grammar_internal {

Parser::Parser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

StatusOr<Grammar> Parser::parse() {
  g_.source_name = source_;
  if (text_.size() > grammar_limits::kBytes) {
    return Status::at({source_, 0, 0},
                      fmt::format("{} bytes, more than the limit of {} for a grammar", text_.size(),
                                  grammar_limits::kBytes));
  }
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

Status Parser::error(int line, int col, const std::string& message) const {
  return Status::at({source_, line, col}, message);
}

StatusOr<std::vector<Token>> Parser::tokenize(const std::string& line, int lineno) const {
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
                     fmt::format("weight must be a number in (0, 1], got '{}'", quote_cut(num)));
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
      return error(lineno, col,
                   fmt::format("unexpected character '{}'", quote_cut(std::string_view(&c, 1))));
    }
  }
  out.push_back({Token::kEnd, "", 0, static_cast<int>(line.size()) + 1});
  return out;
}

Status Parser::parse_line(const std::string& line, int lineno) {
  size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos || line[first] == '#') return Status::ok();
  if (line[first] == '%') return parse_directive(line.substr(first + 1), lineno, first + 2);
  auto tokens_or = tokenize(line, lineno);
  if (!tokens_or.is_ok()) return tokens_or.status();
  const auto& t = tokens_or.value();
  size_t pos = 0;
  if (t[0].kind == Token::kBar) {
    if (g_.rules.empty()) return error(lineno, t[0].col, "'|' continues a rule, but no rule began");
  } else {
    if (t[0].kind != Token::kIdent) return error(lineno, t[0].col, "expected a rule name");
    if (t[1].kind != Token::kArrow) {
      return error(lineno, t[1].col, fmt::format("expected '->' after '{}'", quote_cut(t[0].text)));
    }
    if (g_.index.count(t[0].text)) {
      return error(lineno, t[0].col,
                   fmt::format("rule '{}' is defined twice (first on line {})",
                               quote_cut(t[0].text), g_.rules[g_.index[t[0].text]].line));
    }
    if (g_.rules.size() >= static_cast<size_t>(grammar_limits::kRules)) {
      return error(lineno, t[0].col,
                   fmt::format("more than {} rules, the limit", grammar_limits::kRules));
    }
    GrammarRule rule;
    rule.name = t[0].text;
    rule.line = lineno;
    rule.col = t[0].col;
    g_.index[rule.name] = static_cast<int>(g_.rules.size());
    g_.rules.push_back(rule);
    labels_.emplace_back();
    pos = 2;
    if (t[pos].kind == Token::kBar)
      return error(lineno, t[pos].col, "expected an alternative before '|'");
  }
  if (t[pos].kind == Token::kBar) ++pos;
  const int rule = static_cast<int>(g_.rules.size()) - 1;
  // alternatives separated by '|'
  while (true) {
    GrammarAlternative alt;
    alt.line = lineno;
    alt.col = t[pos].col;
    alt.prior = -1;
    std::vector<std::string> words;
    std::vector<std::vector<int64_t>> instances;  // an op family's argument tuples
    const size_t alt_start = pos;
    while (t[pos].kind == Token::kIdent || t[pos].kind == Token::kQuoted) {
      if (alt.symbols.size() >= static_cast<size_t>(grammar_limits::kLayers)) {
        size_t n = pos;
        while (t[n].kind == Token::kIdent || t[n].kind == Token::kQuoted) ++n;
        return error(
            lineno, t[alt_start].col,
            fmt::format("an alternative of rule '{}' has {} symbols (layers), more than "
                        "the limit of {}",
                        quote_cut(g_.rules[rule].name), n - alt_start, grammar_limits::kLayers));
      }
      GrammarSymbol sym;
      sym.is_primitive = t[pos].kind == Token::kQuoted;
      sym.name = t[pos].text;
      sym.line = lineno;
      sym.col = t[pos].col;
      ++pos;
      if (t[pos].kind == Token::kLParen) {
        if (!alt.symbols.empty()) {
          return error(lineno, sym.col,
                       fmt::format("'{}(...)' must be the whole alternative", quote_cut(sym.name)));
        }
        Status s = sym.is_primitive ? family_instances(t, &pos, lineno, &instances)
                                    : constructor(t, &pos, lineno, sym, &alt, &words);
        if (!s.is_ok()) return s;
        if (t[pos].kind == Token::kIdent || t[pos].kind == Token::kQuoted) {
          return error(lineno, t[pos].col,
                       fmt::format("'{}(...)' must be the whole alternative", quote_cut(sym.name)));
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
      Status s = add_alternative(rule, alt);
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
        Status s = add_alternative(rule, inst);
        if (!s.is_ok()) return s;
      }
    }
    if (t[pos].kind == Token::kEnd) break;
    if (t[pos].kind != Token::kBar) {
      return error(lineno, t[pos].col,
                   fmt::format("expected '|' or end of line, got '{}'", quote_cut(t[pos].text)));
    }
    ++pos;
  }
  return Status::ok();
}

Status Parser::add_alternative(int rule, const GrammarAlternative& alt) {
  GrammarRule& r = g_.rules[rule];
  if (!labels_[rule].insert(alt.label).second) {
    return error(alt.line, alt.col,
                 fmt::format("alternative '{}' appears twice in rule '{}'", quote_cut(alt.label),
                             quote_cut(r.name)));
  }
  if (r.alternatives.size() >= static_cast<size_t>(grammar_limits::kAlternatives)) {
    return error(alt.line, alt.col,
                 fmt::format("rule '{}' has more than {} alternatives, the limit",
                             quote_cut(r.name), grammar_limits::kAlternatives));
  }
  r.alternatives.push_back(alt);
  return Status::ok();
}

Status Parser::family_instances(const std::vector<Token>& t, size_t* pos, int lineno,
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
                               t[*pos].text.empty() ? "end of line" : quote_cut(t[*pos].text)));
    }
    out->push_back(args);
    if (t[*pos].kind == Token::kRParen) break;
    if (t[*pos].kind != Token::kBar) {
      return error(lineno, t[*pos].col,
                   fmt::format("expected a number, '|' or ')', got '{}'", quote_cut(t[*pos].text)));
    }
    ++*pos;
  }
  ++*pos;
  return Status::ok();
}

Status Parser::constructor(const std::vector<Token>& t, size_t* pos, int lineno,
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
                             quote_cut(name.name)));
  }
  ++*pos;
  std::vector<std::string> args;
  while (true) {
    if (t[*pos].kind != Token::kIdent) {
      return error(lineno, t[*pos].col,
                   fmt::format("expected a rule name in '{}(...)', got '{}'", name.name,
                               quote_cut(t[*pos].text)));
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
                   fmt::format("expected ',' or ')', got '{}'", quote_cut(t[*pos].text)));
    }
    ++*pos;
  }
  ++*pos;
  if (args.size() != form->second.second) {
    return error(
        lineno, name.col,
        fmt::format("{}(...) takes {} rules, got {}", name.name, form->second.second, args.size()));
  }
  alt->constructor = form->second.first;
  words->push_back(name.name + "(" + join(args, ", ") + ")");
  return Status::ok();
}

}  // namespace sylva::grammar_internal
