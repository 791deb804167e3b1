#pragma once
// Starting one user server process: fork, then in the child only
// async-signal-safe calls (everything is prepared before the fork, since the
// hub has many threads), then execve.
//
// The child gets: its own session (setsid, so it outlives the hub and no
// terminal signal reaches it), default signal dispositions and an empty
// signal mask, stdin from /dev/null, stdout+stderr to `log_fd`, every other
// descriptor closed on exec, oom_score_adj raised (under memory pressure the
// kernel kills users' processes before the hub), the cgroup joined, the
// rlimit set, the identity switched (setgroups, setresgid, setresuid, then a
// check that root cannot be regained), no_new_privs, umask 022, cwd.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace hub::spawner {

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

struct LaunchSpec {
  std::string executable;          // absolute path
  std::vector<std::string> argv;   // argv[0] included
  std::vector<std::string> env;    // "KEY=value", the child's whole environment
  std::string cwd;
  int log_fd = -1;
  std::optional<Identity> identity;      // switch to this user (requires root)
  std::vector<std::string> cgroup_procs;  // "<cgroup dir>/cgroup.procs" files to join (none: no cgroup)
  std::optional<unsigned long> rlimit_data;  // RLIMIT_DATA in bytes
};

struct Launched {
  pid_t pid = 0;
  int pidfd = -1;  // owned by the caller
};

// Throws SpawnerError("spawn", ...) naming the step that failed in the child
// (e.g. "exec /usr/bin/python3: No such file or directory").
Launched launch(const LaunchSpec& spec);

}  // namespace hub::spawner
