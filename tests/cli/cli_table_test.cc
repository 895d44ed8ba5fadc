// Tables as a user writes them: text columns next to the metric are read
// and left out of the metrics, and a table that cannot serve the search (an
// inf in the metric, a text objective, only a header, a duplicate column)
// stops `search` before the first trial with one line naming file:line, and
// leaves no experiment behind.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "tests/cli/cli_fixture.h"
#include "tests/cli/small_grammar.h"

namespace {

using sylva::testing::CliTest;
using sylva::testing::expect_one_line_error;
using sylva::testing::kSmallGrammar;
using sylva::testing::Output;

// The nine architectures of kSmallGrammar, with an accuracy, a parameter
// count, an arch string holding commas and a free-text note.
const char* const kLayers[] = {"conv3x3", "mbconv_e3_k3", "identity"};

// Row i (line i + 2) is "A/B,"[net A, B]",50+i,1000(i+1),"row i, made by hand"".
std::string small_table() {
  std::string csv = "key,arch,acc,params,note\n";
  int i = 0;
  for (const std::string a : kLayers) {
    for (const std::string b : kLayers) {
      csv += a + "/" + b + ",\"[net " + a + ", " + b + "]\"," + std::to_string(50 + i) + "," +
             std::to_string(1000 * (i + 1)) + ",\"row " + std::to_string(i) + ", made by hand\"\n";
      ++i;
    }
  }
  return csv;
}

class CliTableTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    grammar_ = dir_ + "/small.grammar";
    std::ofstream(grammar_) << kSmallGrammar;
  }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  Output search(const std::string& table, const std::string& extra = "",
                const std::string& name = "t") {
    return run("search --name " + name + " --db " + db_ + " --space " + grammar_ +
               " --evaluator table --table " + table + " --metric acc --trials 6 --seed 1" + extra);
  }

  // No experiment `name` was stored (or no database was made).
  void expect_nothing_left(const std::string& name = "t") {
    Output o = run("trials --name " + name + " --db " + db_);
    EXPECT_NE(o.code, 0) << o.out;
  }

  std::string grammar_;
};

TEST_F(CliTableTest, TextColumnsBesideTheMetricAreReadAndLeftOut) {
  const std::string table = write("t.csv", small_table());
  Output o = search(table);
  ASSERT_EQ(o.code, 0) << o.err;
  auto rows = trials("t");
  ASSERT_EQ(rows.size(), 6u);
  // Each trial has its row's numbers, and neither text column.
  std::map<std::string, std::string> acc;
  int i = 0;
  for (const char* a : kLayers) {
    for (const char* b : kLayers) acc[std::string(a) + "/" + b] = std::to_string(50 + i++);
  }
  for (auto& r : rows) {
    EXPECT_EQ(r["state"], "COMPLETE") << r["key"];
    EXPECT_EQ(r["acc"], acc.at(r["key"])) << r["key"];
    EXPECT_FALSE(r.count("note"));
    EXPECT_FALSE(r.count("arch"));
  }
  // A second objective from a numeric column works; from a text one it is
  // refused before the first trial, naming the line.
  o = run("search --name p --db " + db_ + " --space " + grammar_ + " --evaluator table --table " +
          table + " --metric acc --strategy nsga2 --objective acc:max --objective params:min" +
          " --trials 4 --seed 1");
  ASSERT_EQ(o.code, 0) << o.err;
  for (auto& r : trials("p")) EXPECT_EQ(r["state"], "COMPLETE");
  Output bad = search(table, " --strategy nsga2 --objective acc:max --objective note:min", "q");
  expect_one_line_error(bad, table + ":2: column 'note': 'row 0, made by hand' is not a number");
  expect_nothing_left("q");
}

TEST_F(CliTableTest, InfInTheMetricIsRefusedAtStart) {
  std::string csv = small_table();
  // Line 3 is the second row: its acc becomes inf.
  const size_t line3 = csv.find('\n', csv.find('\n') + 1) + 1;
  const size_t acc = csv.find("\",", line3) + 2;
  csv.replace(acc, csv.find(',', acc) - acc, "inf");
  const std::string table = write("inf.csv", csv);
  expect_one_line_error(search(table), table + ":3: column 'acc': 'inf' is not a finite number");
  expect_nothing_left();
}

TEST_F(CliTableTest, HeaderOnlyAndDuplicateColumnsAreRefusedAtStart) {
  std::string table = write("header.csv", "key,arch,acc\n");
  Output o = search(table);
  expect_one_line_error(o, table + ":1: the table has a header but no rows");
  EXPECT_EQ(o.code, 2);
  expect_nothing_left();

  table = write("dup.csv", "key,acc,acc\nconv3x3/conv3x3,1,2\n");
  expect_one_line_error(search(table), table + ":1: duplicate column 'acc' (columns 2 and 3)");
  expect_nothing_left();

  table =
      write("dupkey.csv", "key,acc\nconv3x3/conv3x3,1\nidentity/identity,2\nconv3x3/conv3x3,3\n");
  expect_one_line_error(search(table),
                        table + ":4: duplicate key 'conv3x3/conv3x3' (first on line 2)");
  expect_nothing_left();
}

}  // namespace
