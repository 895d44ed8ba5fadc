#include "spaces/stitch.h"

#include <fmt/format.h>

#include <stdexcept>

namespace sylva::stitch {
namespace {

sorted::SortedSpec anchor_spec(const StitchSpec& s, size_t k) {
  sorted::SortedSpec a;
  a.in_channels = s.in_channels;
  a.classes = s.classes;
  a.size = s.size;
  a.dim = s.dims[k];
  a.depths = {s.depth};
  a.widths = {s.expand * s.dims[k]};
  return a;
}

}  // namespace

StitchNetImpl::StitchNetImpl(StitchSpec spec) : spec_(std::move(spec)) {
  for (size_t k = 0; k < spec_.dims.size(); ++k) {
    anchors_.push_back(
        register_module(fmt::format("anchor{}", k), sorted::SortedNet(anchor_spec(spec_, k))));
  }
  for (const StitchConfig& c : all_configs(spec_)) {
    if (c.from == c.to) continue;
    stitches_.emplace(std::make_tuple(c.from, c.to, c.position),
                      register_module(fmt::format("stitch_{}_{}_{}", c.from, c.to, c.position),
                                      torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                          spec_.dims[c.from], spec_.dims[c.to], 1))));
  }
  active_ = {static_cast<int>(spec_.dims.size()) - 1, static_cast<int>(spec_.dims.size()) - 1, 0};
}

torch::nn::Conv2d& StitchNetImpl::stitch_layer(int from, int to, int64_t position) {
  auto it = stitches_.find({from, to, position});
  if (it == stitches_.end()) {
    throw std::invalid_argument(
        fmt::format("no stitching layer from anchor {} to {} at {}", from, to, position));
  }
  return it->second;
}

torch::Tensor StitchNetImpl::forward(const torch::Tensor& input) {
  const StitchConfig& c = active_;
  auto& a = anchors_.at(c.from);
  auto& b = anchors_.at(c.to);
  const int64_t split = c.from == c.to ? spec_.depth : c.position;
  torch::Tensor x = a->stem(input);
  for (int64_t l = 0; l < split; ++l) x = a->block(l, x, spec_.expand * spec_.dims[c.from]);
  if (c.from != c.to) x = stitch_layer(c.from, c.to, c.position)->forward(x);
  for (int64_t l = split; l < spec_.depth; ++l) {
    x = b->block(l, x, spec_.expand * spec_.dims[c.to]);
  }
  return b->head(x);
}

torch::jit::Module StitchNetImpl::script(const StitchConfig& c) const {
  const auto& a = anchors_.at(c.from);
  const auto& b = anchors_.at(c.to);
  const int64_t split = c.from == c.to ? spec_.depth : c.position;
  ScriptEmitter e;
  std::string x = a->emit_stem(e, "input");
  for (int64_t l = 0; l < split; ++l) {
    x = a->emit_block(e, l, x, spec_.expand * spec_.dims[c.from]);
  }
  if (c.from != c.to) {
    const torch::nn::Conv2d& s = stitches_.at({c.from, c.to, c.position});
    const std::string y = e.var();
    e.line(fmt::format("{} = torch.conv2d({}, {}, {}, [1, 1], [0, 0], [1, 1], 1)", y, x,
                       e.param("stitch_w", s->weight.detach().clone()),
                       e.param("stitch_b", s->bias.detach().clone())));
    x = y;
  }
  for (int64_t l = split; l < spec_.depth; ++l) {
    x = b->emit_block(e, l, x, spec_.expand * spec_.dims[c.to]);
  }
  return e.finish("input", b->emit_head(e, x));
}

