// Builds LibTorch networks from architectures, measures their cost, and turns
// them into TorchScript modules with a generated forward.
//
// Every op is a Block: a torch module that runs (`forward`) and can write its
// own forward as TorchScript source (`emit`) while registering its tensors on
// a ScriptEmitter. A Network is a stem, the architecture's blocks and a
// classifier head; `to_torchscript` gives a torch::jit::Module that
// `torch.jit.load` in Python runs with no Sylva code. Not thread-safe: one
// network per thread.
//
// Implemented in ops.cc (make_op, make_vector_op), blocks.cc and
// vector_blocks.cc (the blocks ops are made of), network.cc (builders, cost,
// weights, export), einspace/network.cc (the einspace builder) and
// script_emitter.cc.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "spaces/space.h"

namespace sylva {

// Input of the network, without the batch dimension, and the class count.
struct InputShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t classes = 10;
};

// Collects the tensors and the TorchScript lines of a generated forward.
class ScriptEmitter {
 public:
  // Registers a parameter/buffer under a unique name derived from `hint` and
  // returns the expression that reads it ("self.<name>").
  std::string param(const std::string& hint, const torch::Tensor& value);
  std::string buffer(const std::string& hint, const torch::Tensor& value);
  // A fresh local variable name.
  std::string var();
  // Appends one statement to forward's body.
  void line(const std::string& statement);
  // Builds the module: `def forward(self, <input>): <lines>; return <output>`.
  torch::jit::Module finish(const std::string& input, const std::string& output);

 private:
  std::string unique(const std::string& hint);
  struct Tensor {
    std::string name;
    torch::Tensor value;
    bool is_parameter;
  };
  std::vector<Tensor> tensors_;
  std::vector<std::string> lines_;
  int next_var_ = 0;
};

class BlockImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Writes this block's forward applied to variable `x`; returns the output
  // variable. Must compute exactly what forward() computes in eval mode.
  virtual std::string emit(ScriptEmitter& e, const std::string& x) = 0;
};

// The op registered as `name`, mapping [cin, H, W] to [cout, H/stride, W/stride];
// a vector op (op_registry.h) is an error.
StatusOr<std::shared_ptr<BlockImpl>> make_op(const std::string& name, int64_t cin, int64_t cout,
                                             int64_t stride);

// A vector op on [B, features]: its block (nullptr for the identity) and the
// features it outputs.
struct VectorOp {
  std::shared_ptr<BlockImpl> block;
  int64_t features = 0;
};
// The vector op registered as `name` on `features` inputs; an image op is an error.
StatusOr<VectorOp> make_vector_op(const std::string& name, int64_t features);

class NetworkImpl : public torch::nn::Module {
 public:
  NetworkImpl(std::vector<std::shared_ptr<BlockImpl>> blocks, const InputShape& input);
  torch::Tensor forward(torch::Tensor x);  // [B,C,H,W] -> logits [B, classes]
  const InputShape& input_shape() const { return input_; }
  std::string emit(ScriptEmitter& e, const std::string& x);

 private:
  std::vector<std::shared_ptr<BlockImpl>> blocks_;
  InputShape input_;
};

// Builds the network of an architecture under a build spec: "chain", "cell"
// and "mlp" read its leaf ops (`primitives`), "einspace" its canonical
// bracket form (einspace_network.h, with fusion on). "mlp" flattens the input
// to [B, C*H*W] (tabular data arrives as [B, F, 1, 1]), applies the vector
// ops in order, each on the width the ops before it left (a norm before any
// linear normalises the input features), then a Linear to the classes. A
// network whose parameters do not fit in memory is a failed_precondition
// naming the architecture's key, its parameter count and the input shape.
StatusOr<std::shared_ptr<NetworkImpl>> build_network(const BuildSpec& spec,
                                                     const Architecture& arch,
                                                     const InputShape& input);

struct Cost {
  int64_t params = 0;  // trainable parameters
  int64_t flops = 0;   // multiply-accumulates of conv and linear layers, batch 1
};

// Counts parameters, and MACs with one batch-1 forward in eval mode.
Cost measure_cost(NetworkImpl& net);
// The same, with a forward pass that cannot allocate its activations (an
// input too large for the memory) a failed_precondition naming the network
// (`name`, e.g. its key), its parameter count and the input shape.
StatusOr<Cost> measure_cost(NetworkImpl& net, const std::string& name);

// Re-initialises every parameter from `generator` (conv/linear: He-uniform,
// batch-norm: ones/zeros), then reseeds every dropout's own generator from
// it, so that a trial's weights and dropout masks depend on its seed only,
// not on the process-wide generator shared by other workers (and the weights
// not on whether the network has dropout).
void init_weights(torch::nn::Module& module, at::Generator& generator);

// TorchScript module with the network's current weights (eval-mode forward).
torch::jit::Module to_torchscript(NetworkImpl& net);

// Weights to and from bytes (torch::serialize archives), for artifacts.
std::string save_weights(torch::nn::Module& module);
void load_weights(torch::nn::Module& module, const std::string& bytes);

}  // namespace sylva
