// Space: a search space exposed as a tree of decisions (DeepArchitect style).
//
// Starting from the empty prefix, `choices(prefix)` lists the legal choices at
// the next open decision, each with a prior and a label; appending the index
// of one of them gives the next prefix; an empty list means the architecture
// is complete and `make(prefix)` returns it. A choice with prior 0 is listed
// but never taken by a strategy: typed grammars list every alternative, so that
// an index names the same alternative in every context, and give 0 to those
// that cannot complete a valid network there. Every strategy in search/ works on
// this interface alone. Implementations are immutable after construction and
// safe to share across threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/random.h"
#include "base/status.h"
#include "spaces/architecture.h"

namespace sylva {

struct Choice {
  std::string label;
  double prior = 0;  // priors of one decision's choices sum to 1
};

// How many of `choices` a strategy may take (prior > 0).
inline int takeable_count(const std::vector<Choice>& choices) {
  int n = 0;
  for (const auto& c : choices) n += c.prior > 0;
  return n;
}

// One decision's choices: `labels`, the prior uniform over those for which
// `open(i)` holds (e.g. a completion fits the budgets) and 0 for the rest.
std::vector<Choice> uniform_choices(const std::vector<std::string>& labels,
                                    const std::function<bool(size_t)>& open);

// How a builder turns an architecture into a network. Grammar files set these
// with `%` directives (see README, "Grammar files").
struct BuildSpec {
  std::string builder = "chain";  // "chain": leaves in order; "cell": NB201 cell
  int stem_channels = 32;         // width after the stem convolution
  std::vector<int> stages;        // chain: layers per stage; first of each halves
                                  // the resolution and doubles the width;
                                  // empty: reductions at 1/3 and 2/3 of the depth
  int head_channels = 0;          // chain: 1x1 conv width before pooling, 0 none
  int cells_per_stage = 5;        // cell: cells in each of the three stages
};

// Where a decision sits in the derivation: `kind` names what is being decided
// (a grammar's rule name), and decisions [index, end) are the decision and
// the subtree it opened. Evolution re-decides such a range and crosses over
// ranges of the same kind.
struct DecisionSlot {
  std::string kind;
  int end = 0;
};

// A position in a space's decision tree that moves forward one decision at a
// time, so that drawing an architecture costs one derivation rather than one
// per decision. From Space::cursor(); the space must outlive it. Not
// thread-safe.
class SpaceCursor {
 public:
  virtual ~SpaceCursor() = default;
  // Choices at the open decision; empty when the architecture is complete.
  virtual const std::vector<Choice>& choices() const = 0;
  // Takes choice `index` of choices(); throws std::invalid_argument when
  // there is no such choice.
  virtual void choose(int index) = 0;
  // The decisions taken so far.
  virtual const std::vector<int>& decisions() const = 0;
  // Space::subtree_closed(decisions(), index), usually cheaper.
  virtual bool subtree_closed(int index) const = 0;
  // choices().size(), without computing priors where that is costly.
  virtual size_t choice_count() const { return choices().size(); }
  // Draws a choice with probability proportional to its prior and takes it;
  // returns its index. The default draws sample_index over choices(); a
  // space whose priors are costly may test only what it draws (the same
  // distribution, other random numbers).
  virtual int draw(Rng& rng) {
    std::vector<double> weights;
    for (const Choice& c : choices()) weights.push_back(c.prior);
    const int index = static_cast<int>(sample_index(rng, weights));
    choose(index);
    return index;
  }
  // The open decision and the subtree it opens are about to be redrawn, and
  // `rest` (a parent's decisions after its subtree there) to follow them.
  // Until that subtree is closed, choices() offers only what can end where
  // `rest` applies. false: this space cannot (the caller checks the result).
  virtual bool rejoin(const std::vector<int>& rest) {
    (void)rest;
    return false;
  }
};

class Space {
 public:
  virtual ~Space() = default;

  // Name as given by the user: a built-in name or a grammar path.
  virtual const std::string& name() const = 0;

