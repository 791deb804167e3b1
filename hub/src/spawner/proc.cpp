#include "spawner/proc.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace hub::spawner {
namespace {

std::string read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<uid_t> real_uid_of(pid_t pid) {
  std::string status = read_small_file("/proc/" + std::to_string(pid) + "/status");
  auto pos = status.find("\nUid:");
  if (pos == std::string::npos) return std::nullopt;
  return static_cast<uid_t>(std::strtoul(status.c_str() + pos + 5, nullptr, 10));
}

}  // namespace

const std::string& boot_id() {
  static const std::string id = [] {
    std::string s = read_small_file("/proc/sys/kernel/random/boot_id");
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }();
  return id;
}

std::optional<ProcIdentity> parse_proc_stat(const std::string& text) {
  auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return std::nullopt;
  std::istringstream rest(text.substr(close + 2));
  ProcIdentity id;
  rest >> id.state >> id.ppid;
  // Fields after ppid up to starttime (field 22): pgrp session tty_nr tpgid
  // flags minflt cminflt majflt cmajflt utime stime cutime cstime priority
  // nice num_threads itrealvalue = 17 fields.
  std::string skip;
  for (int i = 0; i < 17 && rest; ++i) rest >> skip;
  rest >> id.start_ticks;
  if (!rest) return std::nullopt;
  return id;
}

std::optional<ProcIdentity> process_identity(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto id = parse_proc_stat(read_small_file("/proc/" + std::to_string(pid) + "/stat"));
  if (!id || id->state == 'Z' || id->state == 'X') return std::nullopt;
  auto uid = real_uid_of(pid);
  if (!uid) return std::nullopt;
  id->uid = *uid;
  return id;
}

int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool signal_pidfd(int pidfd, int sig) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0;
}

bool signal_if_same(pid_t pid, std::int64_t start_ticks, int sig) {
  int fd = open_pidfd(pid);
  if (fd < 0) return false;
  bool ok = false;
  auto id = process_identity(pid);
  if (id && id->start_ticks == start_ticks) ok = signal_pidfd(fd, sig);
  ::close(fd);
  return ok;
}

std::vector<ProcRef> descendants(pid_t root) {
  std::multimap<pid_t, ProcRef> children;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      auto id = parse_proc_stat(read_small_file(std::string("/proc/") + e->d_name + "/stat"));
      if (!id || id->state == 'Z') continue;
      children.emplace(id->ppid, ProcRef{static_cast<pid_t>(pid), id->start_ticks});
    }
    ::closedir(d);
  }
  std::vector<ProcRef> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    auto [b, e] = children.equal_range(p);
    for (auto it = b; it != e; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second.pid);
    }
  }
  return out;
}

void kill_all_of_uid(uid_t uid) {
  if (uid == 0 || ::geteuid() != 0) return;
  pid_t pid = ::fork();
  if (pid == 0) {
    // kill(-1) as that user reaches exactly that user's processes.
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(1);
    ::kill(-1, SIGKILL);
    ::_exit(0);
  }
  if (pid > 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace hub::spawner
