// `sylva sample` prints each architecture as it is drawn: the first rows of a
// run of a million samples arrive while it is still running, and equal the
// whole output of a short run with the same seed; every format gives one row
// per sample, and a table longer than the rows it aligns on keeps its layout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/cli_fixture.h"
#include "tests/cli/small_grammar.h"

namespace {

using sylva::testing::CliTest;
using sylva::testing::kSmallGrammar;
using sylva::testing::Output;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class CliSampleTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    grammar_ = dir_ + "/small.grammar";
    std::ofstream(grammar_) << kSmallGrammar;
  }

  std::string args(int n, const std::string& format) const {
    return "sample --space " + grammar_ + " -n " + std::to_string(n) +
           " --seed 5 --input-shape 3,8,8 -f " + format;
  }

  std::string grammar_;
};

TEST_F(CliSampleTest, RowsArriveWhileAMillionSamplesAreStillBeingDrawn) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    const std::string a = args(1000000, "csv");
    execl("/bin/sh", "sh", "-c", ("exec " + std::string(SYLVA_BINARY) + " " + a).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  // Read the header and three rows; nothing would come for hours if the
  // output waited for the end. The poll timeout only guards against a hang.
  std::string got;
  while (std::count(got.begin(), got.end(), '\n') < 4) {
    pollfd p{out[0], POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 120000), 1) << "no output within 120 s; got: " << got;
    char buf[4096];
    const ssize_t n = read(out[0], buf, sizeof(buf));
    ASSERT_GT(n, 0) << "output ended early: " << got;
    got.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0) << "the million-sample run had already ended";
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  close(out[0]);

  std::vector<std::string> streamed = lines_of(got);
  streamed.resize(4);
  Output whole = run(args(3, "csv"));
  ASSERT_EQ(whole.code, 0) << whole.err;
  EXPECT_EQ(streamed, lines_of(whole.out));
  EXPECT_EQ(streamed[0], "key,canonical,params,flops");
}

TEST_F(CliSampleTest, EveryFormatGivesOneRowPerSample) {
  Output csv = run(args(7, "csv"));
  ASSERT_EQ(csv.code, 0) << csv.err;
  const std::vector<std::string> rows = lines_of(csv.out);
  ASSERT_EQ(rows.size(), 8u);

  Output json = run(args(7, "json"));
  ASSERT_EQ(json.code, 0) << json.err;
  const auto parsed = nlohmann::json::parse(json.out);
  ASSERT_EQ(parsed.size(), 7u);
  for (size_t i = 0; i < parsed.size(); ++i) {
    const auto& r = parsed[i];
    EXPECT_EQ(rows[i + 1], r["key"].get<std::string>() + "," + r["canonical"].get<std::string>() +
                               "," + std::to_string(r["params"].get<int64_t>()) + "," +
                               std::to_string(r["flops"].get<int64_t>()));
  }
  // The same two-space layout render() gives: key padded to its widest.
  Output table = run(args(7, "table"));
  ASSERT_EQ(table.code, 0) << table.err;
  const std::vector<std::string> lines = lines_of(table.out);
  ASSERT_EQ(lines.size(), 8u);
  const size_t canonical = lines[0].find("canonical");
  ASSERT_NE(canonical, std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].find('['), canonical) << lines[i];
    EXPECT_EQ(lines[i].substr(0, rows[i].find(',')), rows[i].substr(0, rows[i].find(',')));
  }
}

TEST_F(CliSampleTest, ATableLongerThanItsAlignedRowsKeepsItsColumns) {
  // 130 rows: the first 100 set the widths, the rest are printed as drawn.
  Output table = run(args(130, "table"));
  ASSERT_EQ(table.code, 0) << table.err;
  const std::vector<std::string> lines = lines_of(table.out);
  ASSERT_EQ(lines.size(), 131u);
  const size_t canonical = lines[0].find("canonical");
  const size_t params = lines[0].find("params");
  for (size_t i = 1; i < lines.size(); ++i) {
    // Keys of two layers fit the widths of the first 100 rows.
    EXPECT_EQ(lines[i].find('['), canonical) << i << ": " << lines[i];
    EXPECT_NE(lines[i].find_first_of("0123456789", params), std::string::npos) << lines[i];
    EXPECT_EQ(lines[i].find_first_of("0123456789", lines[i].rfind(']')), params) << lines[i];
  }
  Output csv = run(args(130, "csv"));
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(lines_of(csv.out).size(), 131u);
}

}  // namespace
