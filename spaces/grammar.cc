#include "spaces/grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <set>
#include <sstream>

#include "spaces/op_registry.h"

namespace sylva {
namespace {

constexpr int kInfinite = INT_MAX / 4;

struct Token {
  enum Kind { kIdent, kQuoted, kArrow, kBar, kWeight, kEnd } kind;
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
      while (t[pos].kind == Token::kIdent || t[pos].kind == Token::kQuoted) {
        GrammarSymbol sym;
        sym.is_primitive = t[pos].kind == Token::kQuoted;
        sym.name = t[pos].text;
        sym.line = lineno;
        sym.col = t[pos].col;
        alt.symbols.push_back(sym);
        words.push_back(sym.name);
        ++pos;
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
      alt.label = join(words, " ");
      for (const auto& other : rule.alternatives) {
        if (other.label == alt.label) {
          return error(
              lineno, alt.col,
              fmt::format("alternative '{}' appears twice in rule '{}'", alt.label, rule.name));
        }
      }
      rule.alternatives.push_back(alt);
      if (t[pos].kind == Token::kEnd) break;
      if (t[pos].kind != Token::kBar) {
        return error(lineno, t[pos].col,
                     fmt::format("expected '|' or end of line, got '{}'", t[pos].text));
      }
      ++pos;
    }
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
    char* stop = nullptr;
    long v = std::strtol(word.c_str(), &stop, 10);
    if (word.empty() || *stop != '\0' || v < lo || v > 1 << 20) {
      return error(lineno, static_cast<int>(col),
                   fmt::format("%{} expects an integer >= {}, got '{}'", what, lo, word));
    }
    *out = static_cast<int>(v);
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
      if (words[1] != "chain" && words[1] != "cell") {
        return error(lineno, static_cast<int>(col),
                     fmt::format("%builder must be 'chain' or 'cell', got '{}'", words[1]));
      }
      g_.build.builder = words[1];
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
    } else {
      return error(lineno, static_cast<int>(col),
                   fmt::format("unknown directive '%{}' (known: builder, stem, stages, head, "
                               "cells, max-depth)",
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
          if (sym.is_primitive) {
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

  const std::string& text_;
  std::string source_;
  Grammar g_;
};

}  // namespace

StatusOr<Grammar> parse_grammar(const std::string& text, const std::string& source_name) {
  return Parser(text, source_name).parse();
}

}  // namespace sylva
