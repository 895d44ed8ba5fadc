// NetworkImpl, the chain, cell and mlp builders (einspace's is in
// einspace/network.cc), cost, initialisation, weights and TorchScript export.
#include "spaces/einspace/network.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <new>
#include <sstream>
#include <utility>

#include "base/strings.h"
#include "spaces/builders.h"
#include "spaces/nets/blocks.h"
#include "spaces/nets/vector_blocks.h"

namespace sylva {

namespace {

using BlockPtr = std::shared_ptr<BlockImpl>;

std::string describe(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return "{" + s + "}";
}

// Prefixes a failed op with where it sits in the network.
StatusOr<BlockPtr> op_at(const std::string& where, const std::string& name, int64_t cin,
                         int64_t cout, int64_t stride) {
  auto op = make_op(name, cin, cout, stride);
  if (!op.is_ok()) return Status::invalid_argument(where + ": " + op.status().message());
  return op;
}

StatusOr<std::vector<BlockPtr>> build_chain(const BuildSpec& spec,
                                            const std::vector<std::string>& primitives,
                                            const InputShape& input) {
  const int n = static_cast<int>(primitives.size());
  if (spec.head_channels < 0) {
    return Status::invalid_argument(
        fmt::format("chain: head channels must be >= 0, got {}", spec.head_channels));
  }
  // Layer indices that halve the resolution and double the width.
  std::vector<bool> reduces(n, false);
  if (!spec.stages.empty()) {
    int sum = 0;
    for (int s : spec.stages) {
      if (s <= 0) {
        return Status::invalid_argument(fmt::format(
            "chain: every stage needs at least one layer, got stages {}", describe(spec.stages)));
      }
      if (sum < n) reduces[sum] = true;
      sum += s;
    }
    if (sum != n) {
      return Status::invalid_argument(
          fmt::format("chain: stages {} sum to {} layers but the architecture has {} primitives",
                      describe(spec.stages), sum, n));
    }
  } else if (n >= 3) {
    reduces[n / 3] = true;
    reduces[2 * n / 3] = true;
  }

  std::vector<BlockPtr> blocks;
  int64_t width = spec.stem_channels;
  blocks.push_back(std::make_shared<ConvBnImpl>(input.channels, width, 3, 1, Relu::kAfter));
  for (int i = 0; i < n; ++i) {
    const int64_t stride = reduces[i] ? 2 : 1;
    const int64_t cout = reduces[i] ? 2 * width : width;
    auto op = op_at(fmt::format("layer {}", i), primitives[i], width, cout, stride);
    if (!op.is_ok()) return op.status();
    blocks.push_back(std::move(op).value());
    width = cout;
  }
  if (spec.head_channels > 0) {
    blocks.push_back(std::make_shared<ConvBnImpl>(width, spec.head_channels, 1, 1, Relu::kAfter));
    width = spec.head_channels;
  }
  blocks.push_back(std::make_shared<ClassifierImpl>(width, input.classes));
  return blocks;
}

StatusOr<std::vector<BlockPtr>> build_cell(const BuildSpec& spec,
                                           const std::vector<std::string>& primitives,
                                           const InputShape& input) {
  if (primitives.size() != 6) {
    return Status::invalid_argument(fmt::format(
        "cell: a cell has 6 edges (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2), got {} primitives",
        primitives.size()));
  }
  if (spec.cells_per_stage <= 0) {
    return Status::invalid_argument(
        fmt::format("cell: cells per stage must be positive, got {}", spec.cells_per_stage));
  }
  std::vector<BlockPtr> blocks;
  int64_t width = spec.stem_channels;
  blocks.push_back(std::make_shared<ConvBnImpl>(input.channels, width, 3, 1, Relu::kNone));
  for (int stage = 0; stage < 3; ++stage) {
    if (stage > 0) {
      blocks.push_back(std::make_shared<ReductionImpl>(width, 2 * width));
      width *= 2;
    }
    for (int c = 0; c < spec.cells_per_stage; ++c) {
      std::vector<BlockPtr> edges;
      for (size_t k = 0; k < primitives.size(); ++k) {
        auto op = op_at(fmt::format("cell edge {}", k), primitives[k], width, width, 1);
        if (!op.is_ok()) return op.status();
        edges.push_back(std::move(op).value());
      }
      blocks.push_back(std::make_shared<CellImpl>(std::move(edges)));
    }
  }
  blocks.push_back(std::make_shared<BnReluImpl>(width));
  blocks.push_back(std::make_shared<ClassifierImpl>(width, input.classes));
  return blocks;
}

StatusOr<std::vector<BlockPtr>> build_mlp(const std::vector<std::string>& primitives,
                                          const InputShape& input) {
  std::vector<BlockPtr> blocks = {std::make_shared<FlattenImpl>()};
  int64_t features = input.channels * input.height * input.width;
  for (size_t i = 0; i < primitives.size(); ++i) {
    auto op = make_vector_op(primitives[i], features);
    if (!op.is_ok()) {
      return Status::invalid_argument(fmt::format("layer {}: {}", i, op.status().message()));
    }
    if (op.value().block) blocks.push_back(op.value().block);
    features = op.value().features;
  }
  blocks.push_back(std::make_shared<LinearImpl>(features, input.classes));
  return blocks;
}

}  // namespace

NetworkImpl::NetworkImpl(std::vector<std::shared_ptr<BlockImpl>> blocks, const InputShape& input)
    : blocks_(std::move(blocks)), input_(input) {
  for (size_t i = 0; i < blocks_.size(); ++i) register_module(std::to_string(i), blocks_[i]);
}

torch::Tensor NetworkImpl::forward(torch::Tensor x) {
  for (auto& b : blocks_) x = b->forward(x);
  return x;
}

std::string NetworkImpl::emit(ScriptEmitter& e, const std::string& x) {
  std::string y = x;
  for (auto& b : blocks_) y = b->emit(e, y);
  return y;
}

namespace {

StatusOr<std::shared_ptr<NetworkImpl>> build_unchecked(const BuildSpec& spec,
                                                       const Architecture& arch,
                                                       const InputShape& input) {
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0 || input.classes <= 0) {
    return Status::invalid_argument(
        fmt::format("input shape must be positive, got channels={} height={} width={} classes={}",
                    input.channels, input.height, input.width, input.classes));
  }
  const BuilderDef* builder = find_builder(spec.builder);
  if (!builder) {
    return Status::invalid_argument(
        fmt::format("unknown builder '{}' (known: {})", spec.builder, join(builder_names(), ", ")));
  }
  if (builder->kind == BuilderKind::kEinspace) {
    return build_einspace_network(arch.canonical, input);
  }
  // Only chain and cell have a stem.
  if (builder->kind != BuilderKind::kMlp && spec.stem_channels <= 0) {
    return Status::invalid_argument(
        fmt::format("stem channels must be positive, got {}", spec.stem_channels));
  }
  StatusOr<std::vector<BlockPtr>> blocks = std::vector<BlockPtr>{};
  switch (builder->kind) {
    case BuilderKind::kChain:
      blocks = build_chain(spec, arch.primitives, input);
      break;
    case BuilderKind::kCell:
      blocks = build_cell(spec, arch.primitives, input);
      break;
    case BuilderKind::kMlp:
      blocks = build_mlp(arch.primitives, input);
      break;
    case BuilderKind::kEinspace:
      break;
  }
  if (!blocks.is_ok()) return blocks.status();
  return std::make_shared<NetworkImpl>(std::move(blocks).value(), input);
}

// Whether `e` is an allocator's failure (LibTorch's CPU or CUDA allocator,
// or operator new), not a bug.
bool out_of_memory(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return true;
  const std::string what = e.what();
  return what.find("can't allocate memory") != std::string::npos ||
         what.find("out of memory") != std::string::npos;
}

int64_t parameter_count(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::string describe_input(const InputShape& in) {
  return fmt::format("input {},{},{} and {} classes", in.channels, in.height, in.width, in.classes);
}

// "N parameters (M GiB)" of a network whose parameters could not be
// allocated: only its classifier, (features + 1) x classes, grows with the
// classes, so a copy with one class gives the rest. "more parameters than
// fit" when that copy does not fit either.
std::string parameters_of_unbuilt(const BuildSpec& spec, const Architecture& arch,
                                  const InputShape& input) {
  InputShape one = input;
  one.classes = 1;
  try {
    auto small = build_unchecked(spec, arch, one);
    if (small.is_ok()) {
      const int64_t all = parameter_count(*small.value());
      const int64_t head = parameter_count(*small.value()->children().back());
      const double total = static_cast<double>(all - head) +
                           static_cast<double>(head) * static_cast<double>(input.classes);
      return fmt::format("{:.0f} parameters ({:.1f} GiB of float32)", total, total * 4 / (1 << 30));
    }
  } catch (const std::exception& e) {
    if (!out_of_memory(e)) throw;
  }
  return "more parameters than fit in memory";
}

}  // namespace

StatusOr<std::shared_ptr<NetworkImpl>> build_network(const BuildSpec& spec,
                                                     const Architecture& arch,
                                                     const InputShape& input) {
  try {
    return build_unchecked(spec, arch, input);
  } catch (const std::exception& e) {
    if (!out_of_memory(e)) throw;
  }
  return Status::failed_precondition(
      fmt::format("network '{}' does not fit in memory: {} for {}", quote_cut(arch.key, 200),
                  parameters_of_unbuilt(spec, arch, input), describe_input(input)));
}

Cost measure_cost(NetworkImpl& net) {
  Cost cost;
  for (const auto& p : net.parameters()) {
    if (p.requires_grad()) cost.params += p.numel();
  }
  const bool was_training = net.is_training();
  net.eval();
  {
    torch::NoGradGuard no_grad;
    MacCounter counter;
    const InputShape& in = net.input_shape();
    net.forward(torch::zeros({1, in.channels, in.height, in.width}));
    cost.flops = counter.macs();
  }
  net.train(was_training);
  return cost;
}

StatusOr<Cost> measure_cost(NetworkImpl& net, const std::string& name) {
  try {
    return measure_cost(net);
  } catch (const std::exception& e) {
    if (!out_of_memory(e)) throw;
  }
  return Status::failed_precondition(fmt::format(
      "network '{}' ({} parameters) does not fit in memory for {}: one input's forward pass "
      "cannot allocate its activations",
      quote_cut(name, 200), parameter_count(net), describe_input(net.input_shape())));
}

void init_weights(torch::nn::Module& module, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  module.apply([&](torch::nn::Module& m) {
    auto params = m.named_parameters(/*recurse=*/false);
    auto buffers = m.named_buffers(/*recurse=*/false);
    torch::Tensor* weight = params.find("weight");
    torch::Tensor* bias = params.find("bias");
    if (weight != nullptr && !weight->defined()) weight = nullptr;
    if (bias != nullptr && !bias->defined()) bias = nullptr;
    const bool is_norm = m.as<torch::nn::LayerNorm>() != nullptr ||
                         m.as<torch::nn::GroupNorm>() != nullptr ||
                         (weight != nullptr && weight->dim() == 1);
    if (is_norm) {
      if (weight != nullptr) weight->fill_(1);
      if (bias != nullptr) bias->zero_();
    } else if (weight != nullptr) {
      // He-uniform weights and PyTorch's default bias bound, both from fan-in.
      const double fan_in =
          static_cast<double>(weight->numel() / std::max<int64_t>(1, weight->size(0)));
      const double w = std::sqrt(6.0 / fan_in);
      weight->uniform_(-w, w, generator);
      if (bias != nullptr) {
        const double b = 1.0 / std::sqrt(fan_in);
        bias->uniform_(-b, b, generator);
      }
    }
    // Fresh batch-norm statistics, so the weights alone define the network.
    if (torch::Tensor* t = buffers.find("running_mean")) t->zero_();
    if (torch::Tensor* t = buffers.find("running_var")) t->fill_(1);
    if (torch::Tensor* t = buffers.find("num_batches_tracked")) t->zero_();
  });
  // After the weights, so that they do not depend on the dropout layers.
  module.apply([&](torch::nn::Module& m) {
    if (auto* dropout = dynamic_cast<DropoutImpl*>(&m)) dropout->reseed(draw_seed(generator));
  });
}

torch::jit::Module to_torchscript(NetworkImpl& net) {
  ScriptEmitter e;
  const std::string out = net.emit(e, "x");
  return e.finish("x", out);
}

std::string save_weights(torch::nn::Module& module) {
  torch::serialize::OutputArchive archive;
  module.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void load_weights(torch::nn::Module& module, const std::string& bytes) {
  torch::serialize::InputArchive archive;
  archive.load_from(bytes.data(), bytes.size());
  module.load(archive);
}

}  // namespace sylva
