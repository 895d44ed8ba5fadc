// Shared by the export tests: run saved TorchScript files in Debian's
// python3-torch with torch.jit.load alone, and compare their outputs with
// what LibTorch computed.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace sylva {

// The input every case is run on: linspace(-1, 1) shaped [2, C, H, W].
torch::Tensor python_case_input(int64_t channels, int64_t height, int64_t width);

struct PythonCase {
  std::string path;  // a saved TorchScript module
  int64_t channels = 1, height = 1, width = 1;
  torch::Tensor expected;  // LibTorch's output on python_case_input()
  std::string label;
};

// True when /usr/bin/python3 imports torch (scripts/install-deps.sh installs it).
bool python_has_torch();

// Runs every case in one python3 process and expects each output within
// `tolerance` (relative, absolute below 1) of its expected values.
void expect_python_outputs(const std::vector<PythonCase>& cases, double tolerance);

}  // namespace sylva
