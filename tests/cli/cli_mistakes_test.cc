// Command lines with mistakes (issue list "Nothing slips through", 4): each is
// one line on stderr naming the problem and exit 2, before anything is made.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/cli/cli_fixture.h"

namespace sylva::testing {
namespace {

TEST_F(CliTest, MistakesOnTheCommandLineAreOneLineAndExit2) {
  ASSERT_EQ(run("search --name e --db " + db_ + " --evaluator stub --trials 2").code, 0);
  Output extra = run("trials --name e --db " + db_ + " extra");
  expect_one_line_error(extra,
                        "trials: unexpected argument 'extra' (every value follows its --option)");
  EXPECT_EQ(extra.code, 2);
  Output flag = run("trials --name --db " + db_);
  expect_one_line_error(flag,
                        "trials: --name needs a value, but the next word is the option '--db'");
  EXPECT_EQ(flag.code, 2);
  Output unknown = run("trials --name e --db " + db_ + " --nmae e");
  expect_one_line_error(unknown, "trials: unrecognised option '--nmae'");
  EXPECT_EQ(unknown.code, 2);
  const std::string base = "search --name d --db " + db_ + " --evaluator stub ";
  for (const auto& [option, message] : std::vector<std::pair<std::string, std::string>>{
           {"--config " + dir_, "--config: '" + dir_ + "' is a directory, not an INI file"},
           {"--space " + dir_, "--space '" + dir_ + "' is a directory, not a grammar file"},
           {"--init " + dir_,
            "--init: '" + dir_ + "' is a directory, not a file of architectures"}}) {
    Output o = run(base + option);
    expect_one_line_error(o, message);
    EXPECT_EQ(o.code, 2) << option;
  }
  // Nothing was made by the refused searches; the good forms still work.
  EXPECT_EQ(run("status --db " + db_).out.find(" d "), std::string::npos);
  Output fine = run("trials --name=e --db " + db_ + " -f csv");
  EXPECT_EQ(fine.code, 0) << fine.err;
  EXPECT_EQ(fine.out.find("number,state,key"), 0u);
}

}  // namespace
}  // namespace sylva::testing
