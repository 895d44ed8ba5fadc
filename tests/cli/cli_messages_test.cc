// Messages and checks at start (issue list "Nothing slips through", 9): quoted
// input cut to a readable length, --init files as an editor shows them, a
// network too large for the memory named with its parameter count and input,
// experiment names and training numbers checked before anything is made,
// `supernet select -f`, `--version`, the closing export hint of a search, and
// a rejected supernet checkpoint not announced as resumed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/cli_fixture.h"

namespace sylva::testing {
namespace {

// Three architectures of nas-bench-macro, by key and by canonical form.
const std::string kKeyA =
    "mbconv_e3_k3/identity/mbconv_e6_k5/identity/mbconv_e3_k3/mbconv_e3_k3/mbconv_e6_k5/identity";
const std::string kKeyB = "identity/identity/identity/identity/identity/identity/identity/identity";
const std::string kKeyC =
    "mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/mbconv_e6_k5/"
    "mbconv_e6_k5";

std::string canonical(const std::string& key) {
  std::string out = "[net";
  std::istringstream parts(key);
  for (std::string p; std::getline(parts, p, '/');) out += " [layer " + p + "]";
  return out + "]";
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class CliMessagesTest : public CliTest {
 protected:
  // Whether `status` lists experiment `name` (a refused start makes none).
  bool made(const std::string& name) {
    Output o = run("status --db " + db_ + " -f csv");
    return o.out.find("\n" + name + ",") != std::string::npos;
  }
  // Runs a shell command line (not only sylva's arguments) and waits for it.
  Output run_shell(const std::string& command) {
    const std::string err = dir_ + "/shell.err";
    FILE* p = popen((command + " 2>" + err).c_str(), "r");
    Output o;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) o.out.append(buf, n);
    const int status = pclose(p);
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.err = slurp(err);
    return o;
  }
  // `search --name NAME` with the stub evaluator and `rest`.
  Output stub_search(const std::string& name, const std::string& rest) {
    return run("search --name " + name + " --db " + db_ + " --evaluator stub " + rest);
  }
};

TEST_F(CliMessagesTest, LongInitLinesAreCutInTheirMessage) {
  ASSERT_EQ(stub_search("first", "--trials 1").code, 0);
  // A 1.2 MB line: the key and its part quoted in 60 bytes each, with the length.
  write(dir_ + "/big.init", std::string(1200000, 'x') + "\n");
  Output big = stub_search("big", "--strategy evolution --init " + dir_ + "/big.init");
  expect_one_line_error(big, dir_ + "/big.init:1: key '" + std::string(60, 'x') +
                                 "... (1200000 bytes)': part 1 '" + std::string(60, 'x') +
                                 "... (1200000 bytes)' is not a choice there");
  EXPECT_EQ(big.code, 2);
  EXPECT_LT(big.err.size(), 400u);
  // 100,000 unclosed brackets: refused by depth, where the parser used to
  // overflow its stack (exit 139).
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "[net ";
  write(dir_ + "/deep.init", deep + "\n");
  Output nested = stub_search("deep", "--strategy evolution --init " + dir_ + "/deep.init");
  expect_one_line_error(nested, dir_ +
                                    "/deep.init:1:5001: canonical form: brackets nested "
                                    "deeper than 1000 levels");
  EXPECT_EQ(nested.code, 2);
  EXPECT_FALSE(made("big"));
  EXPECT_FALSE(made("deep"));
}

TEST_F(CliMessagesTest, LongOptionValuesAreCutInTheirMessage) {
  Output o = stub_search("e", "--trials " + std::string(100000, '9'));
  expect_one_line_error(
      o, "--trials expects an integer, got '" + std::string(60, '9') + "... (100000 bytes)'");
  EXPECT_EQ(o.code, 2);
  EXPECT_LT(o.err.size(), 200u);
}

TEST_F(CliMessagesTest, InitFilesWithCrlfBomOrBlanksAreReadAsPlainLines) {
  // A byte order mark, CRLF line ends, blanks around a key, an indented
  // canonical form and a comment: what an editor on Windows saves.
  write(dir_ + "/seeds.init", "\xEF\xBB\xBF" + kKeyA + "\r\n# baselines\r\n\r\n  " + kKeyB +
                                  " \t\r\n\t" + canonical(kKeyC) + "\r\n");
  Output o =
      stub_search("s", "--strategy evolution --trials 4 --seed 1 --init " + dir_ + "/seeds.init");
  ASSERT_EQ(o.code, 0) << o.err;
  auto rows = trials("s");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["key"], kKeyA);
  EXPECT_EQ(rows[1]["key"], kKeyB);
  EXPECT_EQ(rows[2]["key"], kKeyC);
}

TEST_F(CliMessagesTest, InputShapesAndClassCountsAreBoundedAtStart) {
  Output shape = run("sample -n 1 --input-shape 3,100000,100000");
  expect_one_line_error(shape,
                        "--input-shape 3,100000,100000 is 30000000000 values per input; at most "
                        "268435456 (1 GiB of float32) are supported");
  EXPECT_EQ(shape.code, 2);
  EXPECT_TRUE(shape.out.empty()) << shape.out;
  Output classes = run("sample -n 1 --classes 100000000");
  expect_one_line_error(classes, "--classes must be <= 1000000, got 100000000");
  EXPECT_EQ(classes.code, 2);
  // The command evaluator's model.pt: refused before the experiment exists.
  Output command = run("search --name c --db " + db_ +
                       " --evaluator command --command true --input-shape 3,100000,100000");
  expect_one_line_error(command, "--input-shape 3,100000,100000 is 30000000000 values per input");
  EXPECT_EQ(command.code, 2);
  ASSERT_EQ(stub_search("first", "--trials 1").code, 0);
  EXPECT_FALSE(made("c"));
}

TEST_F(CliMessagesTest, ANetworkTooLargeForTheMemoryIsNamedWithItsParametersAndInput) {
  // The architecture drawn with seed 0, its key and parameters at the
  // default input (1,28,28, 10 classes).
  Output fine = run("sample -n 1 --seed 0 -f csv");
  ASSERT_EQ(fine.code, 0) << fine.err;
  std::istringstream lines(fine.out);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  ASSERT_EQ(header, "key,canonical,params,flops");
  const std::string key = row.substr(0, row.find(','));
  const std::string rest = row.substr(row.find("],") + 2);
  const int64_t params = std::stoll(rest.substr(0, rest.find(',')));
  // Within 4 GB of address space (LibTorch takes about 1), neither a
  // classifier of 1,000,000 classes (1281 x 1,000,000 weights: 5.1 GB) nor
  // the activations of a 16384 x 16384 input fit. `timeout`: a process
  // starved of memory must not hang the suite.
  const std::string limited = "ulimit -v 4000000 && exec timeout 120 " + std::string(SYLVA_BINARY);
  Output head = run_shell(limited + " sample -n 1 --seed 0 --classes 1000000");
  expect_one_line_error(head, "network '" + key + "' does not fit in memory: " +
                                  std::to_string(params + 1281 * (1000000 - 10)) +
                                  " parameters (4.8 GiB of float32) for input 1,28,28 and 1000000 "
                                  "classes");
  EXPECT_EQ(head.code, 1);
  EXPECT_EQ(head.err.find("alloc_cpu"), std::string::npos) << head.err;
  Output wide = run_shell(limited + " sample -n 1 --seed 0 --input-shape 1,16384,16384");
  expect_one_line_error(wide, "(" + std::to_string(params) +
                                  " parameters) does not fit in memory for input 1,16384,16384 and "
                                  "10 classes: one input's forward pass cannot allocate its "
                                  "activations");
  EXPECT_EQ(wide.code, 1);
}

TEST_F(CliMessagesTest, ExperimentNamesWithControlCharactersAreRefused) {
  ASSERT_EQ(stub_search("first", "--trials 1").code, 0);
  for (const auto& [name, shown] : std::vector<std::pair<std::string, std::string>>{
           {"\"$(printf 'a\\nb')\"", "a\\nb"},
           {"\"$(printf 'a\\033[31mred')\"", "a\\x1B[31mred"},
           {"\"$(printf 'tab\\there')\"", "tab\\there"}}) {
    Output o = stub_search(name, "--trials 1");
    expect_one_line_error(
        o, "search: --name must not contain control characters (newlines, tabs, ...), got '" +
               shown + "'");
    EXPECT_EQ(o.code, 2) << shown;
  }
  Output reader = run("trials --name \"$(printf 'a\\nb')\" --db " + db_);
  expect_one_line_error(reader, "trials: --name must not contain control characters");
  EXPECT_EQ(reader.code, 2);
  Output longer = stub_search(std::string(201, 'n'), "--trials 1");
  expect_one_line_error(longer, "search: --name must be at most 200 bytes, got '" +
                                    std::string(60, 'n') + "... (201 bytes)'");
  EXPECT_EQ(longer.code, 2);
  Output status = run("status --db " + db_ + " -f csv");
  EXPECT_EQ(std::count(status.out.begin(), status.out.end(), '\n'), 2) << status.out;
}

TEST_F(CliMessagesTest, AbsurdTrainingNumbersAreRefusedAtStart) {
  ASSERT_EQ(stub_search("first", "--trials 1").code, 0);
  const std::string train = "search --name t --db " + db_ + " --evaluator train ";
  for (const auto& [options, message] : std::vector<std::pair<std::string, std::string>>{
           {"--lr 1e308", "--lr must be <= 10, got 1e+308"},
           {"--lr -0.1", "--lr must be >= 0, got -0.1"},
           {"--lr inf", "--lr expects a number, got 'inf'"},
           {"--weight-decay -0.5",
            "--weight-decay must be in [0, 1] or -1 (the optimizer's default), got -0.5"},
           {"--weight-decay 5",
            "--weight-decay must be in [0, 1] or -1 (the optimizer's "
            "default), got 5"},
           {"--hparam lr=0.1,100", "hyperparameter 'lr': '100' is not <= 10"},
           {"--hparam weight_decay=0.1,3", "hyperparameter 'weight_decay': '3' is not <= 1"},
           {"--hparam momentum=0.9,-1",
            "hyperparameter 'momentum': '-1' is not a number in [0, "
            "1)"}}) {
    Output o = run(train + options);
    expect_one_line_error(o, message);
    EXPECT_EQ(o.code, 2) << options;
  }
  EXPECT_FALSE(made("t"));
  Output supernet = run("supernet train --family sorted --out " + dir_ + "/s.pt --lr 1e308");
  expect_one_line_error(supernet, "--lr must be in (0, 10], got 1e+308");
  EXPECT_EQ(supernet.code, 2);
}

TEST_F(CliMessagesTest, SupernetSelectHonoursTheFormat) {
  const std::string out = dir_ + "/sorted.pt";
  // An unknown format is refused before the supernet file is read.
  for (const std::string verb : {"select", "sweep"}) {
    Output o = run("supernet " + verb + " --space supernet:" + out + " -f xml");
    expect_one_line_error(o, "--format must be table, json or csv, got 'xml'");
    EXPECT_EQ(o.code, 2) << verb;
  }
  ASSERT_EQ(run("supernet train --family sorted --out " + out +
                " --epochs 1 --train-samples 128 --val-samples 128 --batch-size 32 --seed 1")
                .code,
            0);
  // The same pick as cli_supernet_test's, as JSON (numbers as numbers) and CSV.
  const std::string select = "supernet select --space supernet:" + out + " --max-flops 20000000";
  Output json = run(select + " -f json");
  ASSERT_EQ(json.code, 0) << json.err;
  const auto rows = nlohmann::json::parse(json.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["key"], "d5/w128/w128/w128/w128/w128");
  EXPECT_EQ(rows[0]["canonical"], "[sorted d5 w128 w128 w128 w128 w128]");
  EXPECT_EQ(rows[0]["params"], 101514);
  EXPECT_EQ(rows[0]["flops"], 19243136);
  EXPECT_EQ(rows[0]["fit"], 15);
  EXPECT_EQ(rows[0]["nested"], 20);
  Output csv = run(select + " -f csv");
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(csv.out,
            "key,canonical,params,flops,fit,nested\nd5/w128/w128/w128/w128/w128,[sorted d5 w128 "
            "w128 w128 w128 w128],101514,19243136,15,20\n");
  Output table = run(select + " -f table");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out, run(select).out);
  EXPECT_EQ(table.out.substr(table.out.rfind("params")),
            "params 101514  flops 19243136  (15 of 20 nested models fit)\n");
}

