// Fuzz tests of what users hand in as files (issue list "Nothing slips
// through"): 2,000 mutated grammars and 1,000 mutated --init files, seeded. Each
// is accepted, or refused with a Status whose message is one line of
// readable length; none crashes, hangs or throws. The binary's side (exit
// codes, one stderr line, nothing left behind) is in tests/cli/cli_fuzz_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "search/strategy.h"
#include "spaces/space.h"
#include "tests/search/fuzz_inputs.h"

namespace sylva::testing {
namespace {

void expect_one_readable_line(const Status& s, const std::string& input) {
  const std::string m = s.message();
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_LT(m.size(), 600u) << m;
  EXPECT_FALSE(m.empty()) << input;
}

TEST(InputFuzz, MutatedGrammarsAreAcceptedOrRefusedInOneLine) {
  char dir_template[] = "/tmp/sylva-fuzz-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  std::mt19937 rng(1402);
  int accepted = 0, refused = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string text = mutate(kFuzzGrammar, rng);
    const std::string path = dir + "/g" + std::to_string(i) + ".txt";
    std::ofstream(path, std::ios::binary) << text;
    auto space = make_space(path);
    if (!space.is_ok()) {
      ++refused;
      expect_one_readable_line(space.status(), text);
      continue;
    }
    ++accepted;
    // What is accepted samples and parses back.
    std::mt19937_64 sampler(i);
    const Architecture arch = search::sample_by_priors(*space.value(), sampler);
    auto again = space.value()->parse(arch.canonical);
    ASSERT_TRUE(again.is_ok()) << text << "\n" << again.status().message();
    EXPECT_EQ(again.value().key, arch.key);
  }
  // Both sides are exercised: mutations that keep the grammar valid (a
  // comment, blanks) and ones that break it.
  EXPECT_GT(accepted, 20);
  EXPECT_GT(refused, 1000);
  std::system(("rm -rf " + dir).c_str());
}

TEST(InputFuzz, MutatedInitFilesAreAcceptedOrRefusedInOneLine) {
  auto space = make_space("nas-bench-macro");
  ASSERT_TRUE(space.is_ok());
  std::mt19937 rng(1403);
  int accepted = 0, refused = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string text = mutate(kFuzzInit, rng);
    std::vector<std::string> lines;
    size_t at = 0;
    for (size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
      lines.push_back(text.substr(at, nl - at));
    }
    if (at < text.size()) lines.push_back(text.substr(at));
    auto parsed = search::parse_init(*space.value(), lines, "seeds.txt");
    if (parsed.is_ok()) {
      ++accepted;
      continue;
    }
    ++refused;
    expect_one_readable_line(parsed.status(), text);
    EXPECT_EQ(parsed.status().message().rfind("seeds.txt:", 0), 0u) << parsed.status().message();
  }
  EXPECT_GT(accepted, 20);
  EXPECT_GT(refused, 300);
}

}  // namespace
}  // namespace sylva::testing
