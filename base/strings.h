// Small string helpers every library may use. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
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

// User input fit to quote in a one-line message: control characters written
// as \n, \t, \r or \xNN, and text that would take more than `max` bytes so
// written cut to at most `max` (never inside a UTF-8 character) followed by
// "... (N bytes)", N being the input's whole length. Adds no quotes:
// "got '" + quote_cut(word) + "'".
std::string quote_cut(std::string_view text, size_t max = 60);

}  // namespace sylva
