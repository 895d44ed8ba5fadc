#include "evaluators/proxy/proxy_evaluator.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "base/random.h"
#include "base/strings.h"
#include "evaluators/data/dataset.h"
#include "evaluators/model_shape.h"
#include "evaluators/proxy/proxy_network.h"
#include "evaluators/proxy_scorer.h"
#include "evaluators/registry.h"
#include "evaluators/train/check_network.h"
#include "evaluators/train/compute_threads.h"
#include "spaces/hparam_space.h"

namespace sylva::evaluators {
namespace {

// Keeps the batch drawn for a trial apart from its network's initialisation.
constexpr uint64_t kBatchSalt = 0xba7c4e5ULL;

using Clock = std::chrono::steady_clock;

InputShape input_of(const Dataset& d) {
  return InputShape{d.channels(), d.height(), d.width(), d.classes};
}

bool needs_data(const std::vector<std::string>& proxies) {
  for (const std::string& p : proxies) {
    const ProxyInfo* info = find_proxy(p);
    if (info != nullptr && info->needs_data) return true;
  }
  return false;
}

// Why a proxy's score is not finite, for the trial's message.
std::string non_finite(const std::string& proxy, double v) {
  std::string why;
  if (proxy == "naswot") {
    why = ": the activation kernel is singular (no rectifier, or samples with equal codes)";
  } else if (proxy == "jacob_cov") {
    why = ": an input Jacobian is constant (the output does not depend on the input)";
  } else if (proxy == "synflow") {
    why = ": the synaptic flow overflows double precision";
  }
  return fmt::format("proxy {} is {}{}", proxy,
                     std::isnan(v) ? "nan"
                     : v > 0       ? "inf"
                                   : "-inf",
                     why);
}

Status check_batches(int64_t batches, int64_t batch_size, const Dataset* data) {
  if (batches < 1) {
    return Status::invalid_argument(fmt::format("--proxy-batches must be >= 1, got {}", batches));
  }
  if (batch_size < 2) {
    return Status::invalid_argument(
        fmt::format("--proxy-batch-size must be >= 2, got {}", batch_size));
  }
  if (data != nullptr && batches * batch_size > data->train_images.size(0)) {
    return Status::invalid_argument(fmt::format(
        "--proxy-batches {} x --proxy-batch-size {} is more than the {} training images", batches,
        batch_size, data->train_images.size(0)));
  }
  return Status::ok();
}

class ProxyEvaluator : public Evaluator {
 public:
  ProxyEvaluator(ProxyOptions options, std::shared_ptr<const Dataset> data)
      : options_(std::move(options)),
        data_(std::move(data)),
        input_(input_of(*data_)),
        needs_data_(needs_data(options_.proxies)) {}

