// Store crash-safety tests: a writer killed with SIGKILL or ended with _exit
// (no destructor, the WAL never checkpointed) loses no finished trial and
// leaves no half-written one, and two threads writing one file never see
// "database is locked".
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "experiments/store.h"
#include "tests/experiments/store_fixture.h"

namespace sylva::experiments {
namespace {

using testing::metrics_for;
using testing::must_open;
using testing::seed_for;
using testing::TempDir;

namespace fs = std::filesystem;

// Adds, runs and finishes trials 0, 1, ... of `exp`, writing each number to
// `fd` once its finish_trial has returned. Runs in a forked child.
[[noreturn]] void child_writer(const std::string& path, int64_t exp, int fd, int64_t limit,
                               bool leave_one_running) {
  try {
    StatusOr<std::unique_ptr<Store>> opened = Store::open(path);
    if (!opened.is_ok()) _exit(2);
    Store& store = *opened.value();
    for (int64_t i = 0; i < limit; ++i) {
      int64_t id = store.add_trial(exp, i, "h", "k/" + std::to_string(i), "c", seed_for(i));
      store.set_running(id, "child");
      store.add_intermediate(id, 1, "accuracy", 0.25);
      store.finish_trial(id, TrialState::kComplete, "", metrics_for(i));
      if (fd >= 0 && write(fd, &i, sizeof i) != static_cast<ssize_t>(sizeof i)) _exit(3);
    }
    if (leave_one_running) {
      int64_t id = store.add_trial(exp, limit, "h", "k", "c", 0);
      store.set_running(id, "child");
      store.put_artifact(id, "weights", std::string("\0partial", 8));
    }
    // Inside the try: no destructor runs, so the connection is never closed
    // and the WAL never checkpointed.
    _exit(0);
  } catch (...) {
    _exit(4);
  }
}

// Every trial read back is either finished with all its metrics or not
// finished with none: no half-written state change.
void expect_consistent(const std::vector<TrialRow>& rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const TrialRow& t = rows[i];
    EXPECT_EQ(t.number, static_cast<int64_t>(i));
    EXPECT_EQ(t.seed, seed_for(t.number));
    if (t.state == TrialState::kComplete) {
      EXPECT_EQ(t.metrics, metrics_for(t.number)) << "trial " << t.number;
      EXPECT_FALSE(t.finished_at.empty());
    } else {
      EXPECT_TRUE(t.state == TrialState::kWaiting || t.state == TrialState::kRunning);
      EXPECT_TRUE(t.metrics.empty()) << "trial " << t.number;
    }
  }
}

TEST(StoreCrashTest, SigkillMidRunLosesNoFinishedTrial) {
  TempDir dir;
  std::string path = dir.file("crash.db");
  int64_t exp = must_open(path)->create_experiment("crash", "{}").value();

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    child_writer(path, exp, fds[1], 1000000, false);
  }
  close(fds[1]);
  // Kill the writer as soon as it reports its 40th finished trial: it is then
  // somewhere inside the next trial's transactions.
  constexpr int64_t kKillAfter = 39;
  int64_t last = -1, n = 0;
  while (last < kKillAfter && read(fds[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
    last = n;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  ASSERT_EQ(last, kKillAfter) << "child exited early with status " << status;
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  auto store = must_open(path);
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_GE(rows.size(), static_cast<size_t>(kKillAfter + 1));
  for (int64_t i = 0; i <= kKillAfter; ++i) {
    EXPECT_EQ(rows[i].state, TrialState::kComplete) << "trial " << i;
  }
  expect_consistent(rows);
  int running = 0;
  for (const TrialRow& t : rows) running += t.state == TrialState::kRunning;
  EXPECT_EQ(store->requeue_unfinished(exp), running);
}

TEST(StoreCrashTest, ExitWithoutClosingKeepsCommittedWork) {
  TempDir dir;
  std::string path = dir.file("exit.db");
  int64_t exp = must_open(path)->create_experiment("exit", "{}").value();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) child_writer(path, exp, -1, 10, true);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0);
  // The child's commits live in the WAL it never checkpointed.
  ASSERT_TRUE(fs::exists(path + "-wal"));

  auto store = must_open(path);
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_EQ(rows.size(), 11u);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(rows[i].state, TrialState::kComplete);
    EXPECT_EQ(rows[i].metrics, metrics_for(i));
    EXPECT_EQ(rows[i].arch_key, "k/" + std::to_string(i));
  }
  EXPECT_EQ(rows[10].state, TrialState::kRunning);
  EXPECT_EQ(rows[10].worker, "child");
  EXPECT_EQ(store->artifact(rows[10].id, "weights").value(), std::string("\0partial", 8));
  EXPECT_EQ(store->intermediates(exp).size(), 10u);
  EXPECT_EQ(store->requeue_unfinished(exp), 1);
  EXPECT_EQ(store->trial(exp, 10)->state, TrialState::kWaiting);
}

TEST(StoreConcurrencyTest, TwoThreadsWriteOneFileWithoutLockErrors) {
  TempDir dir;
  std::string path = dir.file("two.db");
  constexpr int kPerThread = 150;
  std::mutex mu;
  std::vector<std::string> errors;  // guarded by mu

  // Each thread opens its own Store on the (new) file at the same moment, gets
  // or creates the shared experiment, and writes interleaved trial numbers.
  auto worker = [&](int w) {
    try {
      auto store = must_open(path);
      StatusOr<int64_t> created = store->create_experiment("shared", "{}");
      int64_t exp = created.is_ok() ? created.value() : store->find_experiment("shared").value().id;
      for (int64_t i = 0; i < kPerThread; ++i) {
        int64_t number = 2 * i + w;
        int64_t id = store->add_trial(exp, number, "h", "k", "c", seed_for(number));
        store->set_running(id, "thread-" + std::to_string(w));
        store->heartbeat(id);
        store->add_intermediate(id, 1, "accuracy", 0.5);
        store->put_artifact(id, "weights", std::string(1024, static_cast<char>(w)));
        store->finish_trial(id, TrialState::kComplete, "", metrics_for(number));
        if (i % 25 == 0) store->trials(exp);  // readers run beside the other writer
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      errors.push_back(e.what());
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  ASSERT_TRUE(errors.empty()) << errors.front();

  auto store = must_open(path);
  ASSERT_EQ(store->experiments().size(), 1u);
  int64_t exp = store->find_experiment("shared").value().id;
  std::vector<TrialRow> rows = store->trials(exp);
  ASSERT_EQ(rows.size(), static_cast<size_t>(2 * kPerThread));
  for (const TrialRow& t : rows) {
    EXPECT_EQ(t.state, TrialState::kComplete);
    EXPECT_EQ(t.worker, t.number % 2 == 0 ? "thread-0" : "thread-1");
  }
  expect_consistent(rows);
  EXPECT_EQ(store->trials_with_artifact(exp, "weights").size(),
            static_cast<size_t>(2 * kPerThread));
}

}  // namespace
}  // namespace sylva::experiments
