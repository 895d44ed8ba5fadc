// The CliTest fixture shared by the end-to-end tests of the sylva binary
// (cli_test.cc, cli_resume_test.cc, cli_supernet_test.cc): each test gets a
// fresh directory with a database path in it, runs the binary as a user would
// and reads back what it printed and stored. Defined in cli_fixture.cc.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sylva::testing {

// The NAS-Bench-Macro table the table evaluator reads.
inline const std::string kTable =
    std::string(SYLVA_SOURCE_DIR) + "/../shared/benchmarks/nas-bench-macro-cifar10.csv";

// What one run of the binary did.
struct Output {
  int code = -1;
  std::string out, err;
};

// The whole content of a file; "" when it cannot be read.
std::string slurp(const std::string& path);

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs `sylva ARGS` through the shell and waits for it.
  Output run(const std::string& args);
  // The same behind `prefix` (e.g. "setpriv --reuid=65534 ... ").
  Output run_prefixed(const std::string& prefix, const std::string& args);

  // CSV of `sylva trials` as rows of column -> value.
  std::vector<std::map<std::string, std::string>> trials(const std::string& name);

  // Runs sylva with `args` in the background and kills it with SIGKILL once
  // experiment `name` has `complete` COMPLETE or PRUNED trials.
  // Returns the wait status; stderr goes to dir_/killed.err.
  int start_and_kill(const std::vector<std::string>& args, const std::string& name, size_t complete,
                     int signal = SIGKILL);

  // Runs sylva with `args` in the background and kills it with `signal` once
  // `ready()` holds (checked every 50 ms, for at most 20 s).
  int start_and_kill_when(const std::vector<std::string>& args, const std::function<bool()>& ready,
                          int signal = SIGKILL);

  std::string dir_, db_;
};

// One line on stderr, naming the problem; non-zero exit.
void expect_one_line_error(const Output& o, const std::string& fragment);

}  // namespace sylva::testing
