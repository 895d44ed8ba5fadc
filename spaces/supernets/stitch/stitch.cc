#include "spaces/supernets/stitch/stitch.h"

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

}  // namespace sylva::stitch
