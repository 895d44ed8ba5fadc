// The configurations of a once-for-all supernet as a space: a tree of
// decisions that every engine searches like any other. Decisions, in order:
// the input resolution; then per stage its depth, then per active block its
// kernel and its expand ratio. Labels "r28", "d3", "k5", "e4"; the canonical
// form is
//   [ofa r28 [stage d3 [block k5 e4] [block k3 e6] [block k7 e3]] [stage ...] ...]
// A stage's depth decision opens the stage's subtree (slot kind "stageN"), so
// crossover swaps whole stages. Priors are uniform over the choices whose
// cheapest completion fits the spec's budgets (max-params, max-macs); the
// others are listed with prior 0, so that indices stay stable, and never taken
// by an engine. Torch-free.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "spaces/space.h"
#include "spaces/supernets/ofa/ofa_config.h"

namespace sylva::ofa {

class OfaSpace : public Space {
 public:
  OfaSpace(std::string name, OfaSpec spec);

  const std::string& name() const override { return name_; }
  std::vector<Choice> choices(const std::vector<int>& prefix) const override;
  StatusOr<Architecture> make(const std::vector<int>& decisions) const override;
  StatusOr<Architecture> parse(const std::string& text) const override;
  std::vector<DecisionSlot> slots(const std::vector<int>& decisions) const override;
  bool subtree_closed(const std::vector<int>& prefix, int index) const override;
  // Once-for-all's predictor encoding: one-hots of the resolution, of each
  // stage's depth, and of each block position's kernel and expand ratio
  // (all zero for a block the depth leaves out). Fixed length.
  std::vector<double> encode(const std::vector<int>& decisions) const override;
  // "params" and "flops" (multiply-accumulates per image), analytic.
  std::map<std::string, double> known_metrics(const std::vector<int>& decisions) const override;
  const BuildSpec& build_spec() const override { return build_; }
  const std::string& source() const override { return source_; }

  const OfaSpec& spec() const { return spec_; }
  // The configuration of a complete decision list, and back.
  StatusOr<OfaConfig> config(const std::vector<int>& decisions) const;
  StatusOr<std::vector<int>> decisions(const OfaConfig& config) const;
  // An error when even the smallest configuration exceeds a budget.
  Status check_budgets() const;

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
  bool fits(const OfaConfig& c) const;

  std::string name_;
  OfaSpec spec_;
  std::string source_;
  BuildSpec build_;
};

}  // namespace sylva::ofa
