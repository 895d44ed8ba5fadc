// GrammarSpace: the decision tree of a Grammar. A derivation expands the
// leftmost open nonterminal first; a rule with two or more alternatives is a
// decision whose choices are the alternatives that still fit in %max-depth
// (so every path ends), with priors renormalised over them. A choice index
// is a position in that filtered list. Immutable; safe to share.
#pragma once

#include <string>
#include <vector>

#include "spaces/grammar/grammar.h"
#include "spaces/space.h"

namespace sylva {

class GrammarSpace : public Space {
 public:
  GrammarSpace(std::string name, std::string source, Grammar grammar);

  const std::string& name() const override { return name_; }
  std::vector<Choice> choices(const std::vector<int>& prefix) const override;
  StatusOr<Architecture> make(const std::vector<int>& decisions) const override;
  StatusOr<Architecture> parse(const std::string& text) const override;
  // Kind: the rule name; end: past the last decision in the rule's subtree.
  std::vector<DecisionSlot> slots(const std::vector<int>& decisions) const override;
  bool subtree_closed(const std::vector<int>& prefix, int index) const override;
  // Expands the derivation incrementally: one step per decision.
  std::unique_ptr<SpaceCursor> cursor() const override;
  const BuildSpec& build_spec() const override { return grammar_.build; }
  const std::string& source() const override { return source_; }
  const Grammar& grammar() const { return grammar_; }

 private:
  struct Node {
    int rule = 0;
    int alt = -1;
    int depth = 1;
    int decision = -1;  // index of its decision, -1 for a single-alternative rule
    int parent = -1;
    std::vector<int> children;  // per symbol of the alternative: node index, -1 for an op
  };
  struct Derivation {
    std::vector<Node> nodes;
    std::vector<std::string> labels;
    std::vector<Choice> open;  // choices at the next decision, empty if complete
    bool complete = false;
  };

  class Cursor;
  std::vector<int> allowed(int rule, int depth) const;
  // Replays `prefix`; throws std::invalid_argument on an illegal path.
  Derivation derive(const std::vector<int>& prefix) const;
  std::string canonical(const Derivation& d, int node) const;
  void collect_primitives(const Derivation& d, int node, std::vector<std::string>* out) const;
  StatusOr<Architecture> parse_canonical(const std::string& text) const;

  std::string name_;
  std::string source_;
  Grammar grammar_;
};

}  // namespace sylva
