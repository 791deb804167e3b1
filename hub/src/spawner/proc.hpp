#pragma once
// Process identity and signalling through /proc and pidfds.
//
// A pid alone can be reused; (boot id, pid, start time in clock ticks since
// boot) names one process for good.  Signals go through pidfds, so a
// process that was verified is the one that gets the signal.
// All functions are thread-safe and read /proc: keep them off I/O threads.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hub::spawner {

struct ProcIdentity {
  std::int64_t start_ticks = 0;  // field 22 of /proc/<pid>/stat
  pid_t ppid = 0;
  uid_t uid = 0;                 // real uid
  char state = '?';              // 'Z' for a zombie
};

// The kernel's boot id (/proc/sys/kernel/random/boot_id), "" when unreadable.
const std::string& boot_id();

// std::nullopt when there is no such process (or it is a zombie).
std::optional<ProcIdentity> process_identity(pid_t pid);

// Parses the text of /proc/<pid>/stat (the command name may hold spaces and
// parentheses).  Exposed for tests.
std::optional<ProcIdentity> parse_proc_stat(const std::string& text);

// A pidfd for `pid`, or -1 (errno set).  The caller owns it.
int open_pidfd(pid_t pid);

// Sends `sig` to the process behind `pidfd`; false when it is gone.
bool signal_pidfd(int pidfd, int sig);

// Sends `sig` to `pid` only if it still has `start_ticks` (no pid-reuse accident).
bool signal_if_same(pid_t pid, std::int64_t start_ticks, int sig);

struct ProcRef {
  pid_t pid = 0;
  std::int64_t start_ticks = 0;
};

// Every living descendant of `root` (children, grandchildren, ...).
std::vector<ProcRef> descendants(pid_t root);

// Kills every process of unix user `uid` (uid must not be 0) with SIGKILL,
// by a short-lived child that takes that uid and calls kill(-1).  Needs root.
void kill_all_of_uid(uid_t uid);

}  // namespace hub::spawner
