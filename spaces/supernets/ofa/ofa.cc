#include "spaces/supernets/ofa/ofa.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "spaces/nets/network.h"
#include "spaces/supernets/supernet.h"

namespace sylva::ofa {
namespace {

int64_t most(const std::vector<int64_t>& v) { return *std::max_element(v.begin(), v.end()); }

torch::Tensor resize(const torch::Tensor& x, int64_t resolution) {
  if (x.size(2) == resolution && x.size(3) == resolution) return x;
  return torch::nn::functional::interpolate(x,
                                            torch::nn::functional::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{resolution, resolution})
                                                .mode(torch::kBilinear)
                                                .align_corners(false));
}

// Standalone pieces of an extracted sub-network.
class ResizeImpl : public torch::nn::Module {
 public:
  explicit ResizeImpl(int64_t resolution) : resolution_(resolution) {}
  torch::Tensor forward(const torch::Tensor& x) { return resize(x, resolution_); }

 private:
  int64_t resolution_;
};
TORCH_MODULE(Resize);

class MbBlockImpl : public torch::nn::Module {
 public:
  MbBlockImpl(torch::nn::Conv2d expand, torch::nn::BatchNorm2d bn1, torch::nn::Conv2d depthwise,
              torch::nn::BatchNorm2d bn2, torch::nn::Conv2d project, torch::nn::BatchNorm2d bn3,
              bool residual)
      : expand_(register_module("expand", expand)),
        bn1_(register_module("bn1", bn1)),
        depthwise_(register_module("depthwise", depthwise)),
        bn2_(register_module("bn2", bn2)),
        project_(register_module("project", project)),
        bn3_(register_module("bn3", bn3)),
        residual_(residual) {}

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = torch::relu(bn1_->forward(expand_->forward(x)));
    h = torch::relu(bn2_->forward(depthwise_->forward(h)));
    h = bn3_->forward(project_->forward(h));
    return residual_ ? h + x : h;
  }

 private:
  torch::nn::Conv2d expand_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d depthwise_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Conv2d project_;
  torch::nn::BatchNorm2d bn3_;
  bool residual_;
};
TORCH_MODULE(MbBlock);

class PoolImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x) { return x.mean({2, 3}); }
};
TORCH_MODULE(Pool);

}  // namespace

OfaNetImpl::OfaNetImpl(OfaSpec spec) : spec_(std::move(spec)) {
  if (spec_.widths.size() != spec_.strides.size() || spec_.widths.empty()) {
    throw std::invalid_argument("ofa: one stride per stage width");
  }
  stem_ = register_module(
      "stem",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(spec_.in_channels, spec_.stem, 3).padding(1).bias(false)));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(spec_.stem));
  int64_t in = spec_.stem;
  const int64_t e = most(spec_.expands);
  for (size_t s = 0; s < spec_.widths.size(); ++s) {
    std::vector<Block> stage;
    for (int64_t b = 0; b < most(spec_.depths); ++b) {
      Block k;
      k.in_max = in;
      k.out = spec_.widths[s];
      k.stride = b == 0 ? spec_.strides[s] : 1;
      const std::string name = fmt::format("s{}b{}_", s + 1, b + 1);
      const int64_t hidden = in * e;
      k.expand = register_module(name + "expand",
                                 elastic::ElasticConv2d(in, hidden, std::vector<int64_t>{1}));
      k.bn1 = register_module(name + "bn1", elastic::ElasticBatchNorm2d(hidden));
      k.depthwise = register_module(
          name + "depthwise",
          elastic::ElasticConv2d(hidden, hidden, spec_.kernels, k.stride, /*depthwise=*/true));
      k.bn2 = register_module(name + "bn2", elastic::ElasticBatchNorm2d(hidden));
      k.project = register_module(name + "project",
                                  elastic::ElasticConv2d(hidden, k.out, std::vector<int64_t>{1}));
      k.bn3 = register_module(name + "bn3", elastic::ElasticBatchNorm2d(k.out));
      stage.push_back(k);
      in = k.out;
    }
    stages_.push_back(stage);
  }
  classifier_ = register_module("classifier", torch::nn::Linear(in, spec_.classes));
  active_ = largest(spec_);
}

void OfaNetImpl::activate(const OfaConfig& config) {
  Status s = check_config(spec_, config);
  if (!s.is_ok()) throw std::invalid_argument(s.message());
  active_ = config;
}

torch::Tensor OfaNetImpl::forward(torch::Tensor x) {
  x = resize(x, active_.resolution);
  x = torch::relu(stem_bn_->forward(stem_->forward(x)));
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (int64_t b = 0; b < active_.depth[s]; ++b) {
      Block& k = stages_[s][b];
      const int64_t in = x.size(1), hidden = in * active_.expand[s][b];
      torch::Tensor h = torch::relu(k.bn1->forward(k.expand->forward(x, hidden, 1)));
      h = torch::relu(k.bn2->forward(k.depthwise->forward(h, hidden, active_.kernel[s][b])));
      h = k.bn3->forward(k.project->forward(h, k.out, 1));
      x = k.stride == 1 && in == k.out ? h + x : h;
    }
  }
  return classifier_->forward(x.mean({2, 3}));
}

