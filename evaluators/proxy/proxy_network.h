// Zero-cost proxies of an architecture: builds its network at
// initialisation (as the train evaluator does, from a seed) and scores it
// with the proxies of proxies.h, or reads params and flops from
// measure_cost. Used by `--evaluator proxy`, by `--proxy-filter` under the
// train and command evaluators, and by bench/proxy_correlation.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "evaluators/data/dataset.h"
#include "evaluators/proxy/proxies.h"
#include "spaces/nets/network.h"
#include "spaces/space.h"

namespace sylva::evaluators {

// `images` training images of `data` (and their labels), standardised, drawn
// without replacement from a permutation seeded by `seed`. The proxies are
// not trained, so the train evaluator's validation images may be among them.
ProxyBatch draw_proxy_batch(const Dataset& data, int64_t images, uint64_t seed);

// Each proxy of `proxies` (names of proxy_scorer.h) on the network of
// `arch`, an architecture of `space` without hyperparameters, built for
// `input`: every network proxy on a fresh network initialised from `seed`
// (init_weights), so the scores do not depend on the order. `batch` may be
// empty when no proxy needs data. A network that does not build, or a
// forward pass LibTorch refuses, is an error naming the architecture's
// key and the proxy. Values may be non-finite (proxies.h).
StatusOr<std::map<std::string, double>> score_architecture(const Space& space,
                                                           const Architecture& arch,
                                                           const InputShape& input,
                                                           const std::vector<std::string>& proxies,
                                                           const ProxyBatch& batch, uint64_t seed);

// A proxy's score of a network, which it may change (proxies.h): one of the
// network proxies (not params or flops).
double network_proxy(const std::string& proxy, NetworkImpl& net, const ProxyBatch& batch);

}  // namespace sylva::evaluators
