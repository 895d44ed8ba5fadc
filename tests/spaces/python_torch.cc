#include "tests/spaces/python_torch.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace sylva {
namespace {

constexpr const char* kScript = R"(
import sys
import torch
for spec in sys.argv[1:]:
    path, c, h, w = spec.split(',')
    c, h, w = int(c), int(h), int(w)
    model = torch.jit.load(path)
    x = torch.linspace(-1, 1, 2 * c * h * w).reshape(2, c, h, w)
    with torch.no_grad():
        y = model(x)
    print(' '.join(repr(v) for v in y.flatten().tolist()))
)";

}  // namespace

torch::Tensor python_case_input(int64_t channels, int64_t height, int64_t width) {
  return torch::linspace(-1, 1, 2 * channels * height * width)
      .reshape({2, channels, height, width});
}

bool python_has_torch() {
  return std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0;
}

void expect_python_outputs(const std::vector<PythonCase>& cases, double tolerance) {
  ASSERT_TRUE(python_has_torch()) << "/usr/bin/python3 cannot import torch (python3-torch)";
  const std::string script =
      ::testing::TempDir() + "run_exported_" + std::to_string(getpid()) + ".py";
  std::ofstream(script) << kScript;
  std::string command = "/usr/bin/python3 " + script;
  for (const auto& c : cases) {
    command += " " + c.path + "," + std::to_string(c.channels) + "," + std::to_string(c.height) +
               "," + std::to_string(c.width);
  }
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << output;
  std::remove(script.c_str());

  std::istringstream lines(output);
  for (const auto& c : cases) {
    std::string line;
    ASSERT_TRUE(std::getline(lines, line)) << output;
    std::istringstream values(line);
    const torch::Tensor expected = c.expected.flatten();
    int64_t i = 0;
    for (double v; values >> v; ++i) {
      ASSERT_LT(i, expected.numel()) << c.label;
      const double e = expected[i].item<double>();
      EXPECT_NEAR(v, e, tolerance * std::max(1.0, std::abs(e))) << c.label << " output " << i;
    }
    EXPECT_EQ(i, expected.numel()) << c.label << ": " << line;
  }
}

PythonCase supernet_case(Supernet& net, const std::vector<int>& decisions,
                         const std::string& prefix, size_t index) {
  net.activate(decisions);
  const torch::Tensor x = python_case_input(1, 28, 28);
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = net.forward(x);
  torch::jit::Module script = net.script(decisions);
  EXPECT_LT((script.forward({x}).toTensor() - expected).abs().max().item<double>(), 1e-5);
  int64_t params = 0;
  for (const auto& p : script.parameters()) params += p.numel();
  EXPECT_EQ(params, static_cast<int64_t>(net.space().known_metrics(decisions).at("params")));
  const std::string path = ::testing::TempDir() + prefix + "_" + std::to_string(getpid()) + "_" +
                           std::to_string(index) + ".pt";
  script.save(path);
  return {path, 1, 28, 28, expected, net.space().make(decisions).value().key};
}

}  // namespace sylva
