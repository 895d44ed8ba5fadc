// Sampling and mutation throughput of the einspace grammar: valid
// architectures per second, and the median, p99 and maximum time and node
// count per sample, at P(M -> C) = 0.32 and 0.5, for a 1x28x28 and a
// 3x64x64 input; how often a budget shaped a sample; valid children per
// second from each seed. Prints figures; asserts nothing.
//
//   einspace_sampling [SAMPLES] [SEEDS_DIR] [all|sampling|mutation] [P(M -> C)]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "search/variation.h"
#include "spaces/grammar/grammar.h"
#include "spaces/grammar/typed_grammar_space.h"
#include "spaces/space.h"

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

void mutation(const std::string& seeds_dir, const std::string& input, int count) {
  auto space = sylva::space_from_source("einspace", einspace_source(0.32, input)).value();
  auto& typed = dynamic_cast<const sylva::TypedGrammarSpace&>(*space);
  for (const char* name : {"resnet18", "wrn16-4", "vit", "mlp-mixer"}) {
    std::ifstream in(seeds_dir + "/" + name + ".arch");
    std::stringstream text;
    text << in.rdbuf();
    const auto t0 = Clock::now();
    auto parent = space->parse(text.str());
    const double parse_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!parent.is_ok()) {
      fmt::print("{}: {}\n", name, parent.status().message());
      continue;
    }
    sylva::Rng rng(1);
    int valid = 0, differ = 0;
    const int64_t steps0 = typed.stats().witness_steps, exhausted0 = typed.stats().exhausted;
    std::vector<double> ms;
    const auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
      const auto m0 = Clock::now();
      auto child = sylva::search::mutate(*space, parent.value(), rng);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - m0).count());
      if (!child) continue;
      valid += typed.size(child->decisions).is_ok();
      differ += child->hash != parent.value().hash;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    fmt::print(
        "mutation  {:<10} input {:<8} parse {:.2f} ms  {} children: {} valid, {} differ  "
        "{:.0f} children/s  median {:.2f} ms  max {:.1f} ms  witness steps/child {:.0f}, "
        "exhausted {}\n",
        name, input, parse_ms, count, valid, differ, count / secs, percentile(ms, 0.5),
        *std::max_element(ms.begin(), ms.end()),
        static_cast<double>(typed.stats().witness_steps - steps0) / count,
        static_cast<int64_t>(typed.stats().exhausted - exhausted0));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 2000;
  const std::string seeds = argc > 2 ? argv[2] : "spaces/grammar/seeds";
  const std::string what = argc > 3 ? argv[3] : "all";
  const double only = argc > 4 ? std::atof(argv[4]) : 0;
  if (what != "mutation") {
    for (double p : {0.32, 0.5}) {
      if (only > 0 && p != only) continue;
      for (const char* input : {"1 28 28", "3 64 64"}) sampling(p, input, count);
    }
  }
  if (what == "sampling") return 0;
  for (const char* input : {"1 28 28", "3 64 64"}) mutation(seeds, input, std::max(1, count / 10));
  return 0;
}
