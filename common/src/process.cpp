#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace common {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fd, O_CLOEXEC) != 0) throw ProcessError(std::string("pipe: ") + std::strerror(errno));
  }
  ~Pipe() { close_both(); }
  void close_read() { if (fd[0] >= 0) { ::close(fd[0]); fd[0] = -1; } }
  void close_write() { if (fd[1] >= 0) { ::close(fd[1]); fd[1] = -1; } }
  void close_both() { close_read(); close_write(); }
};

std::vector<std::string> build_env(const ProcessOptions& o) {
  std::map<std::string, std::string> merged;
  if (!o.clear_env) {
    for (char** e = environ; e && *e; ++e) {
      std::string kv(*e);
      auto eq = kv.find('=');
      if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  for (const auto& [k, v] : o.env) merged[k] = v;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [k, v] : merged) out.push_back(k + "=" + v);
  return out;
}

void append_capped(std::string& buf, const char* data, std::size_t n, std::size_t cap) {
  buf.append(data, n);
  if (buf.size() > cap) buf.erase(0, buf.size() - cap);
}

}  // namespace

std::optional<std::string> find_on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return program;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= p.size()) {
    auto end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& o) {
  if (argv.empty()) throw ProcessError("run_process: empty argv");
  auto exe = find_on_path(argv[0]);
  if (!exe) throw ProcessError("program not found: " + argv[0]);

  std::vector<std::string> envs = build_env(o);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  Pipe out_pipe, err_pipe, in_pipe, exec_pipe;
  auto started = std::chrono::steady_clock::now();
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw ProcessError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ::setpgid(0, 0);
    if (o.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    }
    if (o.umask) ::umask(static_cast<mode_t>(*o.umask));
    if (o.stdin_data) {
      ::dup2(in_pipe.fd[0], 0);
    } else {
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
    }
    ::dup2(out_pipe.fd[1], 1);
    ::dup2(o.merge_stderr ? out_pipe.fd[1] : err_pipe.fd[1], 2);
    if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) {
      int e = errno;
      (void)!::write(exec_pipe.fd[1], &e, sizeof e);
      ::_exit(127);
    }
    ::signal(SIGPIPE, SIG_DFL);
    if (o.run_as) {
      const auto& ra = *o.run_as;
      const gid_t* groups = ra.groups.empty() ? &ra.gid : ra.groups.data();
      std::size_t ngroups = ra.groups.empty() ? 1 : ra.groups.size();
      if (::setgroups(ngroups, groups) != 0 || ::setgid(ra.gid) != 0 || ::setuid(ra.uid) != 0 ||
          ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        int e = errno;
        (void)!::write(exec_pipe.fd[1], &e, sizeof e);
        ::_exit(127);
      }
    }
    ::execve(exe->c_str(), cargv.data(), cenv.data());
    int e = errno;
    (void)!::write(exec_pipe.fd[1], &e, sizeof e);
    ::_exit(127);
  }

  exec_pipe.close_write();
  out_pipe.close_write();
  err_pipe.close_write();
  in_pipe.close_read();

  int exec_errno = 0;
  if (::read(exec_pipe.fd[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
    ::waitpid(pid, nullptr, 0);
    throw ProcessError("cannot start " + argv[0] + ": " + std::strerror(exec_errno));
  }
  if (o.on_start) o.on_start(static_cast<int>(pid));

  ProcessResult result;
  std::string line_buf;
  std::size_t in_written = 0;
  if (!o.stdin_data) in_pipe.close_write();
  else ::fcntl(in_pipe.fd[1], F_SETFL, O_NONBLOCK);

  bool killed_term = false, killed_hard = false;
  std::chrono::steady_clock::time_point term_at;
  auto feed_lines = [&](const char* data, std::size_t n) {
    if (!o.on_line) return;
    line_buf.append(data, n);
    std::size_t pos;
    while ((pos = line_buf.find('\n')) != std::string::npos) {
      std::string line = line_buf.substr(0, pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      o.on_line(line);
      line_buf.erase(0, pos + 1);
    }
  };

  char buf[65536];
  while (out_pipe.fd[0] >= 0 || err_pipe.fd[0] >= 0) {
    std::vector<pollfd> fds;
    if (out_pipe.fd[0] >= 0) fds.push_back({out_pipe.fd[0], POLLIN, 0});
    if (err_pipe.fd[0] >= 0) fds.push_back({err_pipe.fd[0], POLLIN, 0});
    if (in_pipe.fd[1] >= 0) fds.push_back({in_pipe.fd[1], POLLOUT, 0});
    int wait_ms = 200;
    int r = ::poll(fds.data(), fds.size(), wait_ms);
    if (r < 0 && errno != EINTR) break;
    for (const auto& p : fds) {
      if (!p.revents) continue;
      if (p.fd == in_pipe.fd[1]) {
        const std::string& data = *o.stdin_data;
        ssize_t w = ::write(p.fd, data.data() + in_written, data.size() - in_written);
        if (w > 0) in_written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN) in_written = data.size();
        if (in_written >= data.size()) in_pipe.close_write();
        continue;
      }
      ssize_t n = ::read(p.fd, buf, sizeof buf);
      if (n > 0) {
        if (p.fd == out_pipe.fd[0]) {
          append_capped(result.out, buf, n, o.max_capture);
          feed_lines(buf, n);
        } else {
          append_capped(result.err, buf, n, o.max_capture);
        }
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        if (p.fd == out_pipe.fd[0]) out_pipe.close_read();
        else err_pipe.close_read();
      }
    }
    if (o.timeout) {
      auto now = std::chrono::steady_clock::now();
      if (!killed_term && now - started > *o.timeout) {
        result.timed_out = true;
        ::kill(-pid, SIGTERM);
        killed_term = true;
        term_at = now;
      } else if (killed_term && !killed_hard && now - term_at > std::chrono::seconds(2)) {
        ::kill(-pid, SIGKILL);
        killed_hard = true;
      }
    }
  }
  if (o.on_line && !line_buf.empty()) o.on_line(line_buf);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace common
