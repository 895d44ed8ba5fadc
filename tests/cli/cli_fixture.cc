#include "tests/cli/cli_fixture.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "experiments/store.h"

namespace sylva::testing {
namespace {

const std::string kSylva = SYLVA_BINARY;

}  // namespace

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void CliTest::SetUp() {
  char tmpl[] = "/tmp/sylva-cli-XXXXXX";
  dir_ = mkdtemp(tmpl);
  db_ = dir_ + "/s.db";
}

void CliTest::TearDown() { std::system(("rm -rf " + dir_).c_str()); }

Output CliTest::run(const std::string& args) { return run_prefixed("", args); }

Output CliTest::run_prefixed(const std::string& prefix, const std::string& args) {
  std::string err = dir_ + "/stderr.txt";
  FILE* p = popen((prefix + kSylva + " " + args + " 2>" + err).c_str(), "r");
  Output o;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) o.out.append(buf, n);
  int status = pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.err = slurp(err);
  return o;
}

std::vector<std::map<std::string, std::string>> CliTest::trials(const std::string& name) {
  Output o = run("trials --name " + name + " --db " + db_ + " -f csv");
  EXPECT_EQ(o.code, 0) << o.err;
  std::istringstream in(o.out);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string c; std::getline(hs, c, ',');) header.push_back(c);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::map<std::string, std::string> row;
    std::stringstream ls(line);
    size_t i = 0;
    for (std::string c; std::getline(ls, c, ',') && i < header.size(); ++i) row[header[i]] = c;
    rows.push_back(row);
  }
  return rows;
}

int CliTest::start_and_kill(const std::vector<std::string>& args, const std::string& name,
                            size_t complete, int signal) {
  return start_and_kill_when(
      args,
      [&] {
        // Read from the database directly: a `sylva trials` process takes
        // about a second to start (more on a loaded machine), long enough for
        // a fast experiment to finish before the kill.
        if (access(db_.c_str(), F_OK) != 0) return false;
        auto store = experiments::Store::open(db_);
        if (!store.is_ok()) return false;
        auto e = store.value()->find_experiment(name);
        if (!e.is_ok()) return false;
        size_t done = 0;
        for (const auto& t : store.value()->trials(e.value().id)) {
          done += t.state == experiments::TrialState::kComplete ||
                  t.state == experiments::TrialState::kPruned;
        }
        return done >= complete;
      },
      signal);
}

int CliTest::start_and_kill_when(const std::vector<std::string>& args,
                                 const std::function<bool()>& ready, int signal) {
  const std::string err = dir_ + "/killed.err";
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    int errfd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(devnull, 1);
    dup2(errfd, 2);
    std::vector<char*> argv = {const_cast<char*>("sylva")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(kSylva.c_str(), argv.data());
    _exit(127);
  }
  for (int i = 0; i < 400 && !ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, signal);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

void expect_one_line_error(const Output& o, const std::string& fragment) {
  EXPECT_NE(o.code, 0);
  EXPECT_NE(o.err.find(fragment), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
}

}  // namespace sylva::testing
