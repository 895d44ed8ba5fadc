#include "search/mcts.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

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
  // `choices`: (context, choice) of each decision, counted in `shared`.
  // `choices`: (kind, context, choice) of each decision, counted in the
  // shared tables.
  InFlight(std::vector<Node*> nodes, std::vector<Shared>* by_kind, std::vector<Shared>* by_context,
           std::vector<std::array<int, 3>> choices)
      : nodes_(std::move(nodes)),
        by_kind_(by_kind),
        by_context_(by_context),
        choices_(std::move(choices)) {
    for (Node* n : nodes_) ++n->in_flight;
    for (auto [k, x, c] : choices_) {
      ++(*by_kind_)[k].in_flight[c];
      ++(*by_context_)[x].in_flight[c];
    }
  }
  ~InFlight() {
    for (Node* n : nodes_) --n->in_flight;
    for (auto [k, x, c] : choices_) {
      --(*by_kind_)[k].in_flight[c];
      --(*by_context_)[x].in_flight[c];
    }
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::vector<Node*> nodes_;
  std::vector<Shared>*by_kind_, *by_context_;
  std::vector<std::array<int, 3>> choices_;
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

std::pair<double, double> Mcts::shared(DecisionContexts::Key key, int choice) const {
  double q = 0.5;
  if (key.kind >= 0 && key.kind < static_cast<int>(by_kind_.size())) {
    const Shared& k = by_kind_[key.kind];
    if (choice < static_cast<int>(k.visits.size()))
      q = (k.sum[choice] + q) / (k.visits[choice] + static_cast<double>(k.in_flight[choice]) + 1);
  }
  double visits = 0;
  if (key.context >= 0 && key.context < static_cast<int>(by_context_.size())) {
    const Shared& x = by_context_[key.context];
    if (choice < static_cast<int>(x.visits.size())) {
      // In-flight trials count as visits of value 0, as in the tree.
      visits = x.visits[choice] + static_cast<double>(x.in_flight[choice]);
      q = (x.sum[choice] + q) / (visits + 1);
    }
  }
  return {q, visits};
}

Mcts::Shared& Mcts::shared_at(std::vector<Shared>& table, int index, int kind) {
  if (index >= static_cast<int>(table.size())) table.resize(index + 1);
  Shared& s = table[index];
  if (s.visits.empty()) {
    const size_t n = static_cast<size_t>(contexts_.kind_size(kind));
    s.visits.assign(n, 0.0);
    s.sum.assign(n, 0.0);
    s.in_flight.assign(n, 0);
  }
  return s;
}

Architecture Mcts::rollout(std::vector<int> prefix, DecisionContexts::Walk walk, Rng& rng) {
  if (options_.rollout_temperature <= 0) return complete_by_priors(space_, std::move(prefix), rng);
  auto cursor = space_.cursor();
  for (int d : prefix) cursor->choose(d);
  std::vector<double> q, w;
  while (true) {
    const std::vector<Choice>& choices = cursor->choices();
    if (choices.empty()) break;
    const DecisionContexts::Key key = walk.next(choices, false);
    q.assign(choices.size(), 0.0);
    double top = -1;
    for (size_t c = 0; c < choices.size(); ++c) {
      if (choices[c].prior <= 0) continue;
      q[c] = shared(key, static_cast<int>(c)).first;
      top = std::max(top, q[c]);
    }
    w.assign(choices.size(), 0.0);
    for (size_t c = 0; c < choices.size(); ++c) {
      if (choices[c].prior > 0)
        w[c] = choices[c].prior * std::exp((q[c] - top) / options_.rollout_temperature);
    }
    cursor->choose(static_cast<int>(sample_index(rng, w)));
  }
  auto arch = space_.make(cursor->decisions());
  if (!arch.is_ok()) throw std::logic_error("mcts: " + arch.status().message());
  return std::move(arch).value();
}

std::optional<Architecture> Mcts::playout(Rng& rng, bool* root_exhausted) {
  std::vector<int> prefix;
  DecisionContexts::Walk walk(contexts_);
  while (true) {
    Node& n = node(prefix);
    if (n.choices.empty()) {  // a complete architecture: evaluated already
      n.exhausted = true;
      return std::nullopt;
    }
    const DecisionContexts::Key key = walk.next(n.choices, false);
    int best = -1;
    bool best_in_tree = false;
    double best_score = -std::numeric_limits<double>::infinity();
    const double log_parent = std::log(static_cast<double>(n.visits + n.in_flight) + 1.0);
    const std::vector<int> candidates = considered(prefix, n);
    for (int c : candidates) {
      prefix.push_back(c);
      Node* child = find(prefix);
      prefix.pop_back();
      if (child != nullptr && child->exhausted) continue;
      // In-flight trials count as visits of value 0 (the virtual loss).
      const double visits =
          child == nullptr ? 0.0 : static_cast<double>(child->visits + child->in_flight);
      const double q_shared = shared(key, c).first;
      double q = q_shared;
      if (visits > 0) {
        const double beta = std::sqrt(options_.rave_k / (3 * visits + options_.rave_k));
        q = (1 - beta) * child->sum / visits + beta * q_shared;
      }
      const double score = q + options_.uct_c * std::sqrt(log_parent / (visits + 1));
      if (score > best_score) {
        best_score = score;
        best = c;
        best_in_tree = child != nullptr && child->visits > 0;
      }
    }
    if (best < 0) {  // every considered child exhausted
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
    if (best_in_tree) continue;
    // Expansion: rollouts through the chosen child by the shared statistics.
    for (int attempt = 0; attempt < kRollouts; ++attempt) {
      Architecture arch = rollout(prefix, walk, rng);
      if (!seen_.count(arch.hash)) return arch;
    }
    auto found = sample_unseen(space_, seen_, rng, prefix);
    if (found) return found;
    node(prefix).exhausted = true;
    return std::nullopt;
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
  const std::vector<DecisionContexts::Key> keys = contexts_.learn(space_, arch.decisions);
  std::vector<std::array<int, 3>> choices;
  for (size_t i = 0; i < keys.size(); ++i) {
    shared_at(by_kind_, keys[i].kind, keys[i].kind);
    shared_at(by_context_, keys[i].context, keys[i].kind);
    choices.push_back({keys[i].kind, keys[i].context, arch.decisions[i]});
  }
  in_flight_[arch.hash] =
      std::make_unique<InFlight>(std::move(path), &by_kind_, &by_context_, std::move(choices));
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
  const std::vector<DecisionContexts::Key> keys = contexts_.learn(space_, obs.arch.decisions);
  for (size_t i = 0; i < keys.size(); ++i) {
    const int c = obs.arch.decisions[i];
    Shared& k = shared_at(by_kind_, keys[i].kind, keys[i].kind);
    Shared& x = shared_at(by_context_, keys[i].context, keys[i].kind);
    for (Shared* s : {&k, &x}) {
      s->visits[c] += 1;
      s->sum[c] += v;
    }
  }
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
  register_strategy(
      {"mcts",
       "Monte Carlo tree search over the decision tree (UCT, virtual loss)",
       {{"uct-c", "UCT exploration constant", fmt::format("{:g}", defaults.uct_c),
         OptionDef::kOwners, true},
        {"rave-k", "visits at which a node's own mean and the shared mean weigh alike",
         fmt::format("{:g}", defaults.rave_k), OptionDef::kOwners, true},
        {"rollout-temperature",
         "rollouts favour choices by exp(shared mean / this); 0: by the priors",
         fmt::format("{:g}", defaults.rollout_temperature), OptionDef::kOwners, true}},
       [](const StrategyContext& ctx) -> StatusOr<std::unique_ptr<Strategy>> {
         StrategyOptions read(ctx.params, "mcts");
         MctsOptions o;
         o.uct_c = read.real("uct-c", o.uct_c, 0, 1e6);
         o.rave_k = read.real("rave-k", o.rave_k, 0, 1e9);
         o.rollout_temperature = read.real("rollout-temperature", o.rollout_temperature, 0, 1e6);
         Status s = read.check_all_read();
         if (!s.is_ok()) return s;
         SYLVA_ASSIGN(init, parse_init(*ctx.space, ctx.init, ctx.init_source));
         return std::unique_ptr<Strategy>(new Mcts(*ctx.space, ctx.seed, o, std::move(init)));
       }});
}

}  // namespace sylva::search
