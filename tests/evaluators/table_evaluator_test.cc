// The table evaluator: real NAS-Bench-Macro rows come back as metrics, a
// missing key is a FAIL with its message, and malformed tables are rejected
// with errors that point at the column or line. Concurrent lookups agree.
#include "evaluators/table_evaluator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace sylva::evaluators {
namespace {

namespace fs = std::filesystem;

const std::string kCsv = SYLVA_SOURCE_DIR "/../shared/benchmarks/nas-bench-macro-cifar10.csv";

class NullReporter : public Reporter {
 public:
  void intermediate(int, const std::string&, double) override {}
};

Job job_for(const std::string& key) {
  Job job;
  job.arch.key = key;
  return job;
}

std::unique_ptr<Evaluator> macro_table(const std::string& metric = "test_acc_mean") {
  auto made = make_table_evaluator({kCsv, metric});
  if (!made.is_ok()) ADD_FAILURE() << made.status().message();
  return made.is_ok() ? std::move(made).value() : nullptr;
}

// Writes `text` to a fresh temp file and returns its path.
std::string temp_csv(const std::string& name, const std::string& text) {
  fs::path path = fs::path(::testing::TempDir()) /
                  ("sylva_table_" + std::to_string(getpid()) + "_" + name + ".csv");
  std::ofstream(path) << text;
  return path.string();
}

TEST(TableEvaluatorTest, LooksUpKnownRows) {
  auto table = macro_table();
  ASSERT_NE(table, nullptr);
  NullReporter reporter;

  EvalResult r = table->evaluate(job_for("identity/identity/identity/identity/identity/identity/"
                                         "identity/identity"),
                                 reporter);
  EXPECT_EQ(r.state, TrialState::kComplete);
  EXPECT_EQ(r.metrics.size(), 7u);  // every column but key
  EXPECT_DOUBLE_EQ(r.metrics.at("test_acc_mean"), 45.3633);
  EXPECT_DOUBLE_EQ(r.metrics.at("test_acc_std"), 0.0544);
  EXPECT_DOUBLE_EQ(r.metrics.at("test_acc_seed2"), 45.44);
  EXPECT_DOUBLE_EQ(r.metrics.at("params"), 387882);
  EXPECT_DOUBLE_EQ(r.metrics.at("flops"), 7713280);

  r = table->evaluate(job_for("mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/"
                              "mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5"),
                      reporter);
  EXPECT_EQ(r.state, TrialState::kComplete);
  EXPECT_DOUBLE_EQ(r.metrics.at("test_acc_mean"), 92.9533);
  EXPECT_DOUBLE_EQ(r.metrics.at("test_acc_seed0"), 93.06);
  EXPECT_DOUBLE_EQ(r.metrics.at("params"), 2932586);
  EXPECT_DOUBLE_EQ(r.metrics.at("flops"), 105660928);
  EXPECT_TRUE(r.weights.empty());
}

TEST(TableEvaluatorTest, MissingKeyFails) {
  auto table = macro_table();
  ASSERT_NE(table, nullptr);
  NullReporter reporter;
  EvalResult r = table->evaluate(job_for("identity/nope"), reporter);
  EXPECT_EQ(r.state, TrialState::kFail);
  EXPECT_EQ(r.message, "key 'identity/nope' not in table " + kCsv);
  EXPECT_TRUE(r.metrics.empty());
}

TEST(TableEvaluatorTest, SearchedKeyWithHyperparametersFirstThenTheNetworks) {
  const std::string path = temp_csv("hparams",
                                    "key,acc\n"
                                    "lr=0.1/conv3x3/skip,71\n"
                                    "conv3x3/skip,60\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  NullReporter reporter;
  Job job = job_for("conv3x3/skip");
  job.key = "lr=0.1/conv3x3/skip";
  EXPECT_DOUBLE_EQ(made.value()->evaluate(job, reporter).metrics.at("acc"), 71);
  // A value the table does not list: the network's row.
  job.key = "lr=0.01/conv3x3/skip";
  EXPECT_DOUBLE_EQ(made.value()->evaluate(job, reporter).metrics.at("acc"), 60);
  job.arch.key = "skip/skip";
  job.key = "lr=0.01/skip/skip";
  EvalResult r = made.value()->evaluate(job, reporter);
  EXPECT_EQ(r.state, TrialState::kFail);
  EXPECT_EQ(r.message, "neither key 'lr=0.01/skip/skip' nor 'skip/skip' is in table " + path);
  // Hyperparameters are the table's business: any is accepted up front.
  EXPECT_TRUE(made.value()->check_hparams({{"anything", {"1", "x"}}}).is_ok());
}

TEST(TableEvaluatorTest, ConcurrentLookupsAgree) {
  auto table = macro_table();
  ASSERT_NE(table, nullptr);
  std::vector<std::string> keys;
  {
    std::ifstream in(kCsv);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) keys.push_back(line.substr(0, line.find(',')));
  }
  ASSERT_EQ(keys.size(), 6561u);
  // Four threads look up every key; the sum of test_acc_mean is the same for all.
  std::vector<double> sums(4, 0);
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      NullReporter reporter;
      for (size_t i = 0; i < keys.size(); ++i) {
        const std::string& key = keys[(i + t * 1000) % keys.size()];
        EvalResult r = table->evaluate(job_for(key), reporter);
        if (r.state != TrialState::kComplete) ++failures[t];
        sums[t] += r.metrics["test_acc_mean"];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(failures[t], 0);
    EXPECT_NEAR(sums[t], sums[0], 1e-6);
  }
  EXPECT_GT(sums[0] / keys.size(), 45.0);
  EXPECT_LT(sums[0] / keys.size(), 93.2);
}

TEST(TableEvaluatorTest, MetricNotInHeaderListsColumns) {
  auto made = make_table_evaluator({kCsv, "val_acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(),
            kCsv +
                ": metric 'val_acc' is not a column (columns: key, test_acc_mean, test_acc_std, "
                "test_acc_seed0, test_acc_seed1, test_acc_seed2, params, flops)");
}

TEST(TableEvaluatorTest, MissingFile) {
  auto made = make_table_evaluator({"/nonexistent/table.csv", ""});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), "cannot open table /nonexistent/table.csv");
}

