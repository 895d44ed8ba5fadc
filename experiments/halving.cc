#include "experiments/halving.h"

#include <fmt/format.h>

#include <algorithm>

namespace sylva::experiments {

StatusOr<SuccessiveHalving> SuccessiveHalving::make(int64_t min_budget, int64_t max_budget,
                                                    int64_t eta) {
  if (min_budget < 1)
    return Status::invalid_argument(fmt::format("--min-epochs must be >= 1, got {}", min_budget));
  if (max_budget < min_budget) {
    return Status::invalid_argument(
        fmt::format("--max-epochs ({}) must be >= --min-epochs ({})", max_budget, min_budget));
  }
  if (eta < 2) return Status::invalid_argument(fmt::format("--eta must be >= 2, got {}", eta));
  std::vector<int64_t> rungs = {min_budget};
  while (rungs.back() * eta <= max_budget) rungs.push_back(rungs.back() * eta);
  if (rungs.back() < max_budget) {
    if (rungs.size() > 1) {
      rungs.back() = max_budget;
    } else {
      rungs.push_back(max_budget);
    }
  }
  SuccessiveHalving sh(std::move(rungs), eta);
  sh.results_.resize(sh.rungs_.size());
  sh.promoted_.resize(sh.rungs_.size());
  return sh;
}

int SuccessiveHalving::rung_of(int64_t budget) const {
  auto it = std::find(rungs_.begin(), rungs_.end(), budget);
  return it == rungs_.end() ? -1 : static_cast<int>(it - rungs_.begin());
}

int SuccessiveHalving::target_rung(const std::map<std::string, double>& metrics) const {
  auto it = metrics.find("epochs");
  if (it == metrics.end()) return 0;
  const int from = rung_of(static_cast<int64_t>(it->second));
  return from < 0 ? 0 : std::min(top(), from + 1);
}

void SuccessiveHalving::record(int64_t id, int64_t number, int rung, std::optional<double> value) {
  if (value) results_.at(rung).push_back(Result{*value, number, id});
}

void SuccessiveHalving::promoted(int64_t id, int rung) { promoted_.at(rung).insert(id); }

std::optional<SuccessiveHalving::Promotion> SuccessiveHalving::next_promotion() {
  auto p = find_promotion();
  if (p) promoted_[p->to_rung - 1].insert(p->id);
  return p;
}

std::optional<SuccessiveHalving::Promotion> SuccessiveHalving::find_promotion() const {
  for (int k = top() - 1; k >= 0; --k) {
    std::vector<Result> r = results_[k];
    const size_t quota = r.size() / static_cast<size_t>(eta_);
    if (quota == 0) continue;
    std::stable_sort(r.begin(), r.end(), [](const Result& a, const Result& b) {
      return a.value != b.value ? a.value > b.value : a.number < b.number;
    });
    for (size_t i = 0; i < quota; ++i) {
      if (!promoted_[k].count(r[i].id)) return Promotion{r[i].id, k + 1};
    }
  }
  return std::nullopt;
}

}  // namespace sylva::experiments
