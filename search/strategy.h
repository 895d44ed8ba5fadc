// Strategy: the ask/tell interface every search strategy implements.
//
// The experiment loop asks for the architecture of trial `number` whenever a
// worker is free and tells the strategy each result as it arrives. On resume
// the loop replays: finished trials are told in number order, trials that
// exist but never finished are announced with pending(), then asking goes on
// from the next number. Strategies work on the Space decision tree and plain
// numbers only (no torch). Not thread-safe: one thread drives a strategy.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/option_def.h"
#include "base/status.h"
#include "spaces/architecture.h"
#include "spaces/space.h"

namespace sylva::search {

struct Observation {
  int64_t number = 0;
  Architecture arch;
  bool ok = false;              // COMPLETE (or PRUNED with a value)
  std::optional<double> value;  // objective, larger is better (sign already applied)
  std::map<std::string, double> metrics;
  // Never evaluated (a proposal the proxy filter rejected): the strategy
  // releases what it holds for it and does not propose it again. Strategies
  // that learn from failures decide whether it is one (MCTS counts it
  // against its subtree; TPE learns nothing from it).
  bool withdrawn = false;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Architecture for trial `number`; nullopt when nothing new can be proposed.
  virtual std::optional<Architecture> ask(int64_t number) = 0;
  virtual void tell(const Observation& obs) = 0;
  // An existing, unfinished trial holds this architecture.
  virtual void pending(const Architecture& arch) = 0;
};

// Strategy options as given on the command line (e.g. "population" -> "10"),
// read by each strategy with its own defaults.
using StrategyParams = std::map<std::string, std::string>;

// A metric to optimise and its direction.
struct Objective {
  std::string metric;
  bool maximize = true;
};

struct StrategyContext {
  const Space* space = nullptr;
  // What the search optimises; single-objective strategies use the first, and
  // Observation::value is its signed value. Multi-objective strategies read
  // every one from Observation::metrics.
  std::vector<Objective> objectives;
  uint64_t seed = 0;
  StrategyParams params;
  // Architectures to evaluate first, e.g. known baselines: the lines of a
  // file, each a canonical form or a key (blank lines and '#' comments are
  // skipped; blanks around a key, CRLF line ends and a UTF-8 byte order mark
  // are read as a plain line); `init_source` names the file in errors.
  std::vector<std::string> init;
  std::string init_source;
};

using StrategyFactory = std::function<StatusOr<std::unique_ptr<Strategy>>(const StrategyContext&)>;

// One strategy: its name (`--strategy NAME`), a help line, the options it
// reads (StrategyParams; declared with their defaults, which the strategy
// applies itself: OptionDef::kOwners) and its factory.
struct StrategyDef {
  std::string name;
  std::string help;
  std::vector<OptionDef> options;
  StrategyFactory make;
};

// The registry: strategies register next to their code;
// register_all_strategies() (register_all.cc) makes sure every built-in one
// is linked in (static libraries drop unreferenced objects).
void register_strategy(StrategyDef def);
void register_all_strategies();
// Every registered strategy, by name.
std::vector<const StrategyDef*> strategy_defs();
StatusOr<std::unique_ptr<Strategy>> make_strategy(const std::string& name,
                                                  const StrategyContext& context);
std::vector<std::string> strategy_names();

// Parses StrategyContext::init; an entry that is not an architecture of the
// space is an error naming `source` and the line ("seeds.txt:3: ...").
StatusOr<std::vector<Architecture>> parse_init(const Space& space,
                                               const std::vector<std::string>& init,
                                               const std::string& source);

// Samples a complete architecture by the priors of each decision.
Architecture sample_by_priors(const Space& space, std::mt19937_64& rng);

}  // namespace sylva::search
