// `sylva report` and `sylva dashboard` in a real browser (Debian's headless
// chromium, driven over the DevTools protocol by tests/browser/page_check.py):
// every plot renders with the points the database holds and the page logs no
// error; a name made of markup runs no script; the dashboard follows a
// search as its trials finish, without a reload; bad command lines are one
// line. Screenshots are kept in BUILD/test-artifacts/.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

#include "tests/cli/cli_fixture.h"

namespace {

using nlohmann::json;
using sylva::testing::CliTest;
using sylva::testing::expect_one_line_error;
using sylva::testing::kTable;
using sylva::testing::Output;
using sylva::testing::slurp;

// Where screenshots go: beside the binary, in test-artifacts/.
std::string artifacts() {
  const std::string dir =
      std::filesystem::path(SYLVA_BINARY).parent_path().string() + "/test-artifacts";
  std::filesystem::create_directories(dir);
  return dir;
}

// Runs the browser steps; the harness's JSON answer.
json browse(const json& steps) {
  const std::string path = std::filesystem::temp_directory_path().string() + "/steps-" +
                           std::to_string(getpid()) + ".json";
  std::string cmd = "/usr/bin/python3 " + std::string(SYLVA_SOURCE_DIR) +
                    "/tests/browser/page_check.py \"$(cat " + path + ")\"";
  {
    FILE* f = fopen(path.c_str(), "w");
    fputs(steps.dump().c_str(), f);
    fclose(f);
  }
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  std::remove(path.c_str());
  try {
    return json::parse(out);
  } catch (const std::exception&) {
    return json{{"failure", "the browser harness printed: " + out}};
  }
}

// The page's own record of what it drew (window.SylvaPage).
const char* kPageState = "JSON.stringify(window.SylvaPage)";

// Points of dataset `label` of plot `id`; -1 when there is no such thing.
int points(const json& page, const std::string& id, const std::string& label) {
  if (!page["plots"].contains(id)) return -1;
  for (const auto& d : page["plots"][id]["datasets"]) {
    if (d["label"] == label) return d["points"];
  }
  return -1;
}

int count_state(const std::vector<std::map<std::string, std::string>>& rows,
                const std::string& state) {
  int n = 0;
  for (const auto& r : rows) n += r.at("state") == state;
  return n;
}

TEST_F(CliTest, TheReportDrawsEveryPlotWithThePointsOfTheDatabase) {
  // Two objectives on two workers, the same search with another seed, and a
  // successive-halving search with learning curves.
  const std::string two = " --space nas-bench-macro --evaluator table --table " + kTable +
                          " --metric test_acc_mean --strategy nsga2 --objective test_acc_mean:max"
                          " --objective params:min --trials 60 --workers 2";
  ASSERT_EQ(run("search --name pareto --db " + db_ + two + " --seed 1").code, 0);
  ASSERT_EQ(run("search --name pareto-seed2 --db " + db_ + two + " --seed 2").code, 0);
  ASSERT_EQ(run("search --name halving --db " + db_ +
                " --evaluator stub --fidelity epochs --min-epochs 1 --max-epochs 9 --eta 3"
                " --trials 27 --seed 6")
                .code,
            0);
  // Three objectives: parallel coordinates.
  ASSERT_EQ(run("search --name three --db " + db_ +
                " --space nas-bench-macro --evaluator table --table " + kTable +
                " --metric test_acc_mean --strategy nsga2 --objective test_acc_mean:max"
                " --objective params:min --objective flops:min --trials 30 --seed 4")
                .code,
            0);
  const std::string out = dir_ + "/report.html";
  Output r = run("report --db " + db_ + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + out + " (4 experiments, 177 trials"), std::string::npos) << r.out;
  // Self-contained: no address to fetch anything from.
  const std::string html = slurp(out);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);

  const std::string shot = artifacts() + "/report.png";
  json result = browse({{{"open", "file://" + out}},
                        {{"wait", "window.SylvaPage && SylvaPage.rendered"}, {"timeout", 60}},
                        {{"eval", kPageState}, {"as", "page"}},
                        {{"screenshot", shot}},
                        {{"type", "#e0-trials input"}, {"text", "mbconv_e6_k5/mbconv_e6_k5"}},
                        {{"eval", kPageState}, {"as", "searched"}},
                        {{"type", "#e0-trials input"}, {"text", ""}},
                        {{"click", "#e0-trials th"}},
                        {{"eval",
                          "document.querySelector('#e0-trials table tr:nth-child(2) "
                          "td').textContent"},
                         {"as", "first_row_number"}}});
  ASSERT_FALSE(result.contains("failure")) << result["failure"];
  EXPECT_EQ(result["errors"], json::array()) << result["errors"];
  const json page = json::parse(result["results"]["page"].get<std::string>());
  EXPECT_EQ(page["errors"], json::array());
  EXPECT_TRUE(std::filesystem::file_size(shot) > 50000) << shot;

  // History: a point per completed trial, a mark per failed one.
  const auto pareto = trials("pareto");
  ASSERT_EQ(pareto.size(), 60u);
  EXPECT_EQ(points(page, "e0-history", "complete"), count_state(pareto, "COMPLETE"));
  EXPECT_EQ(points(page, "e0-history", "failed"), count_state(pareto, "FAIL"));
  EXPECT_GE(points(page, "e0-history", "best so far"), 2);
  // Pareto: front and dominated split the completed trials; the front is
  // `sylva best --pareto`'s.
  Output front = run("best --name pareto --db " + db_ + " --pareto -f json");
  ASSERT_EQ(front.code, 0) << front.err;
  const int on_front = static_cast<int>(json::parse(front.out).size());
  EXPECT_EQ(points(page, "e0-pareto", "Pareto front"), on_front);
  EXPECT_EQ(points(page, "e0-pareto", "dominated"), count_state(pareto, "COMPLETE") - on_front);
  EXPECT_EQ(points(page, "e0-hypervolume", "hypervolume"), count_state(pareto, "COMPLETE"));
  // Importance: the 8 layers of nas-bench-macro (those that varied).
  EXPECT_EQ(points(page, "e0-importance", "share of variance"), 8);
  EXPECT_EQ(points(page, "e0-choices", "mean test_acc_mean"), 3);
  // Timeline: every trial ran on the search's one process.
  EXPECT_EQ(points(page, "e0-timeline", "COMPLETE"), count_state(pareto, "COMPLETE"));
  // Best five drawn: input, 8 layers, head.
  ASSERT_EQ(page["plots"]["e0-best"]["datasets"].size(), 5u);
  EXPECT_EQ(page["plots"]["e0-best"]["datasets"][0]["points"], 10);
  // The table: 60 trials, 50 to a page; searching narrows it; a click on
  // the number column (sorted up) sorts it down.
  EXPECT_EQ(page["plots"]["e0-trials"]["matching"], 60);
  EXPECT_EQ(points(page, "e0-trials", "rows"), 50);
  const json searched = json::parse(result["results"]["searched"].get<std::string>());
  int expected_matches = 0;
  for (const auto& t : pareto) {
    expected_matches += t.at("key").find("mbconv_e6_k5/mbconv_e6_k5") != std::string::npos;
  }
  EXPECT_EQ(searched["plots"]["e0-trials"]["matching"], expected_matches);
  EXPECT_GT(expected_matches, 0);
  EXPECT_EQ(result["results"]["first_row_number"], "59");
  // Comparison: the three best-so-far curves, one seed band (pareto and
  // pareto-seed2 differ only by seed).
  EXPECT_GT(points(page, "comparison-0", "pareto"), 0);
  EXPECT_GT(points(page, "comparison-0", "mean of pareto, pareto-seed2"), 0);
  // Successive halving: a learning curve per trial, pruned ones included.
  const auto halving = trials("halving");
  ASSERT_EQ(page["plots"]["e2-curves"]["datasets"].size(), halving.size());
  EXPECT_GT(count_state(halving, "PRUNED"), 0);
  EXPECT_EQ(points(page, "e2-history", "pruned"), count_state(halving, "PRUNED"));
  // Three objectives: a line per completed trial over 3 objectives and 8 decisions.
  const auto three = trials("three");
  ASSERT_EQ(page["plots"]["e3-parallel"]["datasets"].size(),
            static_cast<size_t>(count_state(three, "COMPLETE")));
  EXPECT_EQ(page["plots"]["e3-parallel"]["datasets"][0]["points"], 11);
  EXPECT_FALSE(page["plots"].contains("e3-pareto"));
}

