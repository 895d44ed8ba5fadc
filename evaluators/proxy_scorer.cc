#include "evaluators/proxy_scorer.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>

#include "base/strings.h"
#include "evaluators/table_evaluator.h"
#include "spaces/hparam_space.h"

namespace sylva::evaluators {
namespace {

std::map<std::string, ProxyScorerFactory>& scorers() {
  static auto* r = new std::map<std::string, ProxyScorerFactory>;
  return *r;
}

// A Reporter for the table's look-ups, which report nothing.
class Silent : public Reporter {
 public:
  void intermediate(int, const std::string&, double) override {}
};

}  // namespace

const std::vector<ProxyInfo>& proxy_infos() {
  static const std::vector<ProxyInfo> kProxies = {
      {"synflow", "synaptic flow: sum |w * dR/dw| of the absolute network on an all-ones input",
       false},
      {"naswot", "log |det K| of the rectifiers' binary activation codes of a batch", true},
      {"snip", "sum |w * dL/dw| of the layer weights on a batch", true},
      {"grad_norm", "sum of the layer weights' gradient norms on a batch", true},
      {"jacob_cov", "eigenvalue score of the correlation of the input Jacobians of a batch", true},
      {"fisher", "Fisher information of the layer outputs on a batch", true},
      {"params", "trainable parameters", false},
      {"flops", "multiply-accumulates of one input", false},
  };
  return kProxies;
}

std::vector<std::string> proxy_names() {
  std::vector<std::string> names;
  for (const ProxyInfo& p : proxy_infos()) names.push_back(p.name);
  return names;
}

const ProxyInfo* find_proxy(const std::string& name) {
  for (const ProxyInfo& p : proxy_infos()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

Status check_proxy_name(const std::string& option, const std::string& name) {
  if (find_proxy(name) != nullptr) return Status::ok();
  return Status::invalid_argument(fmt::format("--{} '{}' is unknown (proxies: {})", option,
                                              quote_cut(name), join(proxy_names(), ", ")));
}

void register_proxy_scorer(const std::string& evaluator, ProxyScorerFactory factory) {
  scorers()[evaluator] = std::move(factory);
}

StatusOr<ProxyScorer> make_proxy_scorer(const std::string& evaluator, const std::string& proxy,
                                        const OptionReader& options) {
  SYLVA_RETURN_IF_ERROR(check_proxy_name("proxy-filter", proxy));
  auto it = scorers().find(evaluator);
  if (it == scorers().end()) {
    std::vector<std::string> names;
    for (const auto& [name, factory] : scorers()) names.push_back("--evaluator " + name);
    return Status::invalid_argument(fmt::format("--proxy-filter applies to {}, got --evaluator {}",
                                                join_words(names, "and"), evaluator));
  }
  return it->second(proxy, options);
}

void register_table_proxy_scorer() {
  register_proxy_scorer(
      "table", [](const std::string& proxy, const OptionReader& o) -> StatusOr<ProxyScorer> {
        if (proxy != "params" && proxy != "flops") {
          return Status::invalid_argument(fmt::format(
              "--proxy-filter {} needs a network; with --evaluator table only the table's cost "
              "columns serve (params, flops)",
              proxy));
        }
        TableOptions t;
        t.path = o.text("table");
        t.metric = proxy;
        auto made = make_table_evaluator(t);
        if (!made.is_ok()) return made.status().prefixed("--proxy-filter: ");
        std::shared_ptr<Evaluator> table = std::move(made).value();
        return ProxyScorer([table, proxy](const Space& space, const Architecture& arch,
                                          uint64_t) -> StatusOr<double> {
          HparamSplit split = split_hparams(space, arch);
          Job job;
          job.arch = split.arch;
          job.space = split.space;
          job.key = arch.key;
          job.canonical = arch.canonical;
          Silent silent;
          EvalResult r = table->evaluate(job, silent);
          if (r.state != TrialState::kComplete) return Status::not_found(r.message);
          return r.metrics.at(proxy);
        });
      });
}

}  // namespace sylva::evaluators
