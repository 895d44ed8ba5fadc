// What the train evaluator's tests share: a space with one fixed
// architecture (only its build_spec() matters) and a Reporter that records
// every intermediate value.
#pragma once

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "evaluators/evaluator.h"
#include "spaces/space.h"

namespace sylva::evaluators::testing {

class StubSpace : public Space {
 public:
  explicit StubSpace(BuildSpec spec) : spec_(std::move(spec)) {}
  const std::string& name() const override { return name_; }
  std::vector<Choice> choices(const std::vector<int>&) const override { return {}; }
  StatusOr<Architecture> make(const std::vector<int>&) const override { return Architecture(); }
  StatusOr<Architecture> parse(const std::string&) const override { return Architecture(); }
  const BuildSpec& build_spec() const override { return spec_; }
  const std::string& source() const override { return name_; }

 private:
  BuildSpec spec_;
  std::string name_ = "stub";
};

class RecordingReporter : public Reporter {
 public:
  void intermediate(int step, const std::string& name, double value) override {
    values.emplace_back(step, name, value);
  }
  std::vector<std::tuple<int, std::string, double>> values;
};

}  // namespace sylva::evaluators::testing
