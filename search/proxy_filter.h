// Proxy-filtered search: any strategy, screened by a zero-cost proxy. For
// each trial the wrapped strategy is asked for `pool` proposals (asks
// number * pool + j, j < pool), each is scored by the proxy (a callback, so
// search/ stays torch-free: evaluators/proxy_scorer.h makes it), and the
// best (the first of equal scores; a failed or non-finite score ranks last)
// becomes the trial. The others are told back to the strategy at once as
// failed observations (ok = false, the score in their metrics under the
// proxy's name): the strategy marks them seen, releases what it holds for
// them (an MCTS virtual loss) and, like MCTS, may count them against their
// subtree; they are never evaluated. The trial's result is told to the
// strategy under the ask number of the chosen proposal.
//
// Resume replays exactly: finished trials are told, and unfinished ones
// announced, in number order (experiments/run_support.h). For a trial this
// instance did not screen, the screening is redone without the proxy: the
// strategy is asked the same `pool` numbers, the proposal equal to the
// trial's architecture is the chosen one and the rest are told back as
// before, so a single-worker run's strategy ends in the state it had.
// Should no proposal match (a strategy whose asks depended on results that
// were still running), every proposal is told back as failed and the trial
// is told (or announced) as it is. Deterministic for a seed. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/option_def.h"
#include "base/status.h"
#include "search/strategy.h"

namespace sylva::search {

// The proxy score of a proposal (larger is better), its network drawn with
// `seed`.
using ProxyScore = std::function<StatusOr<double>(const Architecture& arch, uint64_t seed)>;

struct ProxyFilterOptions {
  std::string proxy;  // its name, for the metrics of the proposals told back
  int pool = 8;       // proposals per trial, >= 1
  // Trials screened (a warm-up), 0: every trial. Trial n >= trials is the
  // strategy's own proposal (ask number n * pool), unscored.
  int64_t trials = 0;
};

// Its options (--proxy-filter, --proxy-pool, --proxy-trials), stored with
// the experiment.
const std::vector<OptionDef>& proxy_filter_options();

// `seed`: the experiment's; the proposals of trial n are scored with
// mix_seed(seed, n) (one network seed and one batch for all of them).
StatusOr<std::unique_ptr<Strategy>> make_proxy_filter(std::unique_ptr<Strategy> inner,
                                                      ProxyFilterOptions options, ProxyScore score,
                                                      uint64_t seed);

}  // namespace sylva::search
