#include "experiments/rung_book.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace sylva::experiments::internal {

void RungBook::finish_rung(Store& store, int64_t trial_id, int rung, const std::string& holder,
                           evaluators::EvalResult& r) const {
  auto objective = r.metrics.find(objective_);
  const bool has_value = r.state != TrialState::kFail && objective != r.metrics.end();
  const int64_t budget = halving_.rungs()[rung];
  store.add_intermediate(trial_id, static_cast<int>(budget), kRungValue,
                         has_value ? objective->second : std::nan(""), holder);
  if (r.state != TrialState::kFail) r.metrics["epochs"] = static_cast<double>(budget);
  if (r.state == TrialState::kComplete && rung < halving_.top()) {
    r.state = TrialState::kPruned;
    r.message = fmt::format("stopped at {} epochs by successive halving (rung {} of {})", budget,
                            rung + 1, halving_.top() + 1);
  }
}

std::vector<TrialRow> RungBook::rebuild(const std::vector<TrialRow>& rows,
                                        const std::vector<IntermediateRow>& values) {
  halving_ = empty_;
  recorded_.clear();
  number_of_.clear();
  awaited_.clear();
  std::map<int64_t, std::map<int, double>> rung_values;  // number -> rung -> raw value
  for (const IntermediateRow& v : values) {
    const int rung = halving_.rung_of(v.step);
    if (v.name == kRungValue && rung >= 0) rung_values[v.trial_number][rung] = v.value;
  }
  std::vector<TrialRow> told;
  told.reserve(rows.size());
  for (const TrialRow& row : rows) {
    const bool finished = evaluators::is_finished(row.state);
    // An unfinished trial runs its target rung: the rungs below it are done
    // (a value of that rung already written belongs to a run not finished).
    const int target = finished ? halving_.top() + 1 : target_rung(row);
    if (!finished && target > 0) awaited_[row.number] = row.id;
    const auto& mine = rung_values[row.number];
    for (const auto& [rung, value] : mine) {
      if (rung < target) record(row, rung, value);
    }
    if (!finished) {
      for (int k = 0; k < target; ++k) halving_.promoted(row.id, k);
    }
    TrialRow view = row;
    auto first = mine.find(0);
    if (first != mine.end() && target > 0) {
      if (std::isfinite(first->second)) {
        view.metrics[objective_] = first->second;
        if (!finished) view.state = TrialState::kPruned;
      } else {
        view.state = TrialState::kFail;
      }
    }
    told.push_back(std::move(view));
  }
  return told;
}

void RungBook::saw(const TrialRow& row) {
  if (!evaluators::is_finished(row.state)) return;
  auto waited = awaited_.find(row.number);
  if (row.state == TrialState::kFail) {
    if (waited != awaited_.end()) awaited_.erase(waited);
    return;
  }
  auto epochs = row.metrics.find("epochs");
  if (epochs == row.metrics.end()) return;
  const int rung = halving_.rung_of(static_cast<int64_t>(epochs->second));
  if (rung < 0) return;
  auto seen = recorded_.find(row.id);
  if (seen != recorded_.end() && seen->second >= rung) return;
  auto value = row.metrics.find(objective_);
  record(row, rung, value == row.metrics.end() ? std::nan("") : value->second);
  if (waited != awaited_.end()) awaited_.erase(waited);
}

void RungBook::record(const TrialRow& row, int rung, double raw) {
  halving_.record(row.id, row.number, rung,
                  std::isfinite(raw) ? std::optional<double>(signed_value(raw)) : std::nullopt);
  for (int k = 0; k < rung; ++k) halving_.promoted(row.id, k);
  int& highest = recorded_.emplace(row.id, rung).first->second;
  highest = std::max(highest, rung);
  number_of_[row.id] = row.number;
}

bool RungBook::promote(Store& store) {
  while (auto p = halving_.next_promotion()) {
    const int64_t from = halving_.rungs()[p->to_rung - 1];
    const int64_t to = halving_.rungs()[p->to_rung];
    if (store.promote_trial(p->id, from, fmt::format("to {} epochs", to))) {
      awaited_[number_of_.at(p->id)] = p->id;
      return true;
    }
  }
  return false;
}

}  // namespace sylva::experiments::internal