TEST_F(CliMessagesTest, StatusJsonGivesNumbersAsNumbers) {
  ASSERT_EQ(stub_search("e", "--trials 3 --seed 1").code, 0);
  Output o = run("status --db " + db_ + " -f json");
  ASSERT_EQ(o.code, 0) << o.err;
  const auto rows = nlohmann::json::parse(o.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["budget"], 3);
  EXPECT_EQ(rows[0]["complete"], 3);
  EXPECT_EQ(rows[0]["fail"], 0);
  EXPECT_TRUE(rows[0]["best"].is_number()) << o.out;
  EXPECT_EQ(rows[0]["name"], "e");
}

TEST_F(CliMessagesTest, VersionPrintsTheProjectVersion) {
  std::smatch m;
  const std::string cmake = slurp(std::string(SYLVA_SOURCE_DIR) + "/CMakeLists.txt");
  ASSERT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(sylva VERSION ([0-9.]+))")));
  Output o = run("--version");
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.out, "sylva " + m[1].str() + "\n");
  EXPECT_TRUE(o.err.empty()) << o.err;
}

TEST_F(CliMessagesTest, TheClosingHintSuggestsAnExportThatWorks) {
  // The stub and table evaluators build no network: JSON, which works.
  Output stub = stub_search("s", "--trials 2 --seed 1");
  ASSERT_EQ(stub.code, 0) << stub.err;
  const std::string json_hint =
      "sylva export --name s --db " + db_ + " --trial best --format json --out best.json)\n";
  EXPECT_EQ(stub.out.substr(stub.out.size() - json_hint.size()), json_hint) << stub.out;
  EXPECT_EQ(stub.out.find("torchscript"), std::string::npos) << stub.out;
  Output table = run("search --name t --db " + db_ + " --evaluator table --table " + kTable +
                     " --metric test_acc_mean --trials 2 --seed 1");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("--name t --db " + db_ + " --trial best --format json --out best.json)"),
            std::string::npos)
      << table.out;
  Output exported =
      run("export --name t --db " + db_ + " --trial best --format json --out " + dir_ + "/b.json");
  EXPECT_EQ(exported.code, 0) << exported.err;
  // A trained search keeps the best trial's weights: TorchScript, which works.
  Output trained = run("search --name w --db " + db_ +
                       " --evaluator train --train-samples 64 --val-samples 64 --test-samples 64 "
                       "--trials 1 --seed 1");
  ASSERT_EQ(trained.code, 0) << trained.err;
  EXPECT_NE(trained.out.find("--name w --db " + db_ +
                             " --trial best --format torchscript --out model.pt)"),
            std::string::npos)
      << trained.out;
  Output scripted = run("export --name w --db " + db_ +
                        " --trial best --format torchscript --out " + dir_ + "/model.pt");
  EXPECT_EQ(scripted.code, 0) << scripted.err;
}

TEST_F(CliMessagesTest, ARejectedSupernetCheckpointIsNotAnnouncedAsResumed) {
  const std::string out = dir_ + "/x.pt";
  write(out + ".ckpt", "not a checkpoint");
  Output o = run("supernet train --family sorted --out " + out +
                 " --epochs 1 --train-samples 64 --val-samples 64 --batch-size 32");
  expect_one_line_error(o, "checkpoint '" + out + ".ckpt' is not readable");
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.out.find("resuming from"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace sylva::testing
