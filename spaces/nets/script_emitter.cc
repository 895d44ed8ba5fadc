#include <cctype>

#include "spaces/nets/network.h"

namespace sylva {

std::string ScriptEmitter::unique(const std::string& hint) {
  // Attribute names must be identifiers without dots; the index keeps them unique.
  std::string name;
  for (char c : hint) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) name = "t_" + name;
  return name + "_" + std::to_string(tensors_.size());
}

std::string ScriptEmitter::param(const std::string& hint, const torch::Tensor& value) {
  std::string name = unique(hint);
  tensors_.push_back({name, value, true});
  return "self." + name;
}

std::string ScriptEmitter::buffer(const std::string& hint, const torch::Tensor& value) {
  std::string name = unique(hint);
  tensors_.push_back({name, value, false});
  return "self." + name;
}

std::string ScriptEmitter::var() { return "v" + std::to_string(next_var_++); }

void ScriptEmitter::line(const std::string& statement) { lines_.push_back(statement); }

torch::jit::Module ScriptEmitter::finish(const std::string& input, const std::string& output) {
  torch::jit::Module module(c10::QualifiedName("__torch__.sylva.Network"));
  for (const auto& t : tensors_) {
    // Copies, so the exported module does not change when the network trains on.
    torch::Tensor value = t.value.detach().clone();
    if (t.is_parameter) {
      module.register_parameter(t.name, value.set_requires_grad(true), /*is_buffer=*/false);
    } else {
      module.register_buffer(t.name, value);
    }
  }
  // What nn.Module.train()/eval() switch (batch norm reads it); saved in eval mode.
  module.register_attribute("training", c10::BoolType::get(), false);
  std::string source = "def forward(self, " + input + "):\n";
  for (const auto& l : lines_) source += "    " + l + "\n";
  source += "    return " + output + "\n";
  module.define(source);
  return module;
}

}  // namespace sylva
