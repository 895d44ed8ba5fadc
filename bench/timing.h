// Wall-clock timing shared by the benchmarks.
#pragma once

#include <algorithm>
#include <chrono>

namespace sylva::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The fastest of `runs` calls of `f`, in seconds.
template <typename F>
double best_of(int runs, F&& f) {
  double best = 1e9;
  for (int i = 0; i < runs; ++i) {
    const auto t = Clock::now();
    f();
    best = std::min(best, seconds_since(t));
  }
  return best;
}

}  // namespace sylva::bench
