// The `proxy` evaluator: scores each candidate by zero-cost proxies at
// initialisation instead of training it (evaluators/proxy/proxies.h).
//
// `--proxy NAME[,NAME...]` names the proxies (synflow, naswot, snip,
// grad_norm, jacob_cov, fisher, params, flops); the first is the trial's
// default objective. Each is computed on the network of the architecture
// initialised from the trial's seed, on `batches` x `batch_size` training
// images of the dataset (--dataset and its options, as the train evaluator
// reads them; Fashion-MNIST by default) drawn from the trial's seed, so a
// trial run twice gives the same scores. Metrics: each proxy under its
// name, params, flops and proxy_seconds. A first proxy whose score is not
// finite (naswot's singular kernel, jacob_cov's constant Jacobian, an
// overflow) makes the trial FAIL with a message naming it; a network that
// does not build or run FAILs with LibTorch's first line.
//
// register_proxy_evaluator() also registers the network proxies as the
// `--proxy-filter` scorers (evaluators/proxy_scorer.h) of the train
// evaluator (its dataset) and of the command evaluator (--input-shape and
// --classes; a proxy that needs data reads Fashion-MNIST, whose shape they
// must then be). evaluate() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "evaluators/data/data_options.h"
#include "evaluators/evaluator.h"

namespace sylva::evaluators {

struct Dataset;

struct ProxyOptions {
  std::vector<std::string> proxies;  // at least one; the first is the objective
  int64_t batches = 1;               // mini-batches of data, >= 1
  int64_t batch_size = 64;           // images per mini-batch, >= 2
};

// Validates the options (messages name the CLI option).
StatusOr<std::unique_ptr<Evaluator>> make_proxy_evaluator(const ProxyOptions& options,
                                                          std::shared_ptr<const Dataset> data);

// Parses "--proxy a,b": known names, none twice.
StatusOr<std::vector<std::string>> parse_proxy_list(const std::string& text);

// Registers `--evaluator proxy` and the network proxy scorers of train and command.
void register_proxy_evaluator();

}  // namespace sylva::evaluators
