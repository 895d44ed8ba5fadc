// DecisionContexts: names for "the same decision" across architectures, so
// that statistics learnt from one trial apply to the decisions of another.
//
// A decision's kind is the set of labels of its choices (a grammar rule lists
// the same alternatives wherever it is expanded; typed grammars list every
// alternative), and its context is (kind, how many decisions of that kind
// came before it on the path). On a flat space such as nb201 the context is
// the edge or layer; on a recursive grammar it is "the k-th time this rule
// was expanded", with the kind as the coarser fallback. A rule whose
// alternatives a depth limit cuts offers another label set there, so counts
// as another kind. Both are interned to
// dense ids as finished trials are learnt; look-ups while proposing never add
// ids (so what a strategy proposes depends only on what it was told).
// Not thread-safe.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "spaces/space.h"

namespace sylva::search {

class DecisionContexts {
 public:
  struct Key {
    int kind = -1;     // -1: a kind never learnt
    int context = -1;  // -1: a context never learnt
  };

  // Follows one path, decision by decision, computing each decision's key.
  class Walk {
   public:
    explicit Walk(DecisionContexts& contexts) : contexts_(contexts) {}
    // The key of the decision whose choices are `choices`; `learn` interns
    // new kinds and contexts, otherwise unknown ones come back as -1. Call
    // once per decision, in path order.
    Key next(const std::vector<Choice>& choices, bool learn);

   private:
    DecisionContexts& contexts_;
    std::unordered_map<uint64_t, int> seen_of_kind_;  // by kind hash
  };

  // Keys of every decision of a complete architecture, interning new ones.
  std::vector<Key> learn(const Space& space, const std::vector<int>& decisions);

  int kind_count() const { return static_cast<int>(kind_sizes_.size()); }
  int context_count() const { return static_cast<int>(context_kind_.size()); }
  // Choices of a kind, and the kind of a context.
  int kind_size(int kind) const { return kind_sizes_[kind]; }
  int kind_of(int context) const { return context_kind_[context]; }

 private:
  std::unordered_map<uint64_t, int> kinds_;     // label-set hash -> kind id
  std::unordered_map<uint64_t, int> contexts_;  // (kind, occurrence) -> context id
  std::vector<int> kind_sizes_;
  std::vector<int> context_kind_;
};

// Counts of choices per kind and per context over a group of trials, and the
// smoothed density of a choice: the context's counts shrunk towards the
// kind's, the kind's towards the decision's priors, each with `weight`
// pseudo-observations. Choices with prior 0 get density 0.
class ChoiceCounts {
 public:
  explicit ChoiceCounts(const DecisionContexts& contexts) : contexts_(&contexts) { grow(); }
  // Adds one architecture's decisions (weight -1 takes it out again).
  void add(const std::vector<DecisionContexts::Key>& keys, const std::vector<int>& decisions,
           double weight = 1.0);
  // Density of every choice of a decision (sums to 1 over takeable choices).
  void density(DecisionContexts::Key key, const std::vector<Choice>& choices, double weight,
               std::vector<double>* out) const;

 private:
  // Makes room for every kind and context learnt so far.
  void grow();

  const DecisionContexts* contexts_;
  std::vector<std::vector<double>> by_kind_, by_context_;
  std::vector<double> kind_total_, context_total_;
};

}  // namespace sylva::search
