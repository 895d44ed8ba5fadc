// The canonical bracket form of a derivation tree: `[RULE child child ...]`,
// where a child is a nested bracket node or a bare op label. Spaces print
// architectures this way (Architecture::canonical) and builders read them
// back. Torch-free; pure functions.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace sylva {

// One node of a bracket tree. A bare op label is a node with is_op set and
// no children.
struct BracketNode {
  std::string name;  // rule name, or the op label when is_op
  bool is_op = false;
  std::vector<BracketNode> children;
  int col = 0;  // 1-based column of its '[' (or of the label) in the text
};

// The deepest nesting parse_bracket reads: it, the builders and the tree's
// destructor recurse per level, so a deeper text is an error rather than a
// stack overflow.
inline constexpr int kMaxBracketDepth = 1000;

// Parses one bracket tree; surrounding whitespace is allowed. Errors name
// the column and what was expected there.
StatusOr<BracketNode> parse_bracket(const std::string& text);

// The single-line canonical form: `[S [B clone2] ...]`, one space between
// items.
std::string format_bracket(const BracketNode& node);

}  // namespace sylva
