// The configurations of a once-for-all supernet as a space: a tree of
// decisions that every strategy searches like any other. Decisions, in order:
// the input resolution; then per stage its depth, then per active block its
// kernel and its expand ratio. Labels "r28", "d3", "k5", "e4"; the canonical
// form is
//   [ofa r28 [stage d3 [block k5 e4] [block k3 e6] [block k7 e3]] [stage ...] ...]
// A stage's depth decision opens the stage's subtree (slot kind "stageN"), so
// crossover swaps whole stages. Priors are uniform over the choices whose
// cheapest completion fits the spec's budgets (max-params, max-macs); the
// others are listed with prior 0, so that indices stay stable, and never taken
// by a strategy. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "spaces/supernets/family_space.h"
#include "spaces/supernets/ofa/ofa_config.h"

namespace sylva::ofa {

class OfaSpace : public FamilySpace<OfaSpec, OfaConfig> {
 public:
  OfaSpace(std::string name, OfaSpec spec);

  std::vector<Choice> choices(const std::vector<int>& prefix) const override;
  StatusOr<Architecture> make(const std::vector<int>& decisions) const override;
  StatusOr<Architecture> parse(const std::string& text) const override;
  std::vector<DecisionSlot> slots(const std::vector<int>& decisions) const override;
  bool subtree_closed(const std::vector<int>& prefix, int index) const override;
  // Once-for-all's predictor encoding: one-hots of the resolution, of each
  // stage's depth, and of each block position's kernel and expand ratio
  // (all zero for a block the depth leaves out). Fixed length.
  std::vector<double> encode(const std::vector<int>& decisions) const override;

  // The configuration of a complete decision list, and back.
  StatusOr<OfaConfig> config(const std::vector<int>& decisions) const override;
  StatusOr<std::vector<int>> decisions(const OfaConfig& config) const override;
  // An error when even the smallest configuration exceeds a budget.
  Status check_budgets() const override;

 private:
  // What the decision after `prefix` chooses: 'r', 'd', 'k' or 'e' with its
  // stage and block; kind 0 when the prefix is complete. Throws
  // std::invalid_argument for an illegal prefix.
  struct Next {
    char kind = 0;
    int stage = 0, block = 0;
  };
  Next next(const std::vector<int>& prefix) const;
  const std::vector<int64_t>& values(char kind) const;
  // The configuration of `prefix` completed with the least value of every
  // decision still open: the cheapest completion.
  OfaConfig cheapest(const std::vector<int>& prefix) const;
};

}  // namespace sylva::ofa