torch::nn::Conv2d OfaNetImpl::extract_stem() const {
  torch::nn::Conv2d stem(
      torch::nn::Conv2dOptions(spec_.in_channels, spec_.stem, 3).padding(1).bias(false));
  torch::NoGradGuard no_grad;
  stem->weight.copy_(stem_->weight);
  return stem;
}

std::vector<OfaNetImpl::ExtractedBlock> OfaNetImpl::extract_blocks(const OfaConfig& config) const {
  Status status = check_config(spec_, config);
  if (!status.is_ok()) throw std::invalid_argument(status.message());
  std::vector<ExtractedBlock> out;
  int64_t in = spec_.stem;
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (int64_t b = 0; b < config.depth[s]; ++b) {
      const Block& k = stages_[s][b];
      const int64_t hidden = in * config.expand[s][b], kernel = config.kernel[s][b];
      ExtractedBlock e;
      e.expand = k.expand->extract(in, hidden, 1);
      e.bn1 = k.bn1->extract(hidden);
      e.depthwise = k.depthwise->extract(hidden, hidden, kernel);
      e.bn2 = k.bn2->extract(hidden);
      e.project = k.project->extract(hidden, k.out, 1);
      e.bn3 = k.bn3->extract(k.out);
      e.residual = k.stride == 1 && in == k.out;
      out.push_back(e);
      in = k.out;
    }
  }
  return out;
}

torch::nn::Sequential OfaNetImpl::extract(const OfaConfig& config) const {
  const std::vector<ExtractedBlock> blocks = extract_blocks(config);
  torch::nn::Sequential net;
  net->push_back(Resize(config.resolution));
  net->push_back(extract_stem());
  net->push_back(copy_bn(stem_bn_));
  net->push_back(torch::nn::ReLU());
  for (const ExtractedBlock& k : blocks) {
    net->push_back(MbBlock(k.expand, k.bn1, k.depthwise, k.bn2, k.project, k.bn3, k.residual));
  }
  net->push_back(Pool());
  torch::nn::Linear head(classifier_->options);
  {
    torch::NoGradGuard no_grad;
    head->weight.copy_(classifier_->weight);
    head->bias.copy_(classifier_->bias);
  }
  net->push_back(head);
  return net;
}

OfaCost OfaNetImpl::cost(const OfaConfig& config) const {
  Status status = check_config(spec_, config);
  if (!status.is_ok()) throw std::invalid_argument(status.message());
  return ofa::cost(spec_, config);
}

void OfaNetImpl::recalibrate(const std::vector<torch::Tensor>& batches) {
  recalibrate_batch_norm(
      *this, [&](const torch::Tensor& x) { forward(x); }, batches);
}

torch::Tensor OfaNetImpl::channel_importance(size_t stage, size_t block) const {
  const Block& k = stages_.at(stage).at(block);
  // project weight: [out, hidden, 1, 1]; a hidden channel is one input column.
  return k.project->weight().detach().abs().sum({0, 2, 3});
}

void OfaNetImpl::sort_channels() {
  torch::NoGradGuard no_grad;
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (size_t b = 0; b < stages_[s].size(); ++b) {
      Block& k = stages_[s][b];
      const torch::Tensor order =
          std::get<1>(channel_importance(s, b).sort(0, /*descending=*/true));
      auto permute = [&](torch::Tensor& t, int64_t dim) { t.copy_(t.index_select(dim, order)); };
      permute(k.expand->weight(), 0);
      permute(k.depthwise->weight(), 0);
      permute(k.project->weight(), 1);
      for (elastic::ElasticBatchNorm2d* bn : {&k.bn1, &k.bn2}) {
        permute((*bn)->weight(), 0);
        permute((*bn)->bias(), 0);
        permute((*bn)->running_mean(), 0);
        permute((*bn)->running_var(), 0);
      }
    }
  }
}

OfaNet copy_supernet(const OfaNet& net) {
  OfaNet out(net->spec());
  copy_weights(*net, *out);
  out->activate(net->active());
  return out;
}

torch::jit::Module OfaNetImpl::script(const OfaConfig& config) const {
  const std::vector<ExtractedBlock> blocks = extract_blocks(config);
  ScriptEmitter e;
  std::string x = e.var();
  // What resize() computes: bilinear, no corner alignment, to the resolution.
  e.line(fmt::format("{} = torch.upsample_bilinear2d(input, [{}, {}], False, None, None)", x,
                     config.resolution, config.resolution));
  x = emit_conv_bn(e, x, extract_stem(), copy_bn(stem_bn_), true);
  for (const ExtractedBlock& k : blocks) {
    std::string h = emit_conv_bn(e, x, k.expand, k.bn1, true);
    h = emit_conv_bn(e, h, k.depthwise, k.bn2, true);
    h = emit_conv_bn(e, h, k.project, k.bn3, false);
    if (k.residual) {
      const std::string r = e.var();
      e.line(fmt::format("{} = {} + {}", r, h, x));
      h = r;
    }
    x = h;
  }
  return e.finish("input", emit_pool_classifier(e, x, classifier_));
}

}  // namespace sylva::ofa
