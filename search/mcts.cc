#include "search/mcts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "search/strategy_options.h"
#include "search/variation.h"

namespace sylva::search {
namespace {

// Playouts tried in one ask() before giving up (each either proposes or
// marks a subtree exhausted, so this only bounds pathological spaces).
constexpr int kPlayouts = 256;
// Rollouts drawn below a node before searching it for an unseen architecture.
constexpr int kRollouts = 16;

}  // namespace

struct Mcts::Node {
  std::vector<Choice> choices;  // of the decision open at this prefix; empty: complete
  int64_t visits = 0;           // finished playouts through this node
  double sum = 0;               // of their normalised values
  int64_t in_flight = 0;        // proposed, not yet told
  bool exhausted = false;       // no unseen architecture below
  std::vector<int> order;       // progressive widening order, drawn on first use
};

// The virtual loss of one proposed trial: one in-flight visit on each tree
// node of its path, taken back when the guard is destroyed.
class Mcts::InFlight {
 public:
  explicit InFlight(std::vector<Node*> nodes) : nodes_(std::move(nodes)) {
    for (Node* n : nodes_) ++n->in_flight;
  }
  ~InFlight() {
    for (Node* n : nodes_) --n->in_flight;
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::vector<Node*> nodes_;
};

size_t Mcts::PrefixHash::operator()(const std::vector<int>& p) const {
  uint64_t h = 1469598103934665603ULL ^ p.size();
  for (int v : p) h = mix_seed(h, static_cast<uint64_t>(v));
  return static_cast<size_t>(h);
}

Mcts::Mcts(const Space& space, uint64_t seed, MctsOptions options, std::vector<Architecture> init)
    : space_(space), seed_(seed), options_(options), init_(std::move(init)) {
  node({});
}

Mcts::~Mcts() { in_flight_.clear(); }  // guards point into tree_

int64_t Mcts::in_flight_at_root() const { return tree_.at({}).in_flight; }

Mcts::Node& Mcts::node(const std::vector<int>& prefix) {
  auto [it, inserted] = tree_.try_emplace(prefix);
  if (inserted) it->second.choices = space_.choices(prefix);
  return it->second;
}

Mcts::Node* Mcts::find(const std::vector<int>& prefix) {
  auto it = tree_.find(prefix);
  return it == tree_.end() ? nullptr : &it->second;
}

std::vector<int> Mcts::considered(const std::vector<int>& prefix, Node& n) {
  // Choices with prior 0 are never taken (typed grammars list them).
  std::vector<int> all;
  for (int i = 0; i < static_cast<int>(n.choices.size()); ++i) {
    if (n.choices[i].prior > 0) all.push_back(i);
  }
  const int count = static_cast<int>(all.size());
  if (count <= options_.widen_above) return all;
  if (n.order.empty()) {
    // Drawn without replacement by the priors, from the node's own seed.
    Rng rng(mix_seed(seed_, PrefixHash()(prefix)));
    std::vector<double> w;
    for (int i : all) w.push_back(n.choices[i].prior);
    for (int i = 0; i < count; ++i) {
      const size_t k = sample_index(rng, w);
      n.order.push_back(all[k]);
      w[k] = 0;
    }
  }
  const double width = options_.widen_k * std::pow(static_cast<double>(n.visits + n.in_flight + 1),
                                                   options_.widen_alpha);
  const int m = std::clamp(static_cast<int>(width), 1, count);
  return std::vector<int>(n.order.begin(), n.order.begin() + m);
}

std::optional<Architecture> Mcts::playout(Rng& rng, bool* root_exhausted) {
  std::vector<int> prefix;
  while (true) {
    Node& n = node(prefix);
    if (n.choices.empty()) {  // a complete architecture: evaluated already
      n.exhausted = true;
      return std::nullopt;
    }
    std::vector<int> open;  // considered children not yet in the tree
    int best = -1;
    double best_score = -std::numeric_limits<double>::infinity();
    const double parent = static_cast<double>(n.visits + n.in_flight);
    bool any = false;
    const std::vector<int> candidates = considered(prefix, n);
    for (int c : candidates) {
      prefix.push_back(c);
      Node* child = find(prefix);
      prefix.pop_back();
      if (child == nullptr) {
        open.push_back(c);
        continue;
      }
      if (child->exhausted) continue;
      any = true;
      // Tree nodes are made by tell(), so visits >= 1.
      const double visits = static_cast<double>(child->visits + child->in_flight);
      const double score = child->sum / visits +
                           options_.uct_c * std::sqrt(std::log(std::max(parent, 1.0)) / visits);
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    if (!open.empty()) {
      // Expansion: a rollout through one of the open children, by the priors.
      std::vector<double> w;
      for (int c : open) w.push_back(n.choices[c].prior);
      for (int attempt = 0; attempt < kRollouts; ++attempt) {
        std::vector<int> start = prefix;
        start.push_back(open[sample_index(rng, w)]);
        Architecture arch = complete_by_priors(space_, start, rng);
        if (!seen_.count(arch.hash)) return arch;
      }
      auto found = sample_unseen(space_, seen_, rng, prefix);
      if (found) return found;
      n.exhausted = true;
      if (prefix.empty()) *root_exhausted = true;
      return std::nullopt;
    }
    if (!any) {  // every considered child exhausted
      if (candidates.size() < static_cast<size_t>(takeable_count(n.choices))) {
        // Widening may open more; search the whole node instead.
        auto found = sample_unseen(space_, seen_, rng, prefix);
        if (found) return found;
      }
      n.exhausted = true;
      if (prefix.empty()) *root_exhausted = true;
      return std::nullopt;
    }
    prefix.push_back(best);
  }
}

std::optional<Architecture> Mcts::ask(int64_t number) {
  Rng rng(mix_seed(seed_, static_cast<uint64_t>(number)));
  std::optional<Architecture> arch = first_unseen(init_, seen_);
  bool root_exhausted = false;
  for (int i = 0; i < kPlayouts && !arch && !root_exhausted; ++i)
    arch = playout(rng, &root_exhausted);
  if (!arch && !root_exhausted) arch = sample_unseen(space_, seen_, rng);
  if (!arch) return std::nullopt;
  seen_.insert(arch->hash);
  start_in_flight(*arch);
  return arch;
}

void Mcts::start_in_flight(const Architecture& arch) {
  std::vector<Node*> path;
  std::vector<int> prefix;
  for (size_t i = 0;; ++i) {
    Node* n = find(prefix);
    if (n == nullptr) break;
    path.push_back(n);
    if (i == arch.decisions.size()) break;
    prefix.push_back(arch.decisions[i]);
  }
  in_flight_[arch.hash] = std::make_unique<InFlight>(std::move(path));
}

void Mcts::pending(const Architecture& arch) {
  seen_.insert(arch.hash);
  start_in_flight(arch);
}

double Mcts::normalise(double value) {
  const auto lo = std::lower_bound(sorted_values_.begin(), sorted_values_.end(), value);
  const auto hi = std::upper_bound(lo, sorted_values_.end(), value);
  const double below = static_cast<double>(lo - sorted_values_.begin());
  const double equal = static_cast<double>(hi - lo);
  sorted_values_.insert(hi, value);
  const double n = static_cast<double>(sorted_values_.size());
  if (n == 1) return 0.5;
  // Mid-rank among every value so far, itself included, in [0, 1].
  return (below + 0.5 * equal) / (n - 1);
}

void Mcts::tell(const Observation& obs) {
  seen_.insert(obs.arch.hash);
  in_flight_.erase(obs.arch.hash);
  const double v = obs.ok && obs.value ? normalise(*obs.value) : 0.0;
  std::vector<int> prefix;
  const auto& d = obs.arch.decisions;
  for (size_t i = 0;; ++i) {
    const bool expanding = find(prefix) == nullptr;
    Node& n = node(prefix);
    ++n.visits;
    n.sum += v;
    if (expanding || i == d.size()) break;  // one new node per playout
    prefix.push_back(d[i]);
  }
}

void register_mcts() {
  const MctsOptions defaults;
  register_strategy({"mcts",
                     "Monte Carlo tree search over the decision tree (UCT, virtual loss)",
                     {{"uct-c", "UCT exploration constant", fmt::format("{:g}", defaults.uct_c),
                       OptionDef::kOwners, true}},
                     [](const StrategyContext& ctx) -> StatusOr<std::unique_ptr<Strategy>> {
                       StrategyOptions read(ctx.params, "mcts");
                       MctsOptions o;
                       o.uct_c = read.real("uct-c", o.uct_c, 0, 1e6);
                       Status s = read.check_all_read();
                       if (!s.is_ok()) return s;
                       SYLVA_ASSIGN(init, parse_init(*ctx.space, ctx.init, ctx.init_source));
                       return std::unique_ptr<Strategy>(
                           new Mcts(*ctx.space, ctx.seed, o, std::move(init)));
                     }});
}

}  // namespace sylva::search
