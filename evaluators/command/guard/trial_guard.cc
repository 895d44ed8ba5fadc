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
#ifdef SYS_close_range
  syscall(SYS_close_range, 3U, ~0U, 0U);  // whatever of Sylva's was not close-on-exec
#endif
  if (chdir(argv[2]) != 0) {
    say("sylva: cannot enter the trial directory\n");
    return 126;
  }
  const pid_t command = fork();
  if (command < 0) return 126;
  if (command == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the guard is gone: so is the command
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE}) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    char sh[] = "sh", dash_c[] = "-c";
    char* args[] = {sh, dash_c, argv[3], nullptr};
    execv("/bin/sh", args);
    say("sylva: cannot run /bin/sh\n");
    _exit(127);
  }
  for (;;) {
    struct timespec second = {1, 0};
    siginfo_t info;
    const int sig = sigtimedwait(&handled, &info, &second);
    if (sig == death || getppid() != parent) {
      kill(0, SIGKILL);
      return 137;
    }
    int status = 0;
    if (waitpid(command, &status, WNOHANG) != command) continue;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    const int by = WTERMSIG(status);
    signal(by, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, by);
    sigprocmask(SIG_UNBLOCK, &only, nullptr);
    kill(getpid(), by);
    return 128 + by;
  }
}
