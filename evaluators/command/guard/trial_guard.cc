// sylva-trial-guard PARENT_PID DIRECTORY COMMAND: runs `/bin/sh -c COMMAND`
// in DIRECTORY for the command evaluator (child_process.h) and makes sure
// nothing of it outlives Sylva.
//
// Sylva spawns it (posix_spawn: no copy of Sylva's large address space) as
// the leader of a new process group. It asks to be told of its parent's
// death (PR_SET_PDEATHSIG), and then kills the whole group with SIGKILL; it
// ignores the SIGTERM that stops a trial (the command, in the same group,
// gets it and may save a checkpoint) and ends with the command's exit
// status, or by the signal that killed the command. A tiny program of its
// own so that forking the command is cheap. No dependencies.
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>

namespace {

extern "C" void ignore_signal(int) {}

void say(const char* text) {
  if (write(2, text, strlen(text)) < 0) _exit(126);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    say("usage: sylva-trial-guard PARENT_PID DIRECTORY COMMAND (run by sylva)\n");
    return 2;
  }
  const pid_t parent = static_cast<pid_t>(atol(argv[1]));
  const int death = SIGRTMIN;
  sigset_t handled, none;
  sigemptyset(&handled);
  sigemptyset(&none);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, death}) sigaddset(&handled, s);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  // A handler (never run: the signal is blocked and waited for) keeps
  // SIGCHLD from being discarded where its disposition was to ignore it.
  struct sigaction on_child = {};
  on_child.sa_handler = ignore_signal;
  sigaction(SIGCHLD, &on_child, nullptr);
  prctl(PR_SET_PDEATHSIG, death);
  if (getppid() != parent) {  // Sylva died before the line above
    kill(0, SIGKILL);
    return 137;
  }
  // Whatever of Sylva's was not close-on-exec (other trials' log files).
  bool closed = false;
#ifdef SYS_close_range
  closed = syscall(SYS_close_range, 3U, ~0U, 0U) == 0;
#endif
  if (!closed) {
    const long most = sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (most > 0 && most < 65536 ? most : 65536); ++fd) close(fd);
  }
  if (chdir(argv[2]) != 0) {
    say("sylva: cannot enter the trial directory\n");
    return 126;
  }
  // Orphans of the command (a shell's children when the shell dies) become
  // the guard's, so that it can wait for them and reap them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  const pid_t command = fork();
  if (command < 0) return 126;
  if (command == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the guard is gone: so is the command
    for (int s = 1; s < NSIG; ++s) {
      if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);  // nothing ignored is inherited
    }
    sigprocmask(SIG_SETMASK, &none, nullptr);
    char sh[] = "sh", dash_c[] = "-c";
    char* args[] = {sh, dash_c, argv[3], nullptr};
    execv("/bin/sh", args);
    say("sylva: cannot run /bin/sh\n");
    _exit(127);
  }
  // Once Sylva stops the trial (SIGTERM to the group), the guard outlives the
  // shell until every process of the command has ended, so that a script's
  // handler gets the whole --kill-grace (Sylva sends SIGKILL after it).
  bool stopping = false;
  bool command_done = false;
  int command_status = 0;
  for (;;) {
    struct timespec second = {1, 0};
    siginfo_t info;
    const int sig = sigtimedwait(&handled, &info, &second);
    if (sig == death || getppid() != parent) {
      kill(0, SIGKILL);
      return 137;
    }
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) stopping = true;
    for (;;) {
      int status = 0;
      const pid_t done = waitpid(-1, &status, WNOHANG);
      if (done <= 0) break;
      if (done == command) {
        command_done = true;
        command_status = status;
      }
    }
    if (!command_done) continue;
    if (stopping) {
      // Wait while any process of the command is left (exited or not).
      siginfo_t left = {};
      if (waitid(P_ALL, 0, &left, WEXITED | WNOHANG | WNOWAIT) == 0) continue;
    }
    break;
  }
  if (WIFEXITED(command_status)) return WEXITSTATUS(command_status);
  const int by = WTERMSIG(command_status);
  const struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // the command's core file, if any, is the one to keep
  signal(by, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, by);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
  kill(getpid(), by);
  return 128 + by;
}
