// Private to spaces/grammar/typed_*.cc: the cursor of a TypedGrammarSpace
// (typed_grammar_space.h), which steps its derivation machine
// (typed_machine.h) from decision to decision and offers, at each decision,
// the alternatives that a witness search proved can be completed.
//
// Implemented in typed_cursor.cc. Not thread-safe (SpaceCursor's contract).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "spaces/grammar/typed_grammar_space.h"
#include "spaces/grammar/typed_machine.h"

namespace sylva {

// Steps the machine from decision to decision. A decision lists every
// alternative of its rule, so that a decision index is the grammar
// alternative whatever the context (stable under variation); alternatives
// without a witness have prior 0 and the strategies never take them. Witnesses
// are searched only when choices() is read: replaying stored decisions costs
// no search, and each choice is checked as it is applied.
class TypedGrammarSpace::Cursor : public SpaceCursor {
 public:
  explicit Cursor(const TypedGrammarSpace& space);

  const std::vector<Choice>& choices() const override;
  void choose(int index) override;

  // Whether the open decision's positive choices have witnesses (false only
  // after a choice of a hand-written tree that no search proved).
  bool proven() const;

  const std::vector<int>& decisions() const override { return decisions_; }

  // Machine::set_rejoin until the open decision's subtree is closed.
  bool rejoin(const std::vector<int>& rest) override;

  // Draws among the alternatives by their grammar priors and searches for a
  // witness of the one drawn only; one without is set aside and the draw
  // repeated. That is the distribution of choices() (the priors of the
  // alternatives with a witness, renormalised) at a fraction of the
  // searches: a sample tests one or two alternatives a decision, not all.
  int draw(Rng& rng) override;

  // Every alternative is listed; no witness search needed to count them.
  size_t choice_count() const override;

  // Pre-order: a decision's subtree is open exactly when the next rule to
  // expand hangs below its node.
  bool subtree_closed(int index) const override;

  bool done() const { return m_.done(); }
  Machine& machine() { return m_; }
  const std::vector<int>& decision_nodes() const { return decision_nodes_; }

  // Why alternative `alt` is not offered at the open decision.
  std::string why_not(int alt);

 private:
  // Applies alternative `index` at the open decision; throws
  // std::invalid_argument, saying why, where it does not apply.
  void apply_checked(int index);

  // Records alternative `index`, just applied, as the open decision's
  // choice; `witness` (empty if none) becomes the promise of the decisions
  // after it.
  void take_applied(int index, std::vector<int> witness);

  // Applies every step up to the next decision (or the end).
  void advance();

  // Gives every alternative with a completion its prior (renormalised), the
  // others 0. The completion found for the alternative chosen last (its
  // witness) starts with an alternative of this decision, which is offered
  // without a new search: a derivation by the strategies never meets a decision
  // without choices, however the bounded searches fare.
  void offer();

  // Marks the alternatives with a witness, found with the usual budgets or
  // with `rescue` steps each; returns how many.
  int offer_proven(int rule, int rescue, std::vector<char>* ok);

  // Whether alternative `a` of the open decision has a witness (the promise's,
  // or one found with the usual budgets or `rescue` steps), into `*witness`.
  // The caller turns recording off.
  bool witnessed(int a, size_t here, int rescue, std::vector<int>* witness);

  // Whether the state after an alternative can be completed; its witness:
  // the decisions after the alternative. Alternatives that lead to the same
  // state (norm and leakyrelu keep the shape) share one search.
  bool prove(size_t here, int rescue, std::vector<int>* witness);

  const TypedGrammarSpace& s_;
  Machine m_;
  int64_t spent_ = 0;  // witness steps of this derivation
  std::unordered_map<typed_grammar::StateKey, std::optional<std::vector<int>>,
                     typed_grammar::StateKeyHash>
      proved_;
  bool offered_ = false;                     // open_ and witnesses_ are computed
  std::vector<Choice> open_;                 // every alternative, prior 0 if not offered
  std::vector<std::vector<int>> witnesses_;  // of each offered one: the decisions after it
  std::vector<int> promise_;                 // the witness of the alternative chosen last
  bool proven_ = true;
  int rejoin_point_ = -1;  // the redrawn subtree's root decision (rejoin())
  std::vector<int> decisions_;
  std::vector<int> decision_nodes_;
};

}  // namespace sylva
