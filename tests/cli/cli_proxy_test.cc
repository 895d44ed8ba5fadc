// Zero-cost proxies from the command line: `--evaluator proxy` records the
// proxy as the trial's value, an unknown proxy name is a usage error (exit
// 2, one line naming the option and the value), and `--proxy-filter` with
// the NAS-Bench-Macro table screens proposals by the table's params column
// (no network), refusing proxies that need one and evaluators without
// scorers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "tests/cli/cli_fixture.h"

namespace {

using sylva::testing::CliTest;
using sylva::testing::expect_one_line_error;
using sylva::testing::kTable;
using sylva::testing::Output;

class CliProxyTest : public CliTest {
 protected:
  Output table_search(const std::string& name, const std::string& extra) {
    return run("search --name " + name + " --db " + db_ +
               " --space nas-bench-macro --evaluator table --table " + kTable +
               " --metric test_acc_mean --trials 12 --seed 4 --workers 1" + extra);
  }
  double mean_params(const std::string& name) {
    double sum = 0;
    const auto rows = trials(name);
    for (const auto& row : rows) sum += std::atof(row.at("params").c_str());
    return rows.empty() ? 0 : sum / static_cast<double>(rows.size());
  }
};

TEST_F(CliProxyTest, AnUnknownProxyIsAUsageError) {
  Output o = run("search --name p --db " + db_ +
                 " --space nas-bench-macro --evaluator proxy --proxy synflw --trials 1");
  expect_one_line_error(o,
                        "--proxy 'synflw' is unknown (proxies: synflow, naswot, snip, "
                        "grad_norm, jacob_cov, fisher, params, flops)");
  EXPECT_EQ(o.code, 2);
}

TEST_F(CliProxyTest, TheProxyIsTheTrialsValue) {
  Output o = run("search --name p --db " + db_ +
                 " --space nas-bench-macro --evaluator proxy --proxy params,naswot --trials 2 "
                 "--seed 2 --proxy-batch-size 8");
  ASSERT_EQ(o.code, 0) << o.err;
  const auto rows = trials("p");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("state"), "COMPLETE");
    EXPECT_GT(std::atof(row.at("params").c_str()), 1e5);
    EXPECT_GT(std::atof(row.at("naswot").c_str()), 0);
  }
}

TEST_F(CliProxyTest, TheTableFilterPicksByTheParamsColumn) {
  ASSERT_EQ(table_search("plain", "").code, 0);
  Output o = table_search("filtered", " --proxy-filter params --proxy-pool 8");
  ASSERT_EQ(o.code, 0) << o.err;
  ASSERT_EQ(trials("filtered").size(), 12u);
  // The largest of eight draws against single draws.
  EXPECT_GT(mean_params("filtered"), 1.3 * mean_params("plain"));
}

TEST_F(CliProxyTest, FiltersThatCannotServeAreRefused) {
  Output o = table_search("a", " --proxy-filter synflow");
  expect_one_line_error(o,
                        "--proxy-filter synflow needs a network; with --evaluator table only "
                        "the table's cost columns serve (params, flops)");
  EXPECT_EQ(o.code, 2);
  o = table_search("b", " --proxy-filter parms");
  expect_one_line_error(o, "--proxy-filter 'parms' is unknown (proxies: synflow,");
  EXPECT_EQ(o.code, 2);
  o = run("search --name c --db " + db_ +
          " --space nas-bench-macro --evaluator stub --trials 2 --proxy-filter params");
  expect_one_line_error(o,
                        "--proxy-filter applies to --evaluator command, --evaluator table and "
                        "--evaluator train, got --evaluator stub");
  EXPECT_EQ(o.code, 2);
}

}  // namespace
