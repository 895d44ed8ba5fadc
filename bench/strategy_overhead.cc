// Strategy overhead: microseconds of one ask() + tell() on a 20-decision space
// (20 layers of 4 ops, 4^20 architectures), measured over the first N trials
// of a search (Google Benchmark; N = the benchmark's range). No evaluator and
// no database: the strategy alone.
#include <benchmark/benchmark.h>

#include "base/random.h"
#include "search/strategy.h"

namespace {

using namespace sylva;

const Space& space20() {
  static const auto space = [] {
    std::string text = "net ->";
    for (int i = 0; i < 20; ++i) text += " layer";
    text += "\nlayer -> \"conv3x3\" | \"conv1x1\" | \"skip\" | \"dwsep_conv_3x3\"\n";
    return space_from_source("twenty", text).value();
  }();
  return *space;
}

void ask_tell(benchmark::State& state, const std::string& strategy) {
  const int64_t trials = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    search::StrategyContext ctx;
    ctx.space = &space20();
    ctx.seed = 1;
    auto s = search::make_strategy(strategy, ctx).value();
    state.ResumeTiming();
    for (int64_t n = 0; n < trials; ++n) {
      auto arch = s->ask(n);
      search::Observation obs;
      obs.number = n;
      obs.arch = *arch;
      obs.ok = true;
      obs.value = static_cast<double>(mix_seed(arch->hash, 1) >> 11) * 0x1.0p-53;
      s->tell(obs);
    }
  }
  // items_per_second: trials per second; 1e6 / it is microseconds per trial.
  state.SetItemsProcessed(state.iterations() * trials);
}

void BM_Random(benchmark::State& s) { ask_tell(s, "random"); }
void BM_Evolution(benchmark::State& s) { ask_tell(s, "evolution"); }
void BM_Mcts(benchmark::State& s) { ask_tell(s, "mcts"); }
void BM_Tpe(benchmark::State& s) { ask_tell(s, "tpe"); }

BENCHMARK(BM_Random)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Evolution)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Mcts)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tpe)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
