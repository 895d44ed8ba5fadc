#include "evaluators/proxy/proxy_network.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <stdexcept>

#include "base/strings.h"

namespace sylva::evaluators {

ProxyBatch draw_proxy_batch(const Dataset& data, int64_t images, uint64_t seed) {
  const int64_t n = data.train_images.size(0);
  if (images < 1 || images > n) {
    throw std::invalid_argument(
        fmt::format("draw_proxy_batch: {} images of {} training images", images, n));
  }
  const std::vector<int64_t> perm = fixed_permutation(n, seed);
  const at::Tensor index =
      torch::tensor(std::vector<int64_t>(perm.begin(), perm.begin() + images), torch::kLong);
  return {data.normalise(data.train_images.index_select(0, index)),
          data.train_labels.index_select(0, index)};
}

double network_proxy(const std::string& proxy, NetworkImpl& net, const ProxyBatch& batch) {
  const Forward forward = [&net](const at::Tensor& x) { return net.forward(x); };
  if (proxy == "synflow") {
    const InputShape& in = net.input_shape();
    return synflow_score(net, forward, {in.channels, in.height, in.width});
  }
  if (proxy == "naswot") return naswot_score(net, forward, batch.x);
  if (proxy == "snip") return snip_score(net, forward, batch);
  if (proxy == "grad_norm") return grad_norm_score(net, forward, batch);
  if (proxy == "jacob_cov") return jacob_cov_score(net, forward, batch.x);
  if (proxy == "fisher") return fisher_score(net, forward, batch);
  throw std::invalid_argument("network_proxy: not a network proxy: " + proxy);
}

StatusOr<std::map<std::string, double>> score_architecture(const Space& space,
                                                           const Architecture& arch,
                                                           const InputShape& input,
                                                           const std::vector<std::string>& proxies,
                                                           const ProxyBatch& batch, uint64_t seed) {
  std::map<std::string, double> scores;
  auto fresh = [&]() -> StatusOr<std::shared_ptr<NetworkImpl>> {
    SYLVA_ASSIGN(net, build_network(space.build_spec(), arch, input));
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    init_weights(*net, generator);
    return net;
  };
  for (const std::string& proxy : proxies) {
    if (scores.count(proxy)) continue;
    SYLVA_ASSIGN(net, fresh());
    try {
      if (proxy == "params" || proxy == "flops") {
        SYLVA_ASSIGN(cost, measure_cost(*net, arch.key));
        scores["params"] = static_cast<double>(cost.params);
        scores["flops"] = static_cast<double>(cost.flops);
        continue;
      }
      scores[proxy] = network_proxy(proxy, *net, batch);
    } catch (const c10::Error& e) {
      const std::string why = e.what_without_backtrace();
      return Status::invalid_argument(fmt::format("{}: network of '{}': {}", proxy,
                                                  quote_cut(arch.key, 200),
                                                  why.substr(0, why.find('\n'))));
    }
  }
  // Only what was asked for.
  for (auto it = scores.begin(); it != scores.end();) {
    bool asked = false;
    for (const std::string& p : proxies) asked |= p == it->first;
    it = asked ? std::next(it) : scores.erase(it);
  }
  return scores;
}

}  // namespace sylva::evaluators
