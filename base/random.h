// Seeds and random numbers shared by every layer: a trial's seed is
// mix_seed(experiment seed, trial number), so any trial can be re-run alone.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace sylva {

// splitmix64 of the pair; stable across platforms.
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

using Rng = std::mt19937_64;

// Uniform double in [0, 1) from 53 random bits (portable, unlike
// std::uniform_real_distribution whose algorithm is implementation-defined).
inline double uniform01(Rng& rng) { return (rng() >> 11) * 0x1.0p-53; }

// Index drawn with probability proportional to weights (need not sum to 1).
inline size_t sample_index(Rng& rng, const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double u = uniform01(rng) * total;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (u < weights[i]) return i;
    u -= weights[i];
  }
  return weights.size() - 1;
}

}  // namespace sylva
