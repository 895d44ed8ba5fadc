#include "evaluators/stub_evaluator.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "base/random.h"
#include "base/strings.h"
#include "evaluators/registry.h"

namespace sylva::evaluators {
namespace {

class StubEvaluator : public Evaluator {
 public:
  explicit StubEvaluator(StubOptions options) : options_(options) {}
  bool instant() const override { return options_.delay_ms == 0; }

  EvalResult evaluate(const Job& job, Reporter& reporter) override {
    if (options_.delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.delay_ms));
    // Accuracy in [50, 100) from the searched architecture alone, its
    // hyperparameters included (the hash of its canonical form); seed-free so
    // that the same architecture always scores the same.
    const uint64_t hash = job.canonical.empty() ? job.arch.hash : fnv1a64(job.canonical);
    double acc = 50.0 + 50.0 * static_cast<double>(mix_seed(hash, 1) >> 11) * 0x1.0p-53;
    // A training budget (successive halving) scales it like a learning curve
    // that keeps the architectures' order: acc * (1 - 0.5 / epochs).
    if (job.epochs > 0) {
      for (int64_t e = 1; e <= job.epochs; ++e) {
        reporter.intermediate(static_cast<int>(e), "val_acc",
                              acc * (1 - 0.5 / static_cast<double>(e)));
      }
      acc *= 1 - 0.5 / static_cast<double>(job.epochs);
    } else {
      reporter.intermediate(1, "val_acc", acc);
    }
    EvalResult r;
    r.metrics["val_acc"] = acc;
    r.metrics["depth"] = static_cast<double>(job.arch.primitives.size());
    return r;
  }
  std::vector<std::string> metrics() const override { return {"val_acc", "depth"}; }

 private:
  StubOptions options_;
};

}  // namespace

StatusOr<std::unique_ptr<Evaluator>> make_stub_evaluator(const StubOptions& options) {
  if (options.delay_ms < 0) {
    return Status::invalid_argument(
        fmt::format("--stub-delay-ms must be >= 0, got {}", options.delay_ms));
  }
  return std::unique_ptr<Evaluator>(new StubEvaluator(options));
}

void register_stub_evaluator() {
  register_evaluator(
      {"stub",
       "a pseudo-accuracy from the architecture's hash, for trying the search machinery",
       /*trains=*/true,
       nullptr,
       [](const OptionReader& o) -> StatusOr<std::unique_ptr<Evaluator>> {
         StubOptions s;
         SYLVA_ASSIGN(delay, o.integer("stub-delay-ms", 0));
         s.delay_ms = static_cast<int>(delay);
         return make_stub_evaluator(s);
       },
       {{"stub-delay-ms",
         "milliseconds each stub or table evaluation takes (stands in for training)",
         std::to_string(StubOptions().delay_ms), OptionDef::kFilled, true}},
       {},
       {}});
}

}  // namespace sylva::evaluators
