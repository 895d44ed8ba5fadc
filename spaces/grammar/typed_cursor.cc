// The cursor of a typed grammar (typed_cursor.h): choosing an alternative,
// stepping to the next decision, and offering the alternatives that a
// bounded witness search proves can be completed.
#include "spaces/grammar/typed_cursor.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace sylva {

using typed_grammar::Frame;
using typed_grammar::shape_text;

namespace {

// Steps one witness search may take before the choice it tests is dropped,
// and the steps all the searches of one derivation may take; past that, each
// search gets only kSpentSteps, so that no derivation runs long. (Measured on
// einspace: half of the completions are found in 8 steps, 90% in 120.)
constexpr int kWitnessSteps = 256;
constexpr int64_t kDerivationSteps = 200000;
constexpr int kSpentSteps = 16;
// Each alternative's search where none was found (only after a choice of a
// hand-written tree that no search had proved).
constexpr int kRescueSteps = 20000;

}  // namespace

TypedGrammarSpace::Cursor::Cursor(const TypedGrammarSpace& space) : s_(space), m_(space, true) {
  advance();
}

const std::vector<Choice>& TypedGrammarSpace::Cursor::choices() const {
  if (!offered_) const_cast<Cursor*>(this)->offer();
  return open_;
}

void TypedGrammarSpace::Cursor::choose(int index) {
  apply_checked(index);
  // The witness of an offered choice is the promise of the decisions after.
  const bool offered = offered_ && open_[index].prior > 0;
  take_applied(index, offered ? std::move(witnesses_[index]) : std::vector<int>());
}

void TypedGrammarSpace::Cursor::apply_checked(int index) {
  if (m_.done()) {
    throw std::invalid_argument(fmt::format(
        "the architecture is complete after {} decisions; no decision is open", decisions_.size()));
  }
  const GrammarRule& rule = s_.grammar_.rules[m_.top().rule];
  const int n = static_cast<int>(rule.alternatives.size());
  if (index < 0 || index >= n) {
    throw std::invalid_argument(fmt::format("decision {} of rule '{}' is {}, but it has {} choices",
                                            decisions_.size(), rule.name, index, n));
  }
  Machine::Undo u;
  if (!m_.apply(index, &u)) {
    m_.undo(u);
    const std::string why = why_not(index);
    throw std::invalid_argument(fmt::format("decision {}: '{}' of rule '{}' on a {} tensor: {}",
                                            decisions_.size(), rule.alternatives[index].label,
                                            rule.name, shape_text(m_.cur()), why));
  }
}

void TypedGrammarSpace::Cursor::take_applied(int index, std::vector<int> witness) {
  m_.tree_at(m_.last_node()).decision = static_cast<int>(decisions_.size());
  decision_nodes_.push_back(m_.last_node());
  decisions_.push_back(index);
  promise_ = std::move(witness);
  advance();
  if (rejoin_point_ >= 0 && subtree_closed(rejoin_point_)) {
    // Past the redrawn subtree: completions need not follow the rest now.
    m_.clear_rejoin();
    rejoin_point_ = -1;
    proved_.clear();
  }
}

int TypedGrammarSpace::Cursor::draw(Rng& rng) {
  if (offered_ || m_.done()) return SpaceCursor::draw(rng);
  const auto& alts = s_.grammar_.rules[m_.top().rule].alternatives;
  std::vector<double> weights;
  int left = 0;
  for (const auto& a : alts) {
    weights.push_back(a.prior);
    left += a.prior > 0;
  }
  const size_t here = m_.alts().size();
  for (; left > 0; --left) {
    const int a = static_cast<int>(sample_index(rng, weights));
    std::vector<int> witness;
    m_.set_record(false);
    const bool good = witnessed(a, here, 0, &witness);
    m_.set_record(true);
    if (good) {
      apply_checked(a);
      take_applied(a, std::move(witness));
      return a;
    }
    weights[a] = 0;
  }
  // Nothing proved with the usual budgets (only below a choice of a
  // hand-written tree): offer() searches longer.
  return SpaceCursor::draw(rng);
}

bool TypedGrammarSpace::Cursor::rejoin(const std::vector<int>& rest) {
  if (m_.done()) return false;
  m_.set_rejoin(rest);
  rejoin_point_ = static_cast<int>(decisions_.size());
  // What was proved without the rest in view no longer holds.
  proved_.clear();
  promise_.clear();
  offered_ = false;
  open_.clear();
  return true;
}

bool TypedGrammarSpace::Cursor::proven() const {
  choices();
  return proven_;
}

size_t TypedGrammarSpace::Cursor::choice_count() const {
  return m_.done() ? 0 : s_.grammar_.rules[m_.top().rule].alternatives.size();
}

bool TypedGrammarSpace::Cursor::subtree_closed(int index) const {
  if (m_.done()) return true;
  const int x = decision_nodes_.at(index);
  for (int n = m_.top().parent; n >= 0; n = m_.tree()[n].parent) {
    if (n == x) return false;
  }
  return true;
}

