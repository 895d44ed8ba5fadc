// SuccessiveHalving: asynchronous successive halving (ASHA, Li et al. 2020)
// over a fidelity such as epochs, usable with any strategy.
//
// Rungs are budgets min * eta^k, the last raised to max. Every new trial runs
// at the first rung. Whenever a worker is free, the highest rung below the top
// that has a result in its top 1/eta not yet promoted gives that trial the
// next budget; otherwise a new trial starts. A trial stops for good when it
// is not among the best of its rung: the experiment loop marks it PRUNED, its
// intermediate values kept. The scheduler holds only what record() and
// promoted() tell it, so the loop rebuilds it from the database on resume.
// Torch-free; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace sylva::experiments {

class SuccessiveHalving {
 public:
  // min_budget >= 1, max_budget >= min_budget, eta >= 2.
  static StatusOr<SuccessiveHalving> make(int64_t min_budget, int64_t max_budget, int64_t eta);

  const std::vector<int64_t>& rungs() const { return rungs_; }
  int top() const { return static_cast<int>(rungs_.size()) - 1; }
  // Index of the rung with this budget, -1 if none.
  int rung_of(int64_t budget) const;
  // The rung a trial with these stored metrics runs at when it is claimed:
  // the one after the rung its "epochs" metric names (a promoted trial, or
  // one taken back while it ran a promotion), else the first.
  int target_rung(const std::map<std::string, double>& metrics) const;

  // Trial `id` (creation `number`) finished rung `rung` with a value, larger
  // is better; nullopt: it failed and is never promoted.
  void record(int64_t id, int64_t number, int rung, std::optional<double> value);
  // Trial `id` left rung `rung` for the next one.
  void promoted(int64_t id, int rung);

  struct Promotion {
    int64_t id;
    int to_rung;
  };
  // The next promotion, if one is due (and marks it promoted).
  std::optional<Promotion> next_promotion();
  // Whether a promotion is due, marking nothing.
  bool due() const { return find_promotion().has_value(); }

 private:
  SuccessiveHalving(std::vector<int64_t> rungs, int64_t eta)
      : rungs_(std::move(rungs)), eta_(eta) {}
  std::optional<Promotion> find_promotion() const;
  struct Result {
    double value;
    int64_t number;
    int64_t id;
  };
  std::vector<int64_t> rungs_;
  int64_t eta_;
  std::vector<std::vector<Result>> results_;  // per rung, values only
  std::vector<std::set<int64_t>> promoted_;   // per rung: ids that left it
};

}  // namespace sylva::experiments
