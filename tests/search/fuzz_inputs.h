// Mutated inputs for the fuzz tests (tests/search/input_fuzz_test.cc and
// tests/cli/cli_fuzz_test.cc): a seeded mutator of text files that makes the
// mistakes of hands and tools (bytes dropped, doubled or replaced, lines
// swapped, directives and tokens out of place, CRLF, a BOM, NULs, long runs).
#pragma once

#include <random>
#include <string>
#include <vector>

namespace sylva::testing {

// A small grammar with every construct the mutations can break.
inline const char* const kFuzzGrammar = R"(%builder chain
%stem 8
%stages 1 1
# a comment
net -> layer layer
layer -> "conv3x3" [0.5] | "mbconv_e3_k3" | "identity"
)";

// An --init file of the nas-bench-macro space.
inline const char* const kFuzzInit =
    "# seeds\n"
    "mbconv_e3_k3/identity/mbconv_e6_k5/mbconv_e3_k3/mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/"
    "mbconv_e3_k3\n"
    "\n"
    "identity/identity/mbconv_e3_k3/mbconv_e3_k3/mbconv_e3_k3/mbconv_e3_k3/mbconv_e6_k5/"
    "mbconv_e6_k5\n";

inline std::string mutate(const std::string& text, std::mt19937& rng) {
  static const std::vector<std::string> kPieces = {"->",
                                                   "|",
                                                   "\"",
                                                   "[",
                                                   "]",
                                                   "%stages 1 1 1",
                                                   "%stem 100000",
                                                   "%builder nope",
                                                   "\r\n",
                                                   "\xEF\xBB\xBF",
                                                   std::string(1, '\0'),
                                                   "\t",
                                                   " ",
                                                   "#",
                                                   "[0.9]",
                                                   "[-1]",
                                                   "[1e308]",
                                                   "layer",
                                                   "net",
                                                   "\"conv3x3\"",
                                                   "%max-depth 0",
                                                   "%cells 99999",
                                                   "\xFF\xFE",
                                                   "/",
                                                   std::string(5000, 'x'),
                                                   "mbconv_e3_k3",
                                                   "\n\n"};
  std::string s = text;
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 6) {
      case 0:  // drop a run of bytes
        if (!s.empty()) s.erase(std::min(at, s.size() - 1), 1 + rng() % 8);
        break;
      case 1:  // a random byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), static_cast<char>(rng() & 0xff));
        break;
      case 2:  // a token out of place
        s.insert(at, kPieces[rng() % kPieces.size()]);
        break;
      case 3:  // a line doubled
      {
        const size_t begin = s.rfind('\n', at == 0 ? 0 : at - 1);
        const size_t from = begin == std::string::npos ? 0 : begin + 1;
        const size_t end = s.find('\n', from);
        s.insert(from,
                 s.substr(from, end == std::string::npos ? std::string::npos : end - from + 1));
        break;
      }
      case 4:  // a byte replaced
        if (!s.empty()) s[std::min(at, s.size() - 1)] = static_cast<char>(rng() & 0xff);
        break;
      default:  // cut short
        s.resize(at);
        break;
    }
  }
  return s;
}

}  // namespace sylva::testing