std::string TypedGrammarSpace::Cursor::why_not(int alt) {
  m_.explain(true);
  m_.set_record(false);
  Machine::Undo u;
  std::string why;
  if (!m_.apply(alt, &u)) {
    why = m_.failure();
  } else {
    why =
        "no valid network can be completed from there (for example the two branches "
        "could not be aggregated)";
  }
  m_.undo(u);
  m_.set_record(true);
  m_.explain(false);
  return why;
}

void TypedGrammarSpace::Cursor::advance() {
  open_.clear();
  offered_ = false;
  while (!m_.done()) {
    Machine::Undo u;
    if (m_.top().kind == Frame::kBranchEnd) {
      m_.branch_end(&u);
      continue;
    }
    const int rule = m_.top().rule;
    if (!m_.is_decision(rule)) {
      if (!m_.apply(0, &u)) {
        // Only after a choice no witness was found for.
        m_.undo(u);
        const auto& alt = s_.grammar_.rules[rule].alternatives[0];
        throw std::invalid_argument(fmt::format("'{}' of rule '{}' on a {} tensor: {}", alt.label,
                                                s_.grammar_.rules[rule].name, shape_text(m_.cur()),
                                                why_not(0)));
      }
      continue;
    }
    return;
  }
  offered_ = true;  // complete: no choices
}

void TypedGrammarSpace::Cursor::offer() {
  const int rule = m_.top().rule;
  const auto& alts = s_.grammar_.rules[rule].alternatives;
  const int n = static_cast<int>(alts.size());
  witnesses_.assign(n, {});
  std::vector<char> ok(n, 0);
  m_.set_record(false);
  int found = offer_proven(rule, 0, &ok);
  // Only after a choice no witness was found for (a hand-written tree):
  // search much longer, then offer what applies here; make() checks the
  // network as a whole.
  if (!found) found = offer_proven(rule, kRescueSteps, &ok);
  proven_ = found > 0;
  if (!found) {
    for (int a = 0; a < n; ++a) {
      Machine::Undo u;
      ok[a] = m_.apply(a, &u);
      found += ok[a];
      m_.undo(u);
    }
  }
  m_.set_record(true);
  if (!found) {
    throw std::invalid_argument(fmt::format(
        "no alternative of rule '{}' applies to a {} tensor after a choice no completion was "
        "found for",
        s_.grammar_.rules[rule].name, shape_text(m_.cur())));
  }
  double total = 0;
  for (int a = 0; a < n; ++a) total += ok[a] ? alts[a].prior : 0;
  for (int a = 0; a < n; ++a) open_.push_back({alts[a].label, ok[a] ? alts[a].prior / total : 0});
  offered_ = true;
}

int TypedGrammarSpace::Cursor::offer_proven(int rule, int rescue, std::vector<char>* ok) {
  const auto& alts = s_.grammar_.rules[rule].alternatives;
  const size_t here = m_.alts().size();
  int found = 0;
  for (int a = 0; a < static_cast<int>(alts.size()); ++a) {
    (*ok)[a] = witnessed(a, here, rescue, &witnesses_[a]);
    found += (*ok)[a];
  }
  return found;
}

bool TypedGrammarSpace::Cursor::witnessed(int a, size_t here, int rescue,
                                          std::vector<int>* witness) {
  if (!promise_.empty() && promise_[0] == a) {
    witness->assign(promise_.begin() + 1, promise_.end());
    return true;
  }
  Machine::Undo u;
  bool good = m_.apply(a, &u);
  if (!good && m_.failure_kind() == Machine::kBudget && !rescue) ++s_.stats_->budget_bound;
  if (good) good = prove(here, rescue, witness);
  m_.undo(u);
  return good;
}

bool TypedGrammarSpace::Cursor::prove(size_t here, int rescue, std::vector<int>* witness) {
  typed_grammar::StateKey key = m_.state_hash();
  // Spent budgets decide a completion too.
  typed_grammar::KeyMixer spent;
  spent.mix(key.a);
  spent.mix(key.b);
  spent.mix(static_cast<uint64_t>(m_.nodes()));
  spent.mix(static_cast<uint64_t>(m_.params()));
  spent.mix(static_cast<uint64_t>(m_.activations()));
  key = spent.key();
  auto known = proved_.find(key);
  if (known != proved_.end() && (known->second || !rescue)) {
    if (!known->second) return false;
    *witness = *known->second;
    return true;
  }
  const int budget = rescue ? rescue : spent_ < kDerivationSteps ? kWitnessSteps : kSpentSteps;
  int steps = budget;
  const bool ok = m_.prove(&steps);
  const int used = budget - std::max(steps, 0);
  spent_ += used;
  ++s_.stats_->witness_searches;
  s_.stats_->witness_steps += used;
  if (!ok && steps < 0) ++s_.stats_->exhausted;
  if (ok) {
    witness->assign(m_.found().begin() + static_cast<long>(here) + 1, m_.found().end());
    proved_[key] = *witness;
  } else {
    proved_.emplace(key, std::nullopt);
  }
  return ok;
}

}  // namespace sylva
