// Grammar: a probabilistic context-free grammar read from a grammar file.
//
//   # comment
//   %stem 32                              # directives configure the builder
//   start -> cell cell cell               # the first rule's left side starts
//   cell  -> op op | op          [0.3]    # weights in brackets
//         |  "conv1x1"                    # a line starting with '|' continues
//   op    -> "conv3x3" | "skip" | "none"  # quoted names are registry ops
//
// Typed grammars (`%state tensor`, the einspace grammar) add constructor forms
// and op families; every slot then carries a tensor shape (see
// typed_grammar_space.h):
//
//   %state tensor                         # slots carry shapes
//   %input 3 32 32                        # default input [C, H, W]
//   M -> sequential(M, M) | branch(B, M, A) | route(P, M, R) | C [0.32]
//   C -> "linear"(16 | 32 | 64) | "norm"  # a family: one alternative per
//                                         # argument tuple, sharing its weight
//
// parse_grammar checks everything a sampler relies on: every symbol defined,
// every primitive a registered op, weights in range, no duplicate rules or
// alternatives, and every nonterminal able to finish (its shortest derivation
// is finite and fits in %max-depth). Errors read "FILE:LINE:COL: message".
// What a grammar may ask for is bounded (grammar_limits below) so that a
// generated or mangled file is refused at once instead of taking minutes
// and gigabytes; quoted input is cut in messages (quote_cut).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "spaces/space.h"

namespace sylva {

struct GrammarSymbol {
  bool is_primitive = false;  // quoted op name; otherwise a nonterminal
  std::string name;           // op: its label, e.g. "linear64" for "linear"(64)
  std::string family;         // typed op: its family, e.g. "linear"
  std::vector<int64_t> args;  // typed op: the family's arguments
  int rule = -1;              // nonterminal: index into Grammar::rules
  int line = 0, col = 0;
};

// How a typed alternative threads the tensor through its symbols.
enum class Constructor {
  kNone,        // a single symbol (op or nonterminal); untyped: a sequence
  kSequential,  // sequential(X, Y): Y after X
  kBranch,      // branch(B, M, A): split, one M per branch, aggregate
  kRoute,       // route(P, M, R): re-arrange, M, re-arrange back
};

struct GrammarAlternative {
  std::vector<GrammarSymbol> symbols;
  Constructor constructor = Constructor::kNone;
  double prior = 0;   // normalised within the rule
  std::string label;  // text without weight and quotes, spaces collapsed
  int line = 0, col = 0;
};

// Typed grammars: what a rule's derivations do, given by where it is used.
enum class RuleRole {
  kNone,         // untyped grammar, or never used
  kModule,       // tensor to tensor
  kBranching,    // the B of branch(B, M, A)
  kAggregation,  // the A of branch(B, M, A)
  kPre,          // the P of route(P, M, R)
  kPost,         // the R of route(P, M, R)
};

struct GrammarRule {
  std::string name;
  RuleRole role = RuleRole::kNone;
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
  // Typed grammars only (%state tensor).
  bool typed = false;
  std::vector<int64_t> input = {1, 28, 28};  // %input C H W
  int64_t classes = 10;                      // %classes
  int64_t max_nodes = 0;                     // %max-nodes, 0: no limit
  int64_t max_params = 0;                    // %max-params, 0: no limit
  int64_t max_activation = 0;                // %max-activation (elements), 0: 1024 x input
  int64_t max_memory = 0;  // %max-memory: elements training stores per example, 0: default
};

// Limits far above any real grammar (the built-in ones have under 100
// symbols, 10 alternatives per rule, %max-depth 100, %stem 32, %head 1280);
// each message names the limit it met.
namespace grammar_limits {
inline constexpr size_t kBytes = 1 << 20;  // the whole grammar text
inline constexpr int kRules = 10000;
inline constexpr int kAlternatives = 10000;  // in one rule, op-family instances included
// Symbols in one alternative, and ops in the shortest derivation of the start
// rule (and %stages' sum): the layers of the smallest network it can build.
inline constexpr int kLayers = 10000;
inline constexpr int kMaxDepth = 1000;       // %max-depth: derivations are walked recursively
inline constexpr int kChannels = 4096;       // %stem, %head and the widest layer they make
inline constexpr int kCells = 500;           // %cells: 3 stages x 500 cells x 6 edges < 10000
inline constexpr int64_t kInputSide = 8192;  // %input height and width (channels: kChannels)
inline constexpr int64_t kClasses = 100000;  // %classes (ImageNet-21k has 21841)
}  // namespace grammar_limits

StatusOr<Grammar> parse_grammar(const std::string& text, const std::string& source_name);

}  // namespace sylva