  EvalResult evaluate(const Job& job, Reporter& reporter) override {
    (void)reporter;
    if (job.space == nullptr) throw std::invalid_argument("proxy evaluator: job has no space");
    const auto start = Clock::now();
    set_compute_threads(job.threads);
    ProxyBatch batch;
    if (needs_data_) {
      batch = draw_proxy_batch(*data_, options_.batches * options_.batch_size,
                               mix_seed(job.seed, kBatchSalt));
    }
    std::vector<std::string> wanted = options_.proxies;
    wanted.push_back("params");
    wanted.push_back("flops");
    EvalResult result;
    auto scores = score_architecture(*job.space, job.arch, input_, wanted, batch, job.seed);
    if (!scores.is_ok()) {
      result.state = TrialState::kFail;
      result.message = scores.status().message();
      return result;
    }
    for (const auto& [name, v] : scores.value()) {
      if (std::isfinite(v)) result.metrics[name] = v;
    }
    result.metrics["proxy_seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
    const std::string& first = options_.proxies.front();
    const double v = scores.value().at(first);
    if (!std::isfinite(v)) {
      result.state = TrialState::kFail;
      result.message = non_finite(first, v);
    }
    return result;
  }

  SpaceTarget input() const override {
    SpaceTarget t;
    t.channels = input_.channels;
    t.height = input_.height;
    t.width = input_.width;
    t.classes = input_.classes;
    return t;
  }
  std::string data_summary() const override { return data_->summary_json(); }
  std::vector<std::string> metrics() const override {
    std::vector<std::string> out = options_.proxies;
    for (const char* m : {"params", "flops", "proxy_seconds"}) {
      if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
    return out;
  }
  Status check_architecture(const Space& space, const Architecture& arch) const override {
    return check_network_runs(space, arch, input_);
  }

 private:
  // Constant after construction; the dataset is only read.
  const ProxyOptions options_;
  const std::shared_ptr<const Dataset> data_;
  const InputShape input_;
  const bool needs_data_;
};

// The --proxy-filter scorer of one network proxy: `data` may be null when
// the proxy needs none.
ProxyScorer network_scorer(const std::string& proxy, std::shared_ptr<const Dataset> data,
                           const InputShape& input, int64_t images) {
  const bool with_data = needs_data({proxy});
  return [proxy, data, input, images, with_data](const Space& space, const Architecture& arch,
                                                 uint64_t seed) -> StatusOr<double> {
    HparamSplit split = split_hparams(space, arch);
    ProxyBatch batch;
    if (with_data) batch = draw_proxy_batch(*data, images, mix_seed(seed, kBatchSalt));
    SYLVA_ASSIGN(scores, score_architecture(*split.space, split.arch, input, {proxy}, batch, seed));
    return scores.at(proxy);
  };
}

// --proxy-batches x --proxy-batch-size, as given (older experiments lack them).
StatusOr<int64_t> proxy_images(const OptionReader& o, const Dataset* data) {
  SYLVA_ASSIGN(batches, o.integer_or("proxy-batches", 0, 1));
  SYLVA_ASSIGN(batch_size, o.integer_or("proxy-batch-size", 0, 64));
  SYLVA_RETURN_IF_ERROR(check_batches(batches, batch_size, data));
  return batches * batch_size;
}

StatusOr<std::shared_ptr<const Dataset>> load_shared(const DataOptions& options) {
  SYLVA_ASSIGN(data, load_dataset(options));
  return std::make_shared<const Dataset>(std::move(data));
}

}  // namespace

StatusOr<std::vector<std::string>> parse_proxy_list(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    SYLVA_RETURN_IF_ERROR(check_proxy_name("proxy", item));
    if (std::find(out.begin(), out.end(), item) != out.end()) {
      return Status::invalid_argument(fmt::format("--proxy '{}' is given twice", item));
    }
    out.push_back(item);
  }
  if (out.empty()) {
    return Status::invalid_argument(fmt::format(
        "--evaluator proxy needs --proxy NAME (proxies: {})", join(proxy_names(), ", ")));
  }
  return out;
}

StatusOr<std::unique_ptr<Evaluator>> make_proxy_evaluator(const ProxyOptions& options,
                                                          std::shared_ptr<const Dataset> data) {
  if (!data) throw std::invalid_argument("make_proxy_evaluator: no dataset");
  if (options.proxies.empty()) return parse_proxy_list("").status();
  for (const std::string& p : options.proxies) SYLVA_RETURN_IF_ERROR(check_proxy_name("proxy", p));
  SYLVA_RETURN_IF_ERROR(check_batches(options.batches, options.batch_size, data.get()));
  return std::unique_ptr<Evaluator>(new ProxyEvaluator(options, std::move(data)));
}

void register_proxy_evaluator() {
  register_evaluator(
      {"proxy",
       "scores each candidate by zero-cost proxies at initialisation, without training",
       /*trains=*/false,
       [](const OptionReader& o) -> StatusOr<std::string> {
         SYLVA_ASSIGN(proxies, parse_proxy_list(o.text("proxy")));
         return proxies.front();
       },
       [](const OptionReader& o) -> StatusOr<std::unique_ptr<Evaluator>> {
         ProxyOptions p;
         SYLVA_ASSIGN(proxies, parse_proxy_list(o.text("proxy")));
         p.proxies = proxies;
         SYLVA_ASSIGN(batches, o.integer_or("proxy-batches", 0, p.batches));
         SYLVA_ASSIGN(batch_size, o.integer_or("proxy-batch-size", 0, p.batch_size));
         p.batches = batches;
         p.batch_size = batch_size;
         SYLVA_RETURN_IF_ERROR(check_batches(p.batches, p.batch_size, nullptr));
         SYLVA_ASSIGN(data_options, read_data_options(o));
         SYLVA_ASSIGN(data, load_shared(data_options));
         return make_proxy_evaluator(p, data);
       },
       {{"proxy",
         "evaluator proxy: zero-cost proxies, comma-separated, the first the objective: synflow | "
         "naswot | snip | grad_norm | jacob_cov | fisher | params | flops",
         "", OptionDef::kFilled, true},
        {"proxy-batches", "zero-cost proxies: mini-batches of training images they run on", "1",
         OptionDef::kFilled, true},
        {"proxy-batch-size", "zero-cost proxies: images per mini-batch", "64", OptionDef::kFilled,
         true}},
       {},
       {"dataset", "dataset-format", "label", "image-size", "target"}});

  register_proxy_scorer(
      "train", [](const std::string& proxy, const OptionReader& o) -> StatusOr<ProxyScorer> {
        SYLVA_ASSIGN(data_options, read_data_options(o));
        SYLVA_ASSIGN(data, load_shared(data_options));
        SYLVA_ASSIGN(images, proxy_images(o, data.get()));
        return network_scorer(proxy, data, input_of(*data), images);
      });
  register_proxy_scorer(
      "command", [](const std::string& proxy, const OptionReader& o) -> StatusOr<ProxyScorer> {
        SYLVA_ASSIGN(classes, o.integer("classes", 1));
        SYLVA_ASSIGN(shape, parse_input_shape(o.text("input-shape"), classes));
        const InputShape input{shape.channels, shape.height, shape.width, shape.classes};
        if (!needs_data({proxy})) {
          SYLVA_RETURN_IF_ERROR(proxy_images(o, nullptr).status());
          return network_scorer(proxy, nullptr, input, 0);
        }
        SYLVA_ASSIGN(data, load_shared(DataOptions{}));
        const InputShape fashion = input_of(*data);
        if (fashion.channels != input.channels || fashion.height != input.height ||
            fashion.width != input.width || fashion.classes != input.classes) {
          return Status::invalid_argument(fmt::format(
              "--proxy-filter {} runs the network on data: with --evaluator command it reads "
              "Fashion-MNIST ({},{},{} and {} classes), which --input-shape {} --classes {} do "
              "not match (synflow, params and flops need no data)",
              proxy, fashion.channels, fashion.height, fashion.width, fashion.classes,
              o.text("input-shape"), classes));
        }
        SYLVA_ASSIGN(images, proxy_images(o, data.get()));
        return network_scorer(proxy, data, input, images);
      });
}

}  // namespace sylva::evaluators
