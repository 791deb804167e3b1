#include "spawner/launch.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "hub/spawner.hpp"
#include "spawner/proc.hpp"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace hub::spawner {
namespace {

enum Step : int {
  kSetsid = 1, kStdin, kStdout, kCgroup, kRlimit, kGroups, kGid, kUid, kRegainRoot, kNoNewPrivs, kChdir, kExec,
};

const char* step_name(int step) {
  switch (step) {
    case kSetsid: return "setsid";
    case kStdin: return "open /dev/null";
    case kStdout: return "redirect output to the log";
    case kCgroup: return "join the cgroup";
    case kRlimit: return "set the memory rlimit";
    case kGroups: return "setgroups";
    case kGid: return "setresgid";
    case kUid: return "setresuid";
    case kRegainRoot: return "drop root for good";
    case kNoNewPrivs: return "set no_new_privs";
    case kChdir: return "chdir to the home";
    case kExec: return "exec";
  }
  return "start";
}

struct ChildError {
  int step;
  int err;
};

[[noreturn]] void child_fail(int pipe_fd, int step) {
  ChildError e{step, errno};
  (void)!::write(pipe_fd, &e, sizeof e);
  ::_exit(127);
}

void write_all(int fd, const char* s) {
  std::size_t n = std::strlen(s);
  (void)!::write(fd, s, n);
}

}  // namespace

Launched launch(const LaunchSpec& spec) {
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  int max_fd = nofile.rlim_cur == RLIM_INFINITY || nofile.rlim_cur > 65536 ? 65536 : static_cast<int>(nofile.rlim_cur);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw SpawnerError("spawn", std::string("pipe: ") + std::strerror(errno));

  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw SpawnerError("spawn", std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    int rfd = report[1];
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s) {
      if (s == SIGKILL || s == SIGSTOP) continue;
      struct sigaction sa {};
      sa.sa_handler = SIG_DFL;
      ::sigaction(s, &sa, nullptr);
    }
    if (::setsid() < 0) child_fail(rfd, kSetsid);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, 0) < 0) child_fail(rfd, kStdin);
    if (::dup2(spec.log_fd, 1) < 0 || ::dup2(spec.log_fd, 2) < 0) child_fail(rfd, kStdout);
    int oom = ::open("/proc/self/oom_score_adj", O_WRONLY);
    if (oom >= 0) {
      write_all(oom, "500");
      ::close(oom);
    }
    for (const auto& procs : spec.cgroup_procs) {
      int cg = ::open(procs.c_str(), O_WRONLY);
      if (cg < 0 || ::write(cg, "0", 1) != 1) child_fail(rfd, kCgroup);
      ::close(cg);
    }
    if (spec.rlimit_data) {
      rlimit rl{*spec.rlimit_data, *spec.rlimit_data};
      if (::setrlimit(RLIMIT_DATA, &rl) != 0) child_fail(rfd, kRlimit);
    }
    if (spec.identity) {
      const Identity& id = *spec.identity;
      if (::setgroups(id.groups.size(), id.groups.data()) != 0) child_fail(rfd, kGroups);
      if (::setresgid(id.gid, id.gid, id.gid) != 0) child_fail(rfd, kGid);
      if (::setresuid(id.uid, id.uid, id.uid) != 0) child_fail(rfd, kUid);
      if (id.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
        errno = EPERM;
        child_fail(rfd, kRegainRoot);
      }
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(rfd, kNoNewPrivs);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) child_fail(rfd, kChdir);
    ::umask(022);
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < max_fd; ++fd) {
        if (fd != rfd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
    }
    ::execve(spec.executable.c_str(), argv.data(), envp.data());
    child_fail(rfd, kExec);
  }

  ::close(report[1]);
  int pidfd = open_pidfd(pid);
  ChildError e{};
  ssize_t n;
  while ((n = ::read(report[0], &e, sizeof e)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof e)) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (pidfd >= 0) ::close(pidfd);
    std::string what = step_name(e.step);
    if (e.step == kExec) what += " " + spec.executable;
    throw SpawnerError("spawn", "cannot start the server: " + what + ": " + std::strerror(e.err));
  }
  if (pidfd < 0) {
    int err = errno;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw SpawnerError("spawn", std::string("pidfd_open: ") + std::strerror(err));
  }
  return Launched{pid, pidfd};
}

}  // namespace hub::spawner
