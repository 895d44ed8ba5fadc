#include "spaces/supernets/supernet.h"

#include <fmt/format.h>

#include <algorithm>

#include "spaces/nets/network.h"
#include "spaces/supernets/elastic.h"
#include "spaces/supernets/family.h"

namespace sylva {
StatusOr<std::unique_ptr<Supernet>> make_supernet(const std::string& spec) {
  register_all_supernet_families();
  SYLVA_ASSIGN(family, supernet_family(spec.substr(0, spec.find(' '))));
  return family->make(spec);
}

Status save_supernet(Supernet& net, const std::string& path) {
  try {
    torch::serialize::OutputArchive archive;
    archive.write("spec", c10::IValue(net.spec_text()));
    net.module().save(archive);
    archive.save_to(path);
  } catch (const c10::Error& e) {
    return Status::io_error(fmt::format("cannot write supernet '{}': {}", path,
                                        std::string(e.what_without_backtrace())));
  }
  return Status::ok();
}

namespace {

StatusOr<std::string> spec_of(torch::serialize::InputArchive& archive, const std::string& path) {
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    return Status::invalid_argument(fmt::format("'{}' is not a readable supernet file", path));
  }
  c10::IValue text;
  if (!archive.try_read("spec", text) || !text.isString()) {
    return Status::invalid_argument(fmt::format("'{}' holds no supernet spec", path));
  }
  return text.toStringRef();
}

}  // namespace

StatusOr<std::string> read_supernet_spec(const std::string& path) {
  torch::serialize::InputArchive archive;
  return spec_of(archive, path);
}

StatusOr<std::unique_ptr<Supernet>> load_supernet(const std::string& path) {
  torch::serialize::InputArchive archive;
  auto spec = spec_of(archive, path);
  if (!spec.is_ok()) return spec.status();
  auto net = make_supernet(spec.value());
  if (!net.is_ok()) return Status::invalid_argument(path + ": " + net.status().message());
  try {
    net.value()->module().load(archive);
  } catch (const c10::Error& e) {
    return Status::corruption(fmt::format("'{}': weights do not fit its spec: {}", path,
                                          std::string(e.what_without_backtrace())));
  }
  return net;
}

void activate_recalibrated(Supernet& net, const std::vector<int>& decisions,
                           const at::Tensor& calibration, int64_t batch) {
  net.activate(decisions);
  std::vector<torch::Tensor> batches;
  for (int64_t i = 0; i < calibration.size(0); i += batch) {
    batches.push_back(calibration.narrow(0, i, std::min(batch, calibration.size(0) - i)));
  }
  net.recalibrate(batches);
}

double accuracy(Supernet& net, const at::Tensor& images, const at::Tensor& labels, int64_t batch) {
  const bool was_training = net.module().is_training();
  net.module().eval();
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t i = 0; i < images.size(0); i += batch) {
    const int64_t m = std::min(batch, images.size(0) - i);
    const torch::Tensor pred = net.forward(images.narrow(0, i, m)).argmax(1);
    correct += pred.eq(labels.narrow(0, i, m)).sum().item<int64_t>();
  }
  net.module().train(was_training);
  return 100.0 * static_cast<double>(correct) / static_cast<double>(images.size(0));
}

double subnet_accuracy(Supernet& net, const std::vector<int>& decisions,
                       const at::Tensor& calibration, const at::Tensor& images,
                       const at::Tensor& labels, int64_t batch) {
  activate_recalibrated(net, decisions, calibration, batch);
  return accuracy(net, images, labels, batch);
}

void copy_weights(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto from_p = from.named_parameters(), from_b = from.named_buffers();
  for (auto& p : to.named_parameters()) p.value().copy_(from_p[p.key()]);
  for (auto& b : to.named_buffers()) b.value().copy_(from_b[b.key()]);
}

void recalibrate_batch_norm(torch::nn::Module& net,
                            const std::function<void(const torch::Tensor&)>& forward,
                            const std::vector<torch::Tensor>& batches) {
  std::vector<elastic::ElasticBatchNorm2d> elastic_norms;
  std::vector<torch::nn::BatchNorm2d> plain_norms;
  for (const auto& m : net.modules(/*include_self=*/false)) {
    if (auto bn = std::dynamic_pointer_cast<elastic::ElasticBatchNorm2dImpl>(m)) {
      elastic_norms.emplace_back(bn);
    } else if (auto plain = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(m)) {
      plain_norms.emplace_back(plain);
    }
  }
  std::vector<double> elastic_momenta, plain_momenta;
  for (auto& bn : elastic_norms) {
    elastic_momenta.push_back(bn->momentum());
    bn->reset_statistics();
  }
  for (auto& bn : plain_norms) {
    plain_momenta.push_back(bn->options.momentum().value());
    bn->reset_running_stats();
  }
  const bool was_training = net.is_training();
  net.train();
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < batches.size(); ++k) {
    const double m = 1.0 / static_cast<double>(k + 1);
    for (auto& bn : elastic_norms) bn->set_momentum(m);
    for (auto& bn : plain_norms) bn->options.momentum(m);
    forward(batches[k]);
  }
  for (size_t i = 0; i < elastic_norms.size(); ++i)
    elastic_norms[i]->set_momentum(elastic_momenta[i]);
  for (size_t i = 0; i < plain_norms.size(); ++i)
    plain_norms[i]->options.momentum(plain_momenta[i]);
  net.train(was_training);
}

torch::nn::BatchNorm2d copy_bn(const torch::nn::BatchNorm2d& bn) {
  torch::nn::BatchNorm2d out(bn->options);
  torch::NoGradGuard no_grad;
  out->weight.copy_(bn->weight);
  out->bias.copy_(bn->bias);
  out->running_mean.copy_(bn->running_mean);
  out->running_var.copy_(bn->running_var);
  return out;
}

std::string emit_conv_bn(ScriptEmitter& e, const std::string& x, const torch::nn::Conv2d& conv,
                         const torch::nn::BatchNorm2d& bn, bool relu) {
  const auto& o = conv->options;
  const std::string w = e.param("conv_w", conv->weight);
  const std::string y = e.var();
  const int64_t stride = (*o.stride())[0], padding = conv->weight.size(2) / 2;
  e.line(fmt::format("{} = torch.conv2d({}, {}, None, [{}, {}], [{}, {}], [1, 1], {})", y, x, w,
                     stride, stride, padding, padding, o.groups()));
  const std::string z = e.var();
  e.line(fmt::format("{} = torch.batch_norm({}, {}, {}, {}, {}, self.training, 0.1, {}, False)", z,
                     y, e.param("bn_w", bn->weight), e.param("bn_b", bn->bias),
                     e.buffer("bn_mean", bn->running_mean), e.buffer("bn_var", bn->running_var),
                     bn->options.eps()));
  if (!relu) return z;
  const std::string r = e.var();
  e.line(fmt::format("{} = torch.relu({})", r, z));
  return r;
}

std::string emit_pool_classifier(ScriptEmitter& e, const std::string& x,
                                 const torch::nn::Linear& classifier) {
  const std::string pooled = e.var();
  e.line(fmt::format("{} = torch.mean({}, [2, 3])", pooled, x));
  const std::string logits = e.var();
  e.line(fmt::format("{} = torch.linear({}, {}, {})", logits, pooled,
                     e.param("fc_w", classifier->weight.detach().clone()),
                     e.param("fc_b", classifier->bias.detach().clone())));
  return logits;
}

}  // namespace sylva