  // Choices at the next open decision after `prefix`; empty when complete.
  // Throws std::invalid_argument if the prefix is not a legal path.
  virtual std::vector<Choice> choices(const std::vector<int>& prefix) const = 0;

  // The complete architecture for a full decision list.
  virtual StatusOr<Architecture> make(const std::vector<int>& decisions) const = 0;

  // Parses a canonical bracket string (starts with '[') or a key ("a/b/c").
  virtual StatusOr<Architecture> parse(const std::string& text) const = 0;

  // One slot per decision of a complete architecture. The default treats
  // every decision as its own subtree of kind "d<index>" (a flat space).
  virtual std::vector<DecisionSlot> slots(const std::vector<int>& decisions) const;

  // Whether decision `index` of `prefix` and the subtree it opened are
  // complete: the next open decision (if any) lies outside that subtree. The
  // default completes `prefix` with first choices and reads slots().
  virtual bool subtree_closed(const std::vector<int>& prefix, int index) const;

  // A cursor at the empty prefix. The default asks choices() of the whole
  // prefix at every step; spaces with a cheaper way override it.
  virtual std::unique_ptr<SpaceCursor> cursor() const;

  // A numeric description of a complete architecture: the input of
  // accuracy predictors (search/predictor.h). The default: per decision, a
  // one-hot of the chosen index among that decision's choices, so spaces
  // whose architectures differ in decision count give vectors of different
  // lengths (predictors pad them with zeros). Spaces with a natural fixed
  // layout override it.
  virtual std::vector<double> encode(const std::vector<int>& decisions) const;
  // Metrics the space knows without evaluating an architecture (analytic
  // costs, named as evaluators name them: "params", "flops"). Default: none.
  virtual std::map<std::string, double> known_metrics(const std::vector<int>& decisions) const {
    (void)decisions;
    return {};
  }
  virtual const BuildSpec& build_spec() const = 0;

  // Source text that rebuilds this space with space_from_source(); stored with
  // each experiment so that resume and export never depend on a file path.
  virtual const std::string& source() const = 0;
};

// Parses a key ("label/label/...") by walking a cursor: one label per
// decision. Errors name the part that is not a choice and list the choices.
StatusOr<Architecture> parse_key_with_cursor(const Space& space, const std::string& text);

// What a typed grammar (%state tensor) is derived for: the input
// [channels, height, width] and classes (from the dataset), and the budgets
// of the command line. Zero or negative: keep the grammar's own.
struct SpaceTarget {
  int64_t channels = 0, height = 0, width = 0, classes = 0;
  int64_t max_nodes = -1, max_params = -1;
  int64_t max_flops = -1;  // supernet spaces: MACs per image
};

// The space with the target's directives appended to its source (a later
// directive wins), or nullptr when nothing changes; an HparamSpace's inner
// space is retargeted and keeps its hyperparameters. Budgets for a space that
// is not a typed grammar are an error naming the option.
StatusOr<std::unique_ptr<Space>> retarget_space(const Space& space, const SpaceTarget& target);

// A kind of `--space SCHEME:ARG` (e.g. `supernet:FILE`): reads the space's
// source from ARG. Registered at start-up by the library that reads it.
struct SpaceScheme {
  std::string name;  // the SCHEME before ':'
  std::string help;  // one line
  std::function<StatusOr<std::string>(const std::string& arg)> read_source;
};
void register_space_scheme(SpaceScheme scheme);

// A built-in space by name ("nas-bench-macro", "nb201"), a registered
// SCHEME:ARG, or a grammar file path.
StatusOr<std::unique_ptr<Space>> make_space(const std::string& name_or_path);

// Whether stored space text is a registered supernet family's spec ("ofa
// ...", "sorted ...": spaces/supernets/family.h).
bool is_supernet_source(const std::string& source);
// Rebuilds a space from stored grammar text or a supernet family's spec;
// `%hparam` lines in it make the result an HparamSpace around the space of
// the rest (spaces/hparam_space.h).
StatusOr<std::unique_ptr<Space>> space_from_source(const std::string& name,
                                                   const std::string& source);

std::vector<std::string> builtin_space_names();

}  // namespace sylva
