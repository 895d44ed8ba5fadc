// The grammar-file parser behind parse_grammar (grammar.h), private to
// spaces/grammar/. A Parser reads one grammar text line by line into a Grammar,
// then resolves and checks it; every error is a Status at "FILE:LINE:COL".
// Not thread-safe; each parse_grammar call uses its own Parser.
//
// Implemented in:
//   grammar_parser.cc      parse, tokens, rules and their alternatives
//   grammar_directives.cc  % directives and their integer values
//   grammar_checks.cc      resolve: symbols, ops, priors, roles, heights
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "spaces/grammar/grammar.h"

namespace sylva::grammar_internal {

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
  Parser(const std::string& text, const std::string& source);

  StatusOr<Grammar> parse();

 private:
  Status error(int line, int col, const std::string& message) const;

  // grammar_parser.cc
  // Splits one line into tokens; comments end it.
  StatusOr<std::vector<Token>> tokenize(const std::string& line, int lineno) const;
  Status parse_line(const std::string& line, int lineno);
  // Appends `alt` to rule `g_.rules[rule]`: an error when its label is there
  // already or the rule would pass grammar_limits::kAlternatives.
  Status add_alternative(int rule, const GrammarAlternative& alt);
  // "family"(a b | c d | ...) after the name; `pos` is at '('.
  Status family_instances(const std::vector<Token>& t, size_t* pos, int lineno,
                          std::vector<std::vector<int64_t>>* out) const;
  // sequential(X, Y) | branch(B, M, A) | route(P, M, R); `pos` is at '('.
  Status constructor(const std::vector<Token>& t, size_t* pos, int lineno,
                     const GrammarSymbol& name, GrammarAlternative* alt,
                     std::vector<std::string>* words) const;

  // grammar_directives.cc
  static std::vector<std::string> split_words(const std::string& s);
  // An integer in [lo, hi]; below lo or not one: "%WHAT expects an integer
  // >= LO", above hi: "%WHAT V is more than the limit of HI".
  Status parse_int(const std::string& word, int lineno, size_t col, const std::string& what, int lo,
                   int hi, int* out) const;
  Status parse_int64(const std::string& word, int lineno, size_t col, const std::string& what,
                     int64_t lo, int64_t hi, int64_t* out) const;
  Status parse_directive(const std::string& rest, int lineno, size_t col);

  // grammar_checks.cc
  // Links symbols to rules, checks ops, normalises priors, computes heights.
  Status resolve();
  // Shortest derivations: each rule's height, and ops of the start rule.
  Status check_heights();
  // The widest layer %stem, %stages and %head make (untyped builders).
  Status check_widths() const;
  Status check_untyped() const;

  // In a typed grammar each rule has one role, given by where it is used:
  // a module (tensor to tensor), a branching (B), an aggregation (A), or the
  // re-arrangements before (P) and after (R) a route. Its alternatives must
  // fit that role.
  using Role = RuleRole;
  static constexpr Role kNoRole = RuleRole::kNone, kModule = RuleRole::kModule,
                        kBranching = RuleRole::kBranching, kAggregation = RuleRole::kAggregation,
                        kPre = RuleRole::kPre, kPost = RuleRole::kPost;

  static const char* role_name(Role r);
  Status check_roles();

  const std::string& text_;
  std::string source_;
  Grammar g_;
  int builder_line_ = 0;  // the line of %builder, 0: not given
  int width_line_ = 0;    // the last line of %stem, %stages or %head, 0: none
  std::vector<std::unordered_set<std::string>> labels_;  // per rule: its alternatives' labels
};

}  // namespace sylva::grammar_internal
