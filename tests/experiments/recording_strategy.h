// A strategy that records what the experiment loop tells it and passes
// everything on, for the loop's tests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "search/strategy.h"

namespace sylva::experiments {

// What the strategies of one loop heard, in order (the loop thread alone
// drives them).
struct StrategyLog {
  int made = 0;                      // strategies made (one per coordinator term)
  std::vector<int64_t> told;         // trial numbers, as told
  std::map<int64_t, double> values;  // trial number -> told value
  std::vector<std::string> pending;  // canonical forms announced pending
};

class RecordingStrategy : public search::Strategy {
 public:
  RecordingStrategy(std::unique_ptr<search::Strategy> inner, StrategyLog& log)
      : inner_(std::move(inner)), log_(log) {}
  std::optional<Architecture> ask(int64_t number) override { return inner_->ask(number); }
  void tell(const search::Observation& obs) override {
    log_.told.push_back(obs.number);
    if (obs.value) log_.values[obs.number] = *obs.value;
    inner_->tell(obs);
  }
  void pending(const Architecture& arch) override {
    log_.pending.push_back(arch.canonical);
    inner_->pending(arch);
  }

 private:
  std::unique_ptr<search::Strategy> inner_;
  StrategyLog& log_;
};

}  // namespace sylva::experiments
