// Grammar: a probabilistic context-free grammar read from a grammar file.
//
//   # comment
//   %stem 32                              # directives configure the builder
//   start -> cell cell cell               # the first rule's left side starts
//   cell  -> op op | op          [0.3]    # weights in brackets
//         |  "conv1x1"                    # a line starting with '|' continues
//   op    -> "conv3x3" | "skip" | "none"  # quoted names are registry ops
//
// parse_grammar checks everything a sampler relies on: every symbol defined,
// every primitive a registered op, weights in range, no duplicate rules or
// alternatives, and every nonterminal able to finish (its shortest derivation
// is finite and fits in %max-depth). Errors read "FILE:LINE:COL: message".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "spaces/space.h"
#include "spaces/status.h"

namespace sylva {

struct GrammarSymbol {
  bool is_primitive = false;  // quoted op name; otherwise a nonterminal
  std::string name;
  int rule = -1;  // nonterminal: index into Grammar::rules
  int line = 0, col = 0;
};

struct GrammarAlternative {
  std::vector<GrammarSymbol> symbols;
  double prior = 0;   // normalised within the rule
  std::string label;  // text without weight and quotes, spaces collapsed
  int line = 0, col = 0;
};

struct GrammarRule {
  std::string name;
  std::vector<GrammarAlternative> alternatives;
  int min_height = 0;  // height of the shortest complete derivation
  int line = 0, col = 0;
};

struct Grammar {
  std::string source_name;
  std::vector<GrammarRule> rules;  // rules[0] is the start symbol
  std::map<std::string, int> index;
  BuildSpec build;     // from % directives
  int max_depth = 32;  // %max-depth: derivations never grow deeper
};

StatusOr<Grammar> parse_grammar(const std::string& text, const std::string& source_name);

}  // namespace sylva
