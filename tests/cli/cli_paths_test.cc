// Experiments made with relative paths (issue list "Nothing slips through",
// 2): the table is stored as an absolute path, so resume from another
// directory finds it; a table moved away or changed since is one line that
// says which and what to do.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "experiments/store.h"
#include "tests/cli/cli_fixture.h"

namespace sylva::testing {
namespace {

namespace fs = std::filesystem;

TEST_F(CliTest, ARelativeTableIsStoredAbsoluteAndAChangeIsCaught) {
  fs::create_directories(dir_ + "/work/tables");
  fs::create_directories(dir_ + "/elsewhere");
  fs::copy_file(kTable, dir_ + "/work/tables/macro.csv");
  const std::string in_work = "cd " + dir_ + "/work && ";
  Output made = run_prefixed(in_work,
                             "search --name e --db ../s.db --space nas-bench-macro "
                             "--evaluator table --table tables/macro.csv "
                             "--metric test_acc_mean --trials 5 --seed 1");
  ASSERT_EQ(made.code, 0) << made.err;
  auto store = experiments::Store::open(db_);
  ASSERT_TRUE(store.is_ok());
  const auto config =
      nlohmann::json::parse(store.value()->find_experiment("e").value().config_json);
  EXPECT_EQ(config["options"]["table"], dir_ + "/work/tables/macro.csv");
  EXPECT_EQ(config["files"]["table"].get<std::string>().rfind(
                std::to_string(fs::file_size(kTable)) + ":", 0),
            0u)
      << config.dump();
  store.value().reset();
  // Resumed from another directory: the stored path serves.
  Output resumed =
      run_prefixed("cd " + dir_ + "/elsewhere && ", "resume --name e --db ../s.db --trials 8");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(trials("e").size(), 8u);
  // Changed: the first bytes differ.
  {
    std::fstream f(dir_ + "/work/tables/macro.csv", std::ios::in | std::ios::out);
    f.seekp(0);
    f.put('K');
  }
  Output changed = run("resume --name e --db " + db_ + " --trials 9");
  expect_one_line_error(changed, "resume: --table '" + dir_ +
                                     "/work/tables/macro.csv' changed since experiment 'e' was "
                                     "made");
  EXPECT_EQ(changed.code, 1);
  // Gone.
  fs::remove(dir_ + "/work/tables/macro.csv");
  Output gone = run("worker --name e --db " + db_);
  expect_one_line_error(gone, "worker: --table '" + dir_ +
                                  "/work/tables/macro.csv' that experiment 'e' was made with is "
                                  "gone (moved or deleted); put it back there to continue");
  EXPECT_EQ(gone.code, 2);
  EXPECT_EQ(trials("e").size(), 8u);
}

}  // namespace
}  // namespace sylva::testing