void StitchNetImpl::fit_stitches(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  // Every anchor's activations after each block.
  std::vector<std::vector<torch::Tensor>> acts(anchors_.size());
  for (size_t k = 0; k < anchors_.size(); ++k) {
    torch::Tensor x = anchors_[k]->stem(images);
    for (int64_t l = 0; l < spec_.depth; ++l) {
      x = anchors_[k]->block(l, x, spec_.expand * spec_.dims[k]);
      acts[k].push_back(x);
    }
  }
  for (auto& [key, layer] : stitches_) {
    const auto [from, to, position] = key;
    // Rows are pixels: [N*H*W, channels]; a column of ones fits the bias.
    auto rows = [](const torch::Tensor& t) {
      return t.permute({0, 2, 3, 1}).reshape({-1, t.size(1)}).to(torch::kDouble);
    };
    const torch::Tensor xa = rows(acts[from][position - 1]);
    const torch::Tensor xb = rows(acts[to][position - 1]);
    const torch::Tensor design = torch::cat({xa, torch::ones({xa.size(0), 1}, xa.options())}, 1);
    // Normal equations with a small ridge for stability.
    torch::Tensor gram = design.t().mm(design);
    gram += 1e-6 * gram.diagonal().mean() * torch::eye(gram.size(0), gram.options());
    const torch::Tensor w = torch::linalg_solve(gram, design.t().mm(xb));  // [da + 1, db]
    const int64_t da = xa.size(1);
    layer->weight.copy_(w.narrow(0, 0, da).t().reshape(layer->weight.sizes()).to(torch::kFloat));
    layer->bias.copy_(w[da].to(torch::kFloat));
  }
  train(was_training);
}

namespace {

class StitchSupernet : public Supernet {
 public:
  explicit StitchSupernet(StitchNet net) : net_(std::move(net)), space_("stitch", net_->spec()) {}

  const std::string& family() const override {
    static const std::string kName = "stitch";
    return kName;
  }
  torch::nn::Module& module() override { return *net_; }
  const Space& space() const override { return space_; }
  std::vector<int> largest() const override { return anchor(net_->spec().dims.size() - 1); }
  std::vector<int> smallest() const override { return anchor(0); }
  std::vector<std::vector<int>> anchors() const override {
    std::vector<std::vector<int>> out;
    for (size_t k = 0; k < net_->spec().dims.size(); ++k) out.push_back(anchor(k));
    return out;
  }
  std::vector<int> sample(const std::string& phase, std::mt19937_64& rng) const override {
    (void)phase;
    const std::vector<StitchConfig> all = all_configs(net_->spec());
    return space_.decisions(all[std::uniform_int_distribution<size_t>(0, all.size() - 1)(rng)])
        .value();
  }
  bool has_phase(const std::string& phase) const override { return phase.empty(); }
  void activate(const std::vector<int>& d) override {
    auto c = space_.config(d);
    if (!c.is_ok()) throw std::invalid_argument(c.status().message());
    net_->activate(c.value());
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net_->forward(x); }
  void recalibrate(const std::vector<torch::Tensor>& batches) override {
    recalibrate_batch_norm(
        *net_, [&](const torch::Tensor& x) { net_->forward(x); }, batches);
  }
  void begin_phase(const std::string& phase, const torch::Tensor& images) override {
    if (phase == "stitch") net_->fit_stitches(images);
  }
  std::vector<std::vector<int>> sweep() const override {
    std::vector<std::vector<int>> out;
    for (const StitchConfig& c : all_configs(net_->spec())) {
      auto d = space_.decisions(c);
      if (d.is_ok() && space_.make(d.value()).is_ok()) out.push_back(d.value());
    }
    return out;
  }
  std::unique_ptr<Supernet> copy() const override {
    StitchNet twin(net_->spec());
    copy_weights(*net_, *twin);
    return std::make_unique<StitchSupernet>(twin);
  }
  torch::jit::Module script(const std::vector<int>& d) const override {
    auto c = space_.config(d);
    if (!c.is_ok()) throw std::invalid_argument(c.status().message());
    return net_->script(c.value());
  }

 private:
  std::vector<int> anchor(size_t k) const {
    const int a = static_cast<int>(k);
    return space_.decisions({a, a, 0}).value();
  }

  StitchNet net_;
  StitchSpace space_;
};

}  // namespace

std::unique_ptr<Supernet> make_stitch_supernet(const StitchSpec& spec) {
  return std::make_unique<StitchSupernet>(StitchNet(spec));
}

}  // namespace sylva::stitch
