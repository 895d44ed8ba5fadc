// Shared by the export tests: run saved TorchScript files in Debian's
// python3-torch with torch.jit.load alone, and compare their outputs with
// what LibTorch computed.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "spaces/supernets/supernet.h"

namespace sylva {

// The input every case is run on: linspace(-1, 1) shaped [2, C, H, W].
torch::Tensor python_case_input(int64_t channels, int64_t height, int64_t width);

struct PythonCase {
  std::string path;  // a saved TorchScript module
  int64_t channels = 1, height = 1, width = 1;
  torch::Tensor expected;  // LibTorch's output on python_case_input()
  std::string label;
};

// Scripts configuration `decisions` of `net` (in eval mode), expects the
// script to compute what the supernet computes on python_case_input(1, 28,
// 28) and to hold the parameters the space counts analytically, and saves it
// as a case named by the configuration's key (file prefix `prefix`).
PythonCase supernet_case(Supernet& net, const std::vector<int>& decisions,
                         const std::string& prefix, size_t index);

// True when /usr/bin/python3 imports torch (scripts/install-deps.sh installs it).
bool python_has_torch();

// Runs every case in one python3 process and expects each output within
// `tolerance` (relative, absolute below 1) of its expected values.
void expect_python_outputs(const std::vector<PythonCase>& cases, double tolerance);

}  // namespace sylva