TEST_F(CliTest, ANameMadeOfMarkupRunsNoScript) {
  const std::string name =
      "</script><script>window.SylvaPwned=1</script><img src=x onerror=\"window.SylvaPwned=2\">"
      "&amp;'\"";
  // The shell reads the name from a file, so that no quoting touches it.
  const std::string name_file = dir_ + "/name.txt";
  {
    FILE* f = fopen(name_file.c_str(), "w");
    fputs(name.c_str(), f);
    fclose(f);
  }
  const std::string quoted = "\"$(cat " + name_file + ")\"";
  Output s = run("search --name " + quoted + " --db " + db_ + " --evaluator table --table " +
                 kTable + " --metric test_acc_mean --trials 8 --seed 1");
  ASSERT_EQ(s.code, 0) << s.err;
  const std::string out = dir_ + "/r.html";
  ASSERT_EQ(run("report --db " + db_ + " --out " + out + " --name " + quoted).code, 0);
  const std::string html = slurp(out);
  EXPECT_EQ(html.find("window.SylvaPwned=1</script>"), std::string::npos);
  json result = browse({{{"open", "file://" + out}},
                        {{"wait", "window.SylvaPage && SylvaPage.rendered"}, {"timeout", 60}},
                        {{"eval", "String(window.SylvaPwned)"}, {"as", "pwned"}},
                        {{"eval", "document.querySelector('h2').textContent"}, {"as", "title"}},
                        {{"eval", "document.querySelectorAll('img').length"}, {"as", "images"}},
                        {{"eval", kPageState}, {"as", "page"}}});
  ASSERT_FALSE(result.contains("failure")) << result["failure"];
  EXPECT_EQ(result["errors"], json::array()) << result["errors"];
  EXPECT_EQ(result["results"]["pwned"], "undefined");
  EXPECT_EQ(result["results"]["images"], 0);
  EXPECT_EQ(result["results"]["title"], "Experiment " + name);
  const json page = json::parse(result["results"]["page"].get<std::string>());
  EXPECT_EQ(points(page, "e0-history", "complete"), 8);
}

