#include "evaluators/train/train_hparams.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <optional>

#include "base/strings.h"

namespace sylva::evaluators {
namespace {

std::optional<double> real(const std::string& text) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<int64_t> integer(const std::string& text) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty()) {
    // "64.0" or "1e2" from a generator: an integer written as a real.
    auto r = real(text);
    if (!r || *r != std::floor(*r) || std::fabs(*r) > 1e15) return std::nullopt;
    return static_cast<int64_t>(*r);
  }
  return v;
}

// Applies `value` of hyperparameter `name` to `s`; an error says what it must be.
Status apply(const std::string& name, const std::string& value, TrainSettings* s) {
  auto bad = [&](const std::string& what) {
    return Status::invalid_argument(
        fmt::format("hyperparameter '{}': '{}' is not {}", name, value, what));
  };
  if (name == "lr") {
    auto v = real(value);
    if (!v || !(*v > 0)) return bad("a positive number");
    if (*v > kMaxLr) return bad(fmt::format("<= {:g}", kMaxLr));
    s->lr = *v;
  } else if (name == "weight_decay") {
    auto v = real(value);
    if (!v || *v < 0) return bad("a number >= 0");
    if (*v > kMaxWeightDecay) return bad(fmt::format("<= {:g}", kMaxWeightDecay));
    s->weight_decay = *v;
  } else if (name == "optimizer") {
    if (value != "sgd" && value != "adamw") return bad("sgd or adamw");
    s->optimizer = value;
  } else if (name == "batch_size") {
    auto v = integer(value);
    if (!v || *v < 1) return bad("an integer >= 1");
    s->batch_size = *v;
  } else if (name == "epochs") {
    auto v = integer(value);
    if (!v || *v < 1) return bad("an integer >= 1");
    s->epochs = *v;
  } else if (name == "momentum") {
    auto v = real(value);
    if (!v || *v < 0 || *v >= 1) return bad("a number in [0, 1)");
    s->momentum = *v;
  } else if (name == "label_smoothing") {
    auto v = real(value);
    if (!v || *v < 0 || *v >= 1) return bad("a number in [0, 1)");
    s->label_smoothing = *v;
  } else {
    return Status::invalid_argument(
        fmt::format("--evaluator train has no hyperparameter '{}' (it knows {})", name,
                    join(train_hparam_names(), ", ")));
  }
  return Status::ok();
}

}  // namespace

const std::vector<std::string>& train_hparam_names() {
  static const std::vector<std::string> kNames = {
      "batch_size", "epochs", "label_smoothing", "lr", "momentum", "optimizer", "weight_decay"};
  return kNames;
}

StatusOr<TrainSettings> train_settings(const TrainOptions& options,
                                       const std::vector<HparamValue>& hparams) {
  TrainSettings s;
  s.lr = options.lr;
  s.weight_decay = options.weight_decay;
  s.optimizer = options.optimizer;
  s.batch_size = options.batch_size;
  s.epochs = options.epochs;
  for (const HparamValue& h : hparams) {
    Status applied = apply(h.name, h.value, &s);
    if (!applied.is_ok()) return applied;
  }
  return s;
}

Status check_train_hparams(const std::vector<HparamDecl>& hparams) {
  TrainSettings scratch;
  for (const HparamDecl& h : hparams) {
    for (const std::string& value : h.values) {
      Status applied = apply(h.name, value, &scratch);
      if (!applied.is_ok()) return applied;
    }
  }
  return Status::ok();
}

}  // namespace sylva::evaluators
