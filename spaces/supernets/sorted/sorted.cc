#include "spaces/supernets/sorted/sorted.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "spaces/nets/network.h"

namespace sylva::sorted {
namespace {

int64_t most(const std::vector<int64_t>& v) { return *std::max_element(v.begin(), v.end()); }

}  // namespace

SortedNetImpl::SortedNetImpl(SortedSpec spec) : spec_(std::move(spec)), space_("sorted", spec_) {
  const int64_t d = spec_.dim, w = most(spec_.widths);
  stem_ = register_module(
      "stem",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(spec_.in_channels, d, 3).stride(2).padding(1).bias(false)));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(d));
  for (int64_t l = 0; l < most(spec_.depths); ++l) {
    const std::string name = fmt::format("b{}_", l + 1);
    Block b;
    b.depthwise = register_module(
        name + "depthwise",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d, 7).padding(3).groups(d).bias(false)));
    b.bn_a = register_module(name + "bn_a", torch::nn::BatchNorm2d(d));
    b.expand =
        register_module(name + "expand", elastic::ElasticConv2d(d, w, std::vector<int64_t>{1}));
    b.bn_b = register_module(name + "bn_b", elastic::ElasticBatchNorm2d(w));
    b.project =
        register_module(name + "project", elastic::ElasticConv2d(w, d, std::vector<int64_t>{1}));
    b.bn_c = register_module(name + "bn_c", torch::nn::BatchNorm2d(d));
    blocks_.push_back(b);
  }
  classifier_ = register_module("classifier", torch::nn::Linear(d, spec_.classes));
  active_ = nested(most(spec_.depths), w);
}

void SortedNetImpl::activate(const SortedConfig& config) {
  auto d = space_.decisions(config);
  if (!d.is_ok()) throw std::invalid_argument(d.status().message());
  active_ = config;
}

torch::Tensor SortedNetImpl::stem(const torch::Tensor& x) {
  return torch::relu(stem_bn_->forward(stem_->forward(x)));
}

torch::Tensor SortedNetImpl::block(int64_t l, const torch::Tensor& x, int64_t width) {
  Block& b = blocks_.at(l);
  torch::Tensor h = b.bn_a->forward(b.depthwise->forward(x));
  h = torch::relu(b.bn_b->forward(b.expand->forward(h, width, 1)));
  h = b.bn_c->forward(b.project->forward(h, spec_.dim, 1));
  return x + h;
}

torch::Tensor SortedNetImpl::head(const torch::Tensor& x) {
  return classifier_->forward(x.mean({2, 3}));
}

torch::Tensor SortedNetImpl::forward(const torch::Tensor& input) {
  torch::Tensor x = stem(input);
  for (int64_t l = 0; l < active_.depth; ++l) x = block(l, x, active_.width[l]);
  return head(x);
}

std::string SortedNetImpl::emit_stem(ScriptEmitter& e, const std::string& x) const {
  torch::nn::Conv2d stem(
      torch::nn::Conv2dOptions(spec_.in_channels, spec_.dim, 3).stride(2).padding(1).bias(false));
  {
    torch::NoGradGuard no_grad;
    stem->weight.copy_(stem_->weight);
  }
  return emit_conv_bn(e, x, stem, copy_bn(stem_bn_), true);
}

std::string SortedNetImpl::emit_block(ScriptEmitter& e, int64_t l, const std::string& x,
                                      int64_t width) const {
  const Block& b = blocks_.at(l);
  torch::nn::Conv2d dw(
      torch::nn::Conv2dOptions(spec_.dim, spec_.dim, 7).padding(3).groups(spec_.dim).bias(false));
  {
    torch::NoGradGuard no_grad;
    dw->weight.copy_(b.depthwise->weight);
  }
  std::string h = emit_conv_bn(e, x, dw, copy_bn(b.bn_a), false);
  h = emit_conv_bn(e, h, b.expand->extract(spec_.dim, width, 1), b.bn_b->extract(width), true);
  h = emit_conv_bn(e, h, b.project->extract(width, spec_.dim, 1), copy_bn(b.bn_c), false);
  const std::string r = e.var();
  e.line(fmt::format("{} = {} + {}", r, x, h));
  return r;
}

std::string SortedNetImpl::emit_head(ScriptEmitter& e, const std::string& x) const {
  return emit_pool_classifier(e, x, classifier_);
}

torch::jit::Module SortedNetImpl::script(const SortedConfig& config) const {
  auto checked = space_.decisions(config);
  if (!checked.is_ok()) throw std::invalid_argument(checked.status().message());
  ScriptEmitter e;
  std::string x = emit_stem(e, "input");
  for (int64_t l = 0; l < config.depth; ++l) x = emit_block(e, l, x, config.width[l]);
  return e.finish("input", emit_head(e, x));
}

}  // namespace sylva::sorted
