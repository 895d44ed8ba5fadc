#include "search/proxy_filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

#include "base/random.h"

namespace sylva::search {
namespace {

// Keeps the filter's screening seeds apart from the trials' own.
constexpr uint64_t kScreenSalt = 0x9f0c5e5ab1e5ULL;

class ProxyFilter : public Strategy {
 public:
  ProxyFilter(std::unique_ptr<Strategy> inner, ProxyFilterOptions options, ProxyScore score,
              uint64_t seed)
      : inner_(std::move(inner)),
        options_(std::move(options)),
        score_(std::move(score)),
        seed_(seed) {}

  std::optional<Architecture> ask(int64_t number) override {
    std::vector<Architecture> proposals = propose(number);
    if (proposals.empty()) return std::nullopt;
    const uint64_t seed = mix_seed(seed_ ^ kScreenSalt, static_cast<uint64_t>(number));
    std::vector<double> scores;
    size_t best = 0;
    for (size_t j = 0; j < proposals.size() && proposals.size() > 1; ++j) {
      StatusOr<double> s = score_(proposals[j], seed);
      const double v = s.is_ok() && !std::isnan(s.value())
                           ? s.value()
                           : -std::numeric_limits<double>::infinity();
      scores.push_back(v);
      if (v > scores[best]) best = j;
    }
    settle(number, proposals, static_cast<int>(best), scores);
    last_ = std::max(last_, number);
    return proposals[best];
  }

  void tell(const Observation& obs) override {
    if (!screened_.count(obs.number)) replay(obs.number, obs.arch);
    last_ = std::max(last_, obs.number);
    Observation o = obs;
    auto it = chosen_.find(obs.number);
    if (it != chosen_.end()) o.number = it->second;
    inner_->tell(o);
  }

  void pending(const Architecture& arch) override {
    // Replayed rows come in number order: this one follows the last.
    const int64_t number = last_ + 1;
    last_ = number;
    if (screened_.count(number) || !replay(number, arch)) inner_->pending(arch);
  }

 private:
  int64_t inner_number(int64_t number, int j) const { return number * options_.pool + j; }

  // The proposals of trial `number`: the pool while screening, else one.
  std::vector<Architecture> propose(int64_t number) {
    std::vector<Architecture> out;
    const bool screening = options_.trials <= 0 || number < options_.trials;
    for (int j = 0; j < (screening ? options_.pool : 1); ++j) {
      auto a = inner_->ask(inner_number(number, j));
      if (!a) break;
      out.push_back(std::move(*a));
    }
    screened_.insert(number);
    return out;
  }

  // Tells every proposal but `chosen` (-1: none) back as failed.
  void settle(int64_t number, const std::vector<Architecture>& proposals, int chosen,
              const std::vector<double>& scores) {
    for (size_t j = 0; j < proposals.size(); ++j) {
      if (static_cast<int>(j) == chosen) continue;
      Observation rejected;
      rejected.number = inner_number(number, static_cast<int>(j));
      rejected.arch = proposals[j];
      rejected.ok = false;
      rejected.withdrawn = true;
      if (j < scores.size() && std::isfinite(scores[j]))
        rejected.metrics[options_.proxy] = scores[j];
      inner_->tell(rejected);
    }
    if (chosen >= 0) chosen_[number] = inner_number(number, chosen);
  }

  // Redoes trial `number`'s screening for its known architecture; whether
  // one proposal was it (the strategy then holds it as asked).
  bool replay(int64_t number, const Architecture& arch) {
    std::vector<Architecture> proposals = propose(number);
    int chosen = -1;
    for (size_t j = 0; j < proposals.size() && chosen < 0; ++j) {
      if (proposals[j].canonical == arch.canonical) chosen = static_cast<int>(j);
    }
    settle(number, proposals, chosen, {});
    return chosen >= 0;
  }

  std::unique_ptr<Strategy> inner_;
  const ProxyFilterOptions options_;
  const ProxyScore score_;
  const uint64_t seed_;
  std::set<int64_t> screened_;         // trial numbers whose proposals were asked
  std::map<int64_t, int64_t> chosen_;  // trial number -> ask number of its proposal
  int64_t last_ = -1;                  // the highest trial number seen
};

}  // namespace

StatusOr<std::unique_ptr<Strategy>> make_proxy_filter(std::unique_ptr<Strategy> inner,
                                                      ProxyFilterOptions options, ProxyScore score,
                                                      uint64_t seed) {
  if (options.pool < 1) {
    return Status::invalid_argument(fmt::format("--proxy-pool must be >= 1, got {}", options.pool));
  }
  if (options.trials < 0) {
    return Status::invalid_argument(
        fmt::format("--proxy-trials must be >= 0, got {}", options.trials));
  }
  if (!inner || !score) throw std::invalid_argument("make_proxy_filter: no strategy or no score");
  return std::unique_ptr<Strategy>(
      std::make_unique<ProxyFilter>(std::move(inner), std::move(options), std::move(score), seed));
}

const std::vector<OptionDef>& proxy_filter_options() {
  static const ProxyFilterOptions d;
  static const std::vector<OptionDef> kOptions = {
      {"proxy-filter",
       "screen proposals by a zero-cost proxy (synflow, naswot, snip, grad_norm, jacob_cov, "
       "fisher, params, flops): the strategy proposes --proxy-pool, the best is evaluated "
       "(evaluators train, command; table: params, flops)",
       "", OptionDef::kFilled, true},
      {"proxy-pool", "proxy filter: proposals per evaluated trial", std::to_string(d.pool),
       OptionDef::kFilled, true},
      {"proxy-trials",
       "proxy filter: screen only the first N trials (a warm-up), then evaluate the strategy's "
       "own proposals; 0: every trial",
       std::to_string(d.trials), OptionDef::kFilled, true},
  };
  return kOptions;
}

}  // namespace sylva::search