TEST(TableEvaluatorTest, NoKeyColumn) {
  const std::string path = temp_csv("nokey", "arch,acc\na,1\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ": no 'key' column in the header (columns: arch, acc)");
}

TEST(TableEvaluatorTest, NonNumericValueGivesFileAndLine) {
  const std::string path = temp_csv("nonnumeric", "key,acc,params\na,1.5,10\n\nb,oops,20\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":4: column 'acc': 'oops' is not a number");
}

TEST(TableEvaluatorTest, WrongFieldCountAndDuplicateKeyGiveLine) {
  std::string path = temp_csv("fields", "key,acc\na,1\nb,2,3\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":3: 3 fields, the header has 2");

  path = temp_csv("duplicate", "key,acc\na,1\nb,2\na,3\n");
  made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":4: duplicate key 'a' (first on line 2)");
}

TEST(TableEvaluatorTest, QuotesCrlfAndEmptyCells) {
  // Key column need not be first; quoted fields; Windows line ends; an empty
  // cell is a missing value, and a missing objective makes the trial FAIL.
  const std::string path =
      temp_csv("quotes", "acc,\"key\",loss\r\n 91.5 ,\"a,b\",\r\n,c,0.25\r\n+7e1,d,-1\r\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  NullReporter reporter;
  EvalResult r = made.value()->evaluate(job_for("a,b"), reporter);
  EXPECT_EQ(r.state, TrialState::kComplete);
  EXPECT_EQ(r.metrics, (std::map<std::string, double>{{"acc", 91.5}}));
  r = made.value()->evaluate(job_for("d"), reporter);
  EXPECT_EQ(r.metrics, (std::map<std::string, double>{{"acc", 70}, {"loss", -1}}));
  r = made.value()->evaluate(job_for("c"), reporter);
  EXPECT_EQ(r.state, TrialState::kFail);
  EXPECT_EQ(r.message, "key 'c' has no value for 'acc' in table " + path);
}

TEST(TableEvaluatorTest, TextColumnsAreReadButNeverMetrics) {
  // A description, an arch string with commas, a column mixing numbers and
  // text, one with an inf and an unnamed one: none is used, so none needs to
  // be numeric, and none is reported; the numeric `params` is.
  const std::string path = temp_csv("text",
                                    "key,arch,acc,note,size,flops,params,\n"
                                    "a,\"conv3x3, skip\",91.5,\"the first, best\",3,inf,10,x\n"
                                    "b,\"skip, skip\",80,second,big,5,20,7\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  NullReporter reporter;
  EvalResult r = made.value()->evaluate(job_for("a"), reporter);
  EXPECT_EQ(r.state, TrialState::kComplete);
  EXPECT_EQ(r.metrics, (std::map<std::string, double>{{"acc", 91.5}, {"params", 10}}));
  r = made.value()->evaluate(job_for("b"), reporter);
  EXPECT_EQ(r.metrics, (std::map<std::string, double>{{"acc", 80}, {"params", 20}}));

  // A column an objective names must be numeric like the metric.
  TableOptions options{path, "acc"};
  options.objectives = {"params"};
  ASSERT_TRUE(make_table_evaluator(options).is_ok());
  options.objectives = {"size"};
  made = make_table_evaluator(options);
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":3: column 'size': 'big' is not a number");
  options.objectives = {"latency"};
  made = make_table_evaluator(options);
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(),
            path +
                ": objective 'latency' is not a column (columns: key, arch, acc, note, size, "
                "flops, params, )");
}

TEST(TableEvaluatorTest, InfAndNanInAUsedColumnAreRefusedAtLoad) {
  for (const std::string bad :
       {"inf", "-inf", "nan", "NaN", "infinity", "-Infinity", "+inf", "1e999", "-1e999"}) {
    SCOPED_TRACE(bad);
    const std::string path = temp_csv("inf", "key,acc,params\na,1,10\nb," + bad + ",20\n");
    auto made = make_table_evaluator({path, "acc"});
    ASSERT_FALSE(made.is_ok());
    EXPECT_EQ(made.status().message(),
              path + ":3: column 'acc': '" + bad + "' is not a finite number");
    // In an objective's column too.
    const std::string cost = temp_csv("infcost", "key,acc,params\na,1,10\n\nb,2," + bad + "\n");
    TableOptions options{cost, "acc"};
    options.objectives = {"params"};
    made = make_table_evaluator(options);
    ASSERT_FALSE(made.is_ok());
    EXPECT_EQ(made.status().message(),
              cost + ":4: column 'params': '" + bad + "' is not a finite number");
  }
  // A sign alone or doubled is no number either.
  const std::string path = temp_csv("signs", "key,acc\na,+-1\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":2: column 'acc': '+-1' is not a number");
}

TEST(TableEvaluatorTest, DuplicateColumnNamesAreRefusedWithTheHeaderLine) {
  std::string path = temp_csv("dupcol", "\nkey,acc,params,acc\na,1,2,3\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":2: duplicate column 'acc' (columns 2 and 4)");

  path = temp_csv("dupkey", "key,acc,key\na,1,b\n");
  made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":1: duplicate column 'key' (columns 1 and 3)");
}

TEST(TableEvaluatorTest, DuplicateKeyNamesBothLines) {
  const std::string path = temp_csv("dupkey2", "key,acc,note\nx,1,a\ny,2,b\n\nx,1,c\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":5: duplicate key 'x' (first on line 2)");
}

TEST(TableEvaluatorTest, HeaderWithoutRowsIsRefused) {
  std::string path = temp_csv("headeronly", "key,acc,params\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":1: the table has a header but no rows");
  // Blank lines around it change nothing but the line.
  path = temp_csv("headeronly2", "\r\nkey,acc\r\n\r\n  \n");
  made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":2: the table has a header but no rows");
}

TEST(TableEvaluatorTest, LongCellsAreCutInMessages) {
  // A 1 MB cell is quoted by its first 60 bytes and its length.
  const std::string big(1000000, '7');
  const std::string path = temp_csv("long", "key,acc\na,1\nb," + big + "x\na,2\n");
  auto made = make_table_evaluator({path, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), path + ":3: column 'acc': '" + std::string(60, '7') +
                                         "... (1000001 bytes)' is not a number");
  const std::string dup = temp_csv("longkey", "key,acc\n" + big + ",1\n" + big + ",2\n");
  made = make_table_evaluator({dup, "acc"});
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), dup + ":3: duplicate key '" + std::string(60, '7') +
                                         "... (1000000 bytes)' (first on line 2)");
}

}  // namespace
}  // namespace sylva::evaluators