// A dashboard in the background: its pid, and the port it printed.
struct Served {
  pid_t pid = -1;
  int port = 0;
  std::string first_line;
};

Served serve(const std::string& args, const std::string& out_file) {
  Served s;
  s.pid = fork();
  if (s.pid == 0) {
    int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl("/bin/sh", "sh", "-c",
          ("exec " + std::string(SYLVA_BINARY) + " dashboard " + args).c_str(), nullptr);
    _exit(127);
  }
  const std::regex listening(R"(on http://127\.0\.0\.1:(\d+)/)");
  for (int i = 0; i < 200; ++i) {
    const std::string text = slurp(out_file);
    std::smatch m;
    if (std::regex_search(text, m, listening)) {
      s.port = std::stoi(m[1]);
      s.first_line = text.substr(0, text.find('\n'));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return s;
}

TEST_F(CliTest, TheDashboardFollowsASearchAsItsTrialsFinish) {
  const std::string common = " --db " + db_ +
                             " --space nas-bench-macro --evaluator table --table " + kTable +
                             " --metric test_acc_mean --seed 3";
  ASSERT_EQ(run("search --name live" + common + " --trials 20").code, 0);
  const std::string log = dir_ + "/dashboard.out";
  Served s = serve("--db " + db_ + " --port 0 --refresh-ms 300", log);
  ASSERT_GT(s.port, 0) << slurp(log);
  EXPECT_NE(s.first_line.find("read-only"), std::string::npos) << s.first_line;
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port) + "/";
  const std::string shot = artifacts() + "/dashboard.png";
  // Opened at 20 trials; 20 more are searched while the page is open; it
  // redraws with 40 without a reload (the marker set before survives).
  json result = browse(
      {{{"open", url}},
       {{"wait", "window.SylvaPage && SylvaPage.rendered"}, {"timeout", 60}},
       {{"eval", kPageState}, {"as", "before"}},
       {{"eval", "window.stayed = 'yes'"}, {"as", "marker"}},
       {{"run", {SYLVA_BINARY, "resume", "--name", "live", "--db", db_, "--trials", "40"}}},
       {{"wait",
         "SylvaPage.plots['e0-history'] && SylvaPage.plots['e0-history'].datasets[0].points == 40"},
        {"timeout", 30}},
       {{"eval", kPageState}, {"as", "after"}},
       {{"eval", "String(window.stayed)"}, {"as", "stayed"}},
       {{"eval",
         "[...document.querySelectorAll('#e0-summary tr')].find(r => r.firstChild.textContent == "
         "'budget').lastChild.textContent"},
        {"as", "budget"}},
       {{"screenshot", shot}},
       {{"errors_as", "page_errors"}},
       {{"eval", "fetch('api/views?name=nobody').then(r => r.status)"}, {"as", "unknown"}},
       {{"eval", "fetch('api/views', {method: 'POST'}).then(r => r.status)"}, {"as", "post"}}});
  kill(s.pid, SIGINT);
  int status = 0;
  waitpid(s.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(log);
  ASSERT_FALSE(result.contains("failure")) << result["failure"] << slurp(log);
  // (The probes of a missing experiment and a POST below log their 404s.)
  EXPECT_EQ(result["results"]["page_errors"], json::array()) << result["errors"];
  const json before = json::parse(result["results"]["before"].get<std::string>());
  const json after = json::parse(result["results"]["after"].get<std::string>());
  EXPECT_EQ(points(before, "e0-history", "complete"), 20);
  EXPECT_EQ(points(after, "e0-history", "complete"), 40);
  EXPECT_EQ(points(after, "e0-timeline", "COMPLETE"), 40);
  EXPECT_EQ(after["plots"]["e0-trials"]["matching"], 40);
  EXPECT_EQ(result["results"]["budget"], "40 trials");  // resume's new budget
  EXPECT_GT(after["updates"].get<int>(), before["updates"].get<int>());
  EXPECT_EQ(after["errors"], json::array());
  EXPECT_EQ(result["results"]["stayed"], "yes");
  EXPECT_EQ(result["results"]["unknown"], 404);
  // Read-only: nothing but GET is answered.
  EXPECT_NE(result["results"]["post"], 200);
  EXPECT_EQ(trials("live").size(), 40u);
}

TEST_F(CliTest, ReportAndDashboardMistakesAreOneLine) {
  ASSERT_EQ(run("search --name e --db " + db_ + " --evaluator stub --trials 3 --seed 1").code, 0);
  expect_one_line_error(run("report --db " + db_ + " --out " + dir_), "is a directory");
  Output missing = run("report --db " + db_ + " --name e --name nobody --out " + dir_ + "/x.html");
  expect_one_line_error(missing, "nobody");
  EXPECT_EQ(missing.code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x.html"));
  expect_one_line_error(run("report --db " + dir_ + "/none.db"), "does not exist");
  Output port = run("dashboard --db " + db_ + " --port 70000");
  expect_one_line_error(port, "--port must be at most 65535");
  EXPECT_EQ(port.code, 2);
  expect_one_line_error(run("dashboard --db " + db_ + " --port http"), "--port");
  // A port in use: one line, exit 1.
  const std::string log = dir_ + "/first.out";
  Served s = serve("--db " + db_ + " --port 0", log);
  ASSERT_GT(s.port, 0) << slurp(log);
  Output busy = run("dashboard --db " + db_ + " --port " + std::to_string(s.port));
  kill(s.pid, SIGTERM);
  waitpid(s.pid, nullptr, 0);
  expect_one_line_error(busy, "cannot listen on 127.0.0.1:" + std::to_string(s.port));
  EXPECT_EQ(busy.code, 1);
  // --name applies to the report, once per experiment; not to the dashboard.
  expect_one_line_error(run("dashboard --db " + db_ + " --name e"), "--name");
}

}  // namespace
