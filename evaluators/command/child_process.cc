#include "evaluators/command/child_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>

extern char** environ;

namespace sylva::evaluators {
namespace {

void close_quietly(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

bool executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

}  // namespace

std::string guard_program() {
  if (const char* given = getenv("SYLVA_TRIAL_GUARD")) {
    return executable(given) ? given : "";
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = 0;
    std::string dir = self;
    dir = dir.substr(0, dir.rfind('/'));
    if (executable(dir + "/sylva-trial-guard")) return dir + "/sylva-trial-guard";
  }
#ifdef SYLVA_TRIAL_GUARD_BUILT
  if (executable(SYLVA_TRIAL_GUARD_BUILT)) return SYLVA_TRIAL_GUARD_BUILT;
#endif
  return "";
}

std::string ChildExit::describe() const {
  if (exited) return fmt::format("exit status {}", code);
  const char* name = sigabbrev_np(signal);
  return fmt::format("killed by signal {}{}", signal,
                     name ? fmt::format(" (SIG{})", name) : std::string());
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !ended_) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  close_quietly(out_fd_);
  close_quietly(err_fd_);
  close_quietly(pid_fd_);
}

Status ChildProcess::start(const ChildOptions& options) {
  // Everything the child needs is made before fork().
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const std::string& kv : options.env) {
    const size_t eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  std::vector<std::string> env_text;
  for (const auto& [k, v] : env) env_text.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_text) envp.push_back(s.data());
  envp.push_back(nullptr);
  const std::string guard = guard_program();
  if (guard.empty()) {
    return Status::failed_precondition(
        "cannot find sylva-trial-guard (built beside sylva; or set SYLVA_TRIAL_GUARD)");
  }
  const std::string parent = std::to_string(getpid());
  std::vector<std::string> args_text = {guard, parent, options.directory, options.command};
  std::vector<char*> args;
  for (std::string& s : args_text) args.push_back(s.data());
  args.push_back(nullptr);

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::io_error(fmt::format("pipe: {}", strerror(errno)));
  if (pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Status::io_error(fmt::format("pipe: {}", strerror(errno)));
  }
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&files, out[1], 1);
  posix_spawn_file_actions_adddup2(&files, err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // the leader of a new group
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, guard.c_str(), &files, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (spawned != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return Status::io_error(fmt::format("cannot start {}: {}", guard, strerror(spawned)));
  }
  pid_ = pid;
  out_fd_ = out[0];
  err_fd_ = err[0];
  // Readable once the guard has ended, so that poll() wakes at once (Linux
  // 5.3 and later; without it the end is polled for).
#ifdef SYS_pidfd_open
  pid_fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#endif
  return Status::ok();
}

void ChildProcess::read_pipe(int& fd, std::string& into) {
  char buf[65536];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n > 0) {
    into.append(buf, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    close_quietly(fd);
  }
}

bool ChildProcess::reap_if_ended() {
  if (ended_) return true;
  siginfo_t info = {};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid != pid_) {
    return false;
  }
  // The guard has ended: sweep what the command left in its group while the
  // guard's zombie still holds the group id, then reap it.
  ::kill(-pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  ended_ = true;
  ended_at_ = std::chrono::steady_clock::now();
  exit_.exited = WIFEXITED(status);
  exit_.code = exit_.exited ? WEXITSTATUS(status) : 0;
  exit_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return true;
}

bool ChildProcess::poll(std::chrono::milliseconds timeout, std::string& out, std::string& err) {
  const bool ended = reap_if_ended();
  struct pollfd fds[3];
  int n = 0;
  if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) {
    if (ended) return true;
    // Both pipes closed by the command: wait for its end.
    if (pid_fd_ >= 0) {
      struct pollfd end = {pid_fd_, POLLIN, 0};
      ::poll(&end, 1, static_cast<int>(timeout.count()));
    } else {
      usleep(static_cast<useconds_t>(std::min<int64_t>(timeout.count(), 20) * 1000));
    }
    return reap_if_ended();
  }
  if (!ended && pid_fd_ >= 0) fds[n++] = {pid_fd_, POLLIN, 0};
  // A process that left the group (setsid) may hold the pipes open: after
  // the end, what it writes is drained for two seconds at most.
  if (ended && std::chrono::steady_clock::now() - ended_at_ > std::chrono::seconds(2)) {
    close_quietly(out_fd_);
    close_quietly(err_fd_);
    return true;
  }
  // Once ended, the pipes only need draining.
  const int ready = ::poll(fds, n, ended ? 0 : static_cast<int>(timeout.count()));
  if (ready > 0) {
    for (int i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)) || fds[i].fd == pid_fd_) continue;
      if (fds[i].fd == out_fd_)
        read_pipe(out_fd_, out);
      else if (fds[i].fd == err_fd_)
        read_pipe(err_fd_, err);
    }
  } else if (ended) {
    // Nothing left to read and nobody holds the write ends any more.
    close_quietly(out_fd_);
    close_quietly(err_fd_);
  }
  return ended && out_fd_ < 0 && err_fd_ < 0;
}

void ChildProcess::terminate() {
  if (pid_ <= 0 || ended_ || terminated_) return;
  terminated_ = true;
  ::kill(-pid_, SIGTERM);
}

void ChildProcess::kill() {
  if (pid_ <= 0 || ended_) return;
  ::kill(-pid_, SIGKILL);
}

}  // namespace sylva::evaluators
