#include "search/decision_context.h"

#include "base/random.h"

namespace sylva::search {
namespace {

uint64_t label_set_hash(const std::vector<Choice>& choices) {
  uint64_t h = 0xcbf29ce484222325ULL ^ choices.size();
  for (const Choice& c : choices) {
    for (unsigned char ch : c.label) h = (h ^ ch) * 0x100000001b3ULL;
    h = mix_seed(h, 0x2f);  // separates "ab","c" from "a","bc"
  }
  return h;
}

}  // namespace

DecisionContexts::Key DecisionContexts::Walk::next(const std::vector<Choice>& choices, bool learn) {
  const uint64_t kind_hash = label_set_hash(choices);
  const int occurrence = seen_of_kind_[kind_hash]++;
  const uint64_t context_hash = mix_seed(kind_hash, static_cast<uint64_t>(occurrence));
  Key key;
  auto k = contexts_.kinds_.find(kind_hash);
  if (k != contexts_.kinds_.end()) {
    key.kind = k->second;
  } else if (learn) {
    key.kind = static_cast<int>(contexts_.kind_sizes_.size());
    contexts_.kinds_.emplace(kind_hash, key.kind);
    contexts_.kind_sizes_.push_back(static_cast<int>(choices.size()));
  }
  auto c = contexts_.contexts_.find(context_hash);
  if (c != contexts_.contexts_.end()) {
    key.context = c->second;
  } else if (learn) {
    key.context = static_cast<int>(contexts_.context_kind_.size());
    contexts_.contexts_.emplace(context_hash, key.context);
    contexts_.context_kind_.push_back(key.kind);
  }
  return key;
}

std::vector<DecisionContexts::Key> DecisionContexts::learn(const Space& space,
                                                           const std::vector<int>& decisions) {
  std::vector<Key> keys;
  keys.reserve(decisions.size());
  Walk walk(*this);
  auto cursor = space.cursor();
  for (int d : decisions) {
    keys.push_back(walk.next(cursor->choices(), true));
    cursor->choose(d);
  }
  return keys;
}

void ChoiceCounts::grow() {
  const DecisionContexts& c = *contexts_;
  for (int k = static_cast<int>(by_kind_.size()); k < c.kind_count(); ++k) {
    by_kind_.emplace_back(c.kind_size(k), 0.0);
    kind_total_.push_back(0.0);
  }
  for (int x = static_cast<int>(by_context_.size()); x < c.context_count(); ++x) {
    by_context_.emplace_back(c.kind_size(c.kind_of(x)), 0.0);
    context_total_.push_back(0.0);
  }
}

void ChoiceCounts::add(const std::vector<DecisionContexts::Key>& keys,
                       const std::vector<int>& decisions, double weight) {
  grow();
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto [kind, context] = keys[i];
    const int c = decisions[i];
    by_kind_[kind][c] += weight;
    kind_total_[kind] += weight;
    by_context_[context][c] += weight;
    context_total_[context] += weight;
  }
}

void ChoiceCounts::density(DecisionContexts::Key key, const std::vector<Choice>& choices,
                           double weight, std::vector<double>* out) const {
  const size_t n = choices.size();
  out->assign(n, 0.0);
  const bool kind_known = key.kind >= 0 && key.kind < static_cast<int>(by_kind_.size()) &&
                          by_kind_[key.kind].size() == n;
  const bool context_known =
      kind_known && key.context >= 0 && key.context < static_cast<int>(by_context_.size());
  double total = 0;
  for (size_t c = 0; c < n; ++c) {
    if (choices[c].prior <= 0) continue;
    double p = choices[c].prior;
    if (kind_known) p = (by_kind_[key.kind][c] + weight * p) / (kind_total_[key.kind] + weight);
    if (context_known)
      p = (by_context_[key.context][c] + weight * p) / (context_total_[key.context] + weight);
    (*out)[c] = p;
    total += p;
  }
  if (total > 0)
    for (double& p : *out) p /= total;
}

}  // namespace sylva::search
