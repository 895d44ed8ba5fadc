// TypedGrammarSpace: the decision tree of a typed grammar (`%state tensor`,
// e.g. einspace). Every slot of the derivation carries the tensor shape that
// flows into it (im [C, H, W] or col [S, D]), derived from %input by the
// analytic shape rules of einspace_ops.h; no tensor is ever run.
//
// Valid by construction: a choice is offered only when the derivation can
// still be completed into a valid network within the budgets (%max-depth,
// %max-nodes, %max-params, %max-activation). The strategy proves that by
// finding a completion (a witness) with a bounded depth-first search that
// tries the cheapest alternatives first and, inside the second of two
// branches, can finish by copying the first branch, which always aggregates.
// Every offered choice therefore has a completion, so a derivation never
// reaches a dead end; a choice whose witness search runs out of steps is not
// offered (counted in Stats).
//
// Decisions: a rule with two or more alternatives is a decision; a choice
// index is the grammar alternative, the same in every context, so a kept
// suffix means the same thing after a variation. The choices list every
// alternative; those without a witness have prior 0 and are never taken by
// the strategies (a hand-written tree may take one: it is checked as it is
// applied). Replaying stored decisions runs no witness search.
//
// Implemented in typed_grammar_space.cc (this class: the per-rule tables,
// choices, make, parse, slots, size), typed_machine.{h,cc} (Machine: the
// derivation as a stack machine, and the witness search) and
// typed_cursor.{h,cc} (Cursor: decision by decision, with the offered
// choices). The two .h files are private to those three .cc files.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spaces/einspace/ops.h"
#include "spaces/grammar/grammar.h"
#include "spaces/space.h"

namespace sylva {

class TypedGrammarSpace : public Space {
 public:
  // Filtering counters, summed over every derivation of this space.
  struct Stats {
    std::atomic<int64_t> witness_searches{0};
    std::atomic<int64_t> witness_steps{0};
    std::atomic<int64_t> exhausted{0};     // witness searches that ran out of steps
    std::atomic<int64_t> budget_bound{0};  // choices removed only by a budget
  };

  TypedGrammarSpace(std::string name, std::string source, Grammar grammar);
  ~TypedGrammarSpace() override;

  const std::string& name() const override { return name_; }
  std::vector<Choice> choices(const std::vector<int>& prefix) const override;
  StatusOr<Architecture> make(const std::vector<int>& decisions) const override;
  StatusOr<Architecture> parse(const std::string& text) const override;
  // Kind: "RULE IN>OUT" (the rule and its input and output shapes), so that
  // crossover only swaps subtrees whose states match.
  std::vector<DecisionSlot> slots(const std::vector<int>& decisions) const override;
  bool subtree_closed(const std::vector<int>& prefix, int index) const override;
  std::unique_ptr<SpaceCursor> cursor() const override;
  const BuildSpec& build_spec() const override { return grammar_.build; }
  const std::string& source() const override { return source_; }

  // Whether the grammar derives at least one valid network for its %input
  // within its budgets (space_from_source rejects it otherwise).
  Status check_derivable() const;

  const Grammar& grammar() const { return grammar_; }
  const Stats& stats() const { return *stats_; }
  int64_t max_activation() const { return max_activation_; }
  int64_t max_memory() const { return max_activations_; }
  // %max-memory when the grammar does not set it, in input sizes.
  static constexpr int64_t kDefaultMemory = 8192;

  // Trainable parameters of an architecture at the grammar's %input, head
  // included (what %max-params bounds), and its derivation-tree node count.
  struct Size {
    int64_t params = 0;
    int64_t nodes = 0;
    int64_t memory = 0;  // elements of the op outputs training stores, per example
  };
  StatusOr<Size> size(const std::vector<int>& decisions) const;

  // What the einspace builder's network of a complete architecture counts
  // (measure_cost in spaces/nets/network.h), from the shapes alone: its
  // trainable parameters, and the multiply-accumulates of its linear layers,
  // fused convolutions, dot products and head for one input.
  struct Cost {
    int64_t params = 0;
    int64_t flops = 0;
  };
  StatusOr<Cost> cost(const std::vector<int>& decisions) const;
  // {"params", "flops"} of cost(); empty for an incomplete or invalid list.
  std::map<std::string, double> known_metrics(const std::vector<int>& decisions) const override;

  class Machine;
  class Cursor;

 private:
  std::string name_;
  std::string source_;
  Grammar grammar_;
  int64_t max_activation_ = 0;
  int64_t max_activations_ = 0;
  std::vector<std::vector<std::optional<einspace::Op>>> ops_;  // per alternative: its op
  std::vector<std::vector<int>> witness_order_;      // per rule: cheapest alternatives first
  std::vector<int64_t> min_nodes_;                   // per rule: fewest nodes it derives
  std::vector<std::vector<int64_t>> alt_min_nodes_;  // per alternative: of its children
  // Per rule: the fewest nodes beyond its fewest with which a derivation of it
  // may change the tensor's rank (an im2col or col2im below it); a lower
  // bound, so the witness search only prunes where no such change fits.
  std::vector<int64_t> rank_change_nodes_;
  std::unique_ptr<Stats> stats_;
};

}  // namespace sylva
