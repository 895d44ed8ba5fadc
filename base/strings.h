// Small string helpers every library may use. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sylva {

// Joins with a separator.
std::string join(const std::vector<std::string>& parts, const std::string& sep);

// "a, b or c" (`word` "or"; "and" for lists of requirements).
std::string join_words(const std::vector<std::string>& parts, const std::string& word = "or");

// FNV-1a, 64 bits: stable across platforms and runs.
uint64_t fnv1a64(const std::string& text);

// 16 lowercase hex digits.
std::string hash_hex(uint64_t hash);

}  // namespace sylva
