// FamilySpace: what the configuration spaces of the weight-sharing supernet
// families share (OfaSpace, SortedSpace, StitchSpace in
// spaces/supernets/NAME/NAME_space.h). Such a space is built from the
// family's parsed spec (`Spec`) and names each configuration (`Config`) by
// its decisions; its source is the spec's one line, its builder the family
// name, and its known metrics the family's analytic cost. The family
// supplies the decision tree (choices, make, parse, slots, encode) and the
// conversions config() and decisions().
//
// Contract on the family: the namespace of `Spec` declares
// `std::string spec_text(const Spec&)` and `cost(const Spec&, const Config&)`
// returning a value with `params` and `macs` (found by argument-dependent
// lookup), and `Spec` has `max_params` and `max_macs` (0: no budget).
//
// Torch-free; it sits in spaces/ rather than spaces/supernets/ because the
// torch-free check admits headers there. Immutable after construction, like
// every Space.
#pragma once

#include <fmt/format.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "spaces/bracket.h"
#include "spaces/space.h"

namespace sylva {

template <typename Spec, typename Config>
class FamilySpace : public Space {
 public:
  const std::string& name() const override { return name_; }
  const BuildSpec& build_spec() const override { return build_; }
  const std::string& source() const override { return source_; }
  // "params" and "flops" (multiply-accumulates per image) of the
  // configuration, analytic; none for a decision list that is not one.
  std::map<std::string, double> known_metrics(const std::vector<int>& decisions) const override;

  const Spec& spec() const { return spec_; }
  // The configuration of a complete decision list, and back.
  virtual StatusOr<Config> config(const std::vector<int>& decisions) const = 0;
  virtual StatusOr<std::vector<int>> decisions(const Config& c) const = 0;
  // An error when no configuration fits the spec's budgets
  // (family_space() in spaces/supernets/family.h refuses the space then).
  virtual Status check_budgets() const = 0;

 protected:
  // `family`: the family's name, its builder and the first word of its
  // canonical forms.
  FamilySpace(std::string name, Spec spec, const std::string& family);

  // Whether `c` is within the spec's budgets.
  virtual bool fits(const Config& c) const;
  // check_budgets() of a family whose every configuration costs at least
  // what `smallest` costs.
  Status smallest_fits(const Config& smallest) const;

  // The errors of a decision list that is not a configuration: an illegal
  // one (`why`), one too short, one over the budgets.
  Status not_a_configuration(const std::string& why) const;
  Status more_needed(size_t given) const;
  Status over_budget(const Config& c) const;

  // The architecture of a complete decision list whose labels are also its
  // primitives; the flat one's canonical form is "[FAMILY label label ...]".
  Architecture architecture(const std::vector<int>& decisions, std::vector<std::string> labels,
                            std::string canonical) const;
  Architecture flat_architecture(const std::vector<int>& decisions,
                                 std::vector<std::string> labels) const;
  // parse() of a flat canonical form (or a key); `examples` lists labels
  // for the error on a child that is not one ("'d4', 'w128'").
  StatusOr<Architecture> parse_flat(const std::string& text, const std::string& examples) const;

  // Constant after construction.
  std::string name_;
  Spec spec_;
  std::string source_;  // spec_text(spec_)
  BuildSpec build_;     // builder: the family's name
};

template <typename Spec, typename Config>
FamilySpace<Spec, Config>::FamilySpace(std::string name, Spec spec, const std::string& family)
    : name_(std::move(name)), spec_(std::move(spec)), source_(spec_text(spec_)) {
  build_.builder = family;
}

template <typename Spec, typename Config>
std::map<std::string, double> FamilySpace<Spec, Config>::known_metrics(
    const std::vector<int>& decisions) const {
  auto c = config(decisions);
  if (!c.is_ok()) return {};
  const auto k = cost(spec_, c.value());
  return {{"params", static_cast<double>(k.params)}, {"flops", static_cast<double>(k.macs)}};
}

template <typename Spec, typename Config>
bool FamilySpace<Spec, Config>::fits(const Config& c) const {
  if (!spec_.max_params && !spec_.max_macs) return true;
  const auto k = cost(spec_, c);
  return (!spec_.max_params || k.params <= spec_.max_params) &&
         (!spec_.max_macs || k.macs <= spec_.max_macs);
}

template <typename Spec, typename Config>
Status FamilySpace<Spec, Config>::smallest_fits(const Config& smallest) const {
  if (fits(smallest)) return Status::ok();
  const auto k = cost(spec_, smallest);
  return Status::invalid_argument(fmt::format(
      "the smallest configuration of '{}' has {} parameters and {} MACs, above the budget "
      "(max-params {}, max-macs {})",
      name_, k.params, k.macs, spec_.max_params, spec_.max_macs));
}

template <typename Spec, typename Config>
Status FamilySpace<Spec, Config>::not_a_configuration(const std::string& why) const {
  return Status::invalid_argument(fmt::format("not a configuration of '{}': {}", name_, why));
}

template <typename Spec, typename Config>
Status FamilySpace<Spec, Config>::more_needed(size_t given) const {
  return Status::invalid_argument(fmt::format(
      "not a configuration of '{}': {} decisions given, more are needed", name_, given));
}

template <typename Spec, typename Config>
Status FamilySpace<Spec, Config>::over_budget(const Config& c) const {
  const auto k = cost(spec_, c);
  return Status::invalid_argument(fmt::format(
      "configuration of '{}' over budget: {} parameters, {} MACs (max-params {}, max-macs {})",
      name_, k.params, k.macs, spec_.max_params, spec_.max_macs));
}

template <typename Spec, typename Config>
Architecture FamilySpace<Spec, Config>::architecture(const std::vector<int>& decisions,
                                                     std::vector<std::string> labels,
                                                     std::string canonical) const {
  Architecture arch;
  arch.decisions = decisions;
  arch.labels = std::move(labels);
  arch.primitives = arch.labels;
  arch.key = join(arch.labels, "/");
  arch.canonical = std::move(canonical);
  arch.hash = fnv1a64(arch.canonical);
  return arch;
}

template <typename Spec, typename Config>
Architecture FamilySpace<Spec, Config>::flat_architecture(const std::vector<int>& decisions,
                                                          std::vector<std::string> labels) const {
  std::string canonical = "[" + build_.builder + " " + join(labels, " ") + "]";
  return architecture(decisions, std::move(labels), std::move(canonical));
}

template <typename Spec, typename Config>
StatusOr<Architecture> FamilySpace<Spec, Config>::parse_flat(const std::string& text,
                                                             const std::string& examples) const {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '[') return parse_key_with_cursor(*this, text);
  auto tree = parse_bracket(text);
  if (!tree.is_ok()) return tree.status();
  const BracketNode& root = tree.value();
  auto where = [](const BracketNode& n, const std::string& what) {
    return Status::at({"canonical form", 0, n.col}, what);
  };
  if (root.is_op || root.name != build_.builder) {
    return where(root, fmt::format("expected '[{} ...]'", build_.builder));
  }
  std::vector<std::string> labels;
  for (const BracketNode& c : root.children) {
    if (!c.is_op) return where(c, fmt::format("expected a label ({})", examples));
    labels.push_back(c.name);
  }
  return parse_key_with_cursor(*this, join(labels, "/"));
}

}  // namespace sylva
