// ChildProcess: one run of a trial's command, so that no process outlives
// its trial whatever happens to Sylva.
//
// The command runs as `/bin/sh -c COMMAND` under a small guard program
// (guard/trial_guard.cc, built as sylva-trial-guard beside sylva), the
// leader of a new process group:
//
//   sylva (a worker thread) --posix_spawn--> guard (group leader) --fork--> sh -c COMMAND
//
// posix_spawn does not copy Sylva's address space (LibTorch makes it large),
// so a trial's start costs about a millisecond. The guard is told of its parent's death
// (PR_SET_PDEATHSIG) and then kills the whole group with SIGKILL, so a SIGKILL of Sylva itself
// leaves no trial process behind; it ignores the SIGTERM that stops a trial (the command gets it
// and may save a checkpoint) and passes the command's exit status, or its killing signal, on as its
// own. Stopping a trial (a timeout, a pruner, Ctrl-C) sends SIGTERM to the group and SIGKILL after
// a grace period; when the command ends, whatever it left running in its group is killed before the
// guard is reaped (so the group id cannot be reused meanwhile). stdin is /dev/null; stdout and
// stderr come through pipes that the caller drains with poll().
//
// Not thread-safe: one thread owns a ChildProcess. Torch-free.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/status.h"

namespace sylva::evaluators {

struct ChildOptions {
  std::string command;           // run by /bin/sh -c
  std::string directory;         // its working directory
  std::vector<std::string> env;  // NAME=VALUE, added to (and overriding) this process's
};

// How the command ended.
struct ChildExit {
  bool exited = false;  // normal exit with `code`
  int code = 0;
  int signal = 0;                // killed by this signal
  std::string describe() const;  // "exit status 3", "killed by signal 9 (SIGKILL)"
};

// The guard program: $SYLVA_TRIAL_GUARD, else sylva-trial-guard beside this
// executable, else the one this build made; "" when none is found.
std::string guard_program();

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // kills and reaps a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  Status start(const ChildOptions& options);

  // Waits up to `timeout` for output or the end of the command, appending
  // what arrived to `out` / `err`. Returns true once the command has ended
  // and both pipes are drained (exit() is then set).
  bool poll(std::chrono::milliseconds timeout, std::string& out, std::string& err);

  // SIGTERM to the whole group (once); kill() sends SIGKILL.
  void terminate();
  void kill();
  bool terminated() const { return terminated_; }

  pid_t pid() const { return pid_; }
  const ChildExit& exit_status() const { return exit_; }

 private:
  void read_pipe(int& fd, std::string& into);
  bool reap_if_ended();

  pid_t pid_ = -1;  // the guard, leader of the group
  int out_fd_ = -1, err_fd_ = -1;
  int pid_fd_ = -1;  // pidfd of the guard, or -1
  bool ended_ = false;
  std::chrono::steady_clock::time_point ended_at_;
  bool terminated_ = false;
  ChildExit exit_;
};

}  // namespace sylva::evaluators
