#include "search/variation.h"

#include <map>

namespace sylva::search {
namespace {

constexpr int kSampleAttempts = 64;
constexpr int kMutationAttempts = 8;
constexpr int kSubtreeAttempts = 16;
constexpr int64_t kSearchNodes = 200000;

size_t uniform_index(Rng& rng, size_t n) { return static_cast<size_t>(uniform01(rng) * n); }

std::optional<Architecture> find_unseen(const Space& space,
                                        const std::unordered_set<uint64_t>& seen,
                                        std::vector<int>& prefix, Rng& rng, int64_t* budget) {
  if (--*budget < 0) return std::nullopt;
  auto ch = space.choices(prefix);
  if (ch.empty()) {
    Architecture arch = space.make(prefix).value();
    if (seen.count(arch.hash)) return std::nullopt;
    return arch;
  }
  std::vector<int> order(ch.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  for (int c : order) {
    if (ch[c].prior <= 0) continue;  // never taken (typed grammars: no completion found)
    prefix.push_back(c);
    auto found = find_unseen(space, seen, prefix, rng, budget);
    prefix.pop_back();
    if (found) return found;
  }
  return std::nullopt;
}

}  // namespace

namespace {

// Chooses by the priors until the cursor's architecture is complete.
void finish_by_priors(SpaceCursor& cursor, Rng& rng) {
  while (cursor.choice_count() > 0) cursor.draw(rng);
}

}  // namespace

Architecture complete_by_priors(const Space& space, std::vector<int> prefix, Rng& rng) {
  if (!prefix.empty()) {
    // Below a choice of a hand-written tree that no search proved, a
    // completion may meet a dead end; the sample then starts afresh.
    try {
      auto cursor = space.cursor();
      for (int d : prefix) cursor->choose(d);
      finish_by_priors(*cursor, rng);
      auto made = space.make(cursor->decisions());
      if (made.is_ok()) return std::move(made).value();
    } catch (const std::invalid_argument&) {
    }
  }
  auto cursor = space.cursor();
  finish_by_priors(*cursor, rng);
  return space.make(cursor->decisions()).value();
}

std::optional<Architecture> sample_unseen(const Space& space,
                                          const std::unordered_set<uint64_t>& seen, Rng& rng,
                                          const std::vector<int>& prefix) {
  for (int attempt = 0; attempt < kSampleAttempts; ++attempt) {
    Architecture arch = complete_by_priors(space, prefix, rng);
    if (!seen.count(arch.hash)) return arch;
  }
  std::vector<int> walk = prefix;
  int64_t budget = kSearchNodes;
  return find_unseen(space, seen, walk, rng, &budget);
}

std::optional<Architecture> first_unseen(const std::vector<Architecture>& init,
                                         const std::unordered_set<uint64_t>& seen) {
  for (const Architecture& a : init) {
    if (!seen.count(a.hash)) return a;
  }
  return std::nullopt;
}

namespace {

// One mutation at a uniformly chosen point. Without `complete`, a child whose
// subtree never suits the kept decisions is given up (nullopt) rather than
// completed afresh after the subtree, which would redraw the rest of the
// network.
std::optional<Architecture> mutate_once(const Space& space, const Architecture& parent, Rng& rng,
                                        bool complete) {
  const std::vector<int>& d = parent.decisions;
  // Decision points that can change: a node chosen uniformly. Priors are
  // computed only at the chosen point (typed grammars search for them).
  std::vector<int> points;
  auto walk = space.cursor();
  for (size_t i = 0; i < d.size(); ++i) {
    if (walk->choice_count() >= 2) points.push_back(static_cast<int>(i));
    walk->choose(d[i]);
  }
  if (points.empty()) return std::nullopt;
  const int i = points[uniform_index(rng, points.size())];
  // Keep the parent's decisions after the subtree (an index names the same
  // alternative in every context).
  const int end = space.slots(d)[i].end;
  const std::vector<int> rest(d.begin() + end, d.end());
  // Cursors at the point that, where the space can, offer only subtrees
  // that the rest follows (typed grammars: by their tensor shape).
  auto at_point = [&] {
    auto c = space.cursor();
    for (int k = 0; k < i; ++k) c->choose(d[k]);
    c->rejoin(rest);
    return c;
  };
  std::unique_ptr<SpaceCursor> first = at_point();
  const std::vector<Choice> ch = first->choices();
  std::vector<double> weights;
  double others = 0;
  for (size_t c = 0; c < ch.size(); ++c) {
    weights.push_back(static_cast<int>(c) == d[i] ? 0.0 : ch[c].prior);
    others += weights.back();
  }
  if (others <= 0) return std::nullopt;  // nothing else can be taken here
  // Where the new subtree's output does not suit the rest (a space that
  // cannot rejoin), the subtree is drawn again.
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<SpaceCursor> child = attempt == 0 ? std::move(first) : at_point();
    child->choose(static_cast<int>(sample_index(rng, weights)));
    // Resample the subtree the new choice opens.
    while (!child->subtree_closed(i)) child->draw(rng);
    std::vector<int> kept = child->decisions();
    kept.insert(kept.end(), rest.begin(), rest.end());
    auto made = space.make(kept);
    if (made.is_ok()) return std::move(made).value();
    if (attempt + 1 < kSubtreeAttempts) continue;
    if (!complete) return std::nullopt;
    finish_by_priors(*child, rng);
    auto finished = space.make(child->decisions());
    if (!finished.is_ok()) return std::nullopt;
    return std::move(finished).value();
  }
}

}  // namespace

std::optional<Architecture> mutate(const Space& space, const Architecture& parent, Rng& rng) {
  // Other points are tried while a mutation cannot keep the rest of the
  // parent (typed grammars: no subtree drawn had a fitting output shape), or
  // meets a dead end below a choice of a hand-written parent that no search
  // proved (std::invalid_argument). The last attempt completes afresh.
  for (int attempt = 0; attempt < kMutationAttempts; ++attempt) {
    try {
      auto child = mutate_once(space, parent, rng, attempt + 1 == kMutationAttempts);
      if (child) return child;
    } catch (const std::invalid_argument&) {
    }
  }
  return std::nullopt;
}

std::optional<Architecture> crossover(const Space& space, const Architecture& a,
                                      const Architecture& b, Rng& rng) {
  if (a.decisions.empty() || b.decisions.empty()) return std::nullopt;
  const auto slots_a = space.slots(a.decisions);
  const auto slots_b = space.slots(b.decisions);
  std::map<std::string, std::vector<int>> by_kind;
  for (size_t j = 0; j < slots_b.size(); ++j)
    by_kind[slots_b[j].kind].push_back(static_cast<int>(j));
  std::vector<int> shared;
  for (size_t i = 0; i < slots_a.size(); ++i) {
    if (by_kind.count(slots_a[i].kind)) shared.push_back(static_cast<int>(i));
  }
  if (shared.empty()) return std::nullopt;
  const int i = shared[uniform_index(rng, shared.size())];
  const auto& candidates = by_kind[slots_a[i].kind];
  const int j = candidates[uniform_index(rng, candidates.size())];
  // Slots of one kind take the same state, so b's subtree fits a's context.
  std::vector<int> child(a.decisions.begin(), a.decisions.begin() + i);
  child.insert(child.end(), b.decisions.begin() + j, b.decisions.begin() + slots_b[j].end);
  child.insert(child.end(), a.decisions.begin() + slots_a[i].end, a.decisions.end());
  auto made = space.make(child);
  if (!made.is_ok()) return std::nullopt;
  return std::move(made).value();
}

}  // namespace sylva::search
