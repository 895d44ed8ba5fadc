// Zero-cost proxies as a torch-free interface: their names, and the
// scorers that `--proxy-filter NAME` (search/proxy_filter.h) screens
// proposals with, registered per evaluator. The LibTorch side
// (evaluators/proxy/proxy_evaluator.h) registers the network proxies for
// `--evaluator train` and `--evaluator command`; the table evaluator
// registers its own cost columns (params, flops) here, which need no
// network. A score is larger-is-better; a non-finite one ranks last.
// Registration happens at start-up, before any look-up.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/options.h"
#include "base/status.h"
#include "spaces/architecture.h"
#include "spaces/space.h"

namespace sylva::evaluators {

struct ProxyInfo {
  const char* name;
  const char* help;  // one line
  bool needs_data;   // runs the network on a batch of the data
};

// Every proxy, in the order the help lists them: synflow, naswot, snip,
// grad_norm, jacob_cov, fisher, params, flops.
const std::vector<ProxyInfo>& proxy_infos();
std::vector<std::string> proxy_names();
// The proxy named `name`, or nullptr.
const ProxyInfo* find_proxy(const std::string& name);
// "--OPTION 'X' is unknown (proxies: synflow, ...)".
Status check_proxy_name(const std::string& option, const std::string& name);

// The score of `arch`, an architecture of `space` (hyperparameters
// included, as the search proposes it), drawn with `seed` (the network's
// initialisation and the batch). Called from one thread at a time.
using ProxyScorer =
    std::function<StatusOr<double>(const Space& space, const Architecture& arch, uint64_t seed)>;
// Makes the scorer of proxy `proxy` (a known name) from the experiment's
// options; an error names the option.
using ProxyScorerFactory =
    std::function<StatusOr<ProxyScorer>(const std::string& proxy, const OptionReader& options)>;

void register_proxy_scorer(const std::string& evaluator, ProxyScorerFactory factory);
// The scorer of `--proxy-filter proxy` under `--evaluator evaluator`; an
// unknown proxy or an evaluator without scorers is an error naming the
// option ("--proxy-filter applies to --evaluator command, --evaluator table
// and --evaluator train, got --evaluator stub").
StatusOr<ProxyScorer> make_proxy_scorer(const std::string& evaluator, const std::string& proxy,
                                        const OptionReader& options);

// The table evaluator's: params and flops read from the table's columns of
// those names (--table); other proxies need a network and are refused.
void register_table_proxy_scorer();

}  // namespace sylva::evaluators
