#pragma once
// Running a child program without a shell.
//
// Arguments go straight to execve(2): no word splitting, no globbing, no
// metacharacters, so user-supplied values can be passed safely.  The call
// blocks the calling thread until the child exits; never call it on an I/O
// thread.  Thread-safe: every call is independent.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace common {

struct ProcessOptions {
  // Working directory of the child; empty means the caller's.
  std::string cwd;
  // Environment of the child.  When `clear_env` is false the caller's
  // environment is inherited and `env` entries are added or replace existing
  // ones; when true the child gets exactly `env`.
  bool clear_env = false;
  std::map<std::string, std::string> env;
  // Written to the child's stdin, which is then closed.  Without it the child
  // reads /dev/null.
  std::optional<std::string> stdin_data;
  // Send stderr into the same stream as stdout (like 2>&1), keeping their order.
  bool merge_stderr = false;
  // Killed (SIGTERM, then SIGKILL after 2 s) when it runs longer than this.
  std::optional<std::chrono::milliseconds> timeout;
  // Called with each complete line of output (stdout, or both when merged),
  // without the newline, as it arrives.  Output is still collected.
  std::function<void(const std::string& line)> on_line;
  // Keep at most this many bytes of each collected stream (the tail survives).
  std::size_t max_capture = 16 * 1024 * 1024;
  // File-creation mask of the child (e.g. 022 so what it writes is readable by
  // all and writable only by its owner); unset means the caller's.
  std::optional<unsigned> umask;
  // The child is sent SIGKILL when the thread that started it dies (Linux
  // PR_SET_PDEATHSIG), so a killed caller never leaves it running unattended.
  // Mind that this is the calling *thread*: start such children from a thread
  // that outlives them.
  bool die_with_parent = false;
  // Called on the calling thread right after the child started, with its pid
  // (which is also its process group id).  Must not throw.
  std::function<void(int pid)> on_start;
  // Run the child as another user (needs root): supplementary groups, then
  // gid, then uid are set before exec, and no_new_privs, so neither the
  // program nor anything it runs can regain privileges.  The child's start
  // fails (ProcessError) when any of these calls fails.
  struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups; empty: just gid
  };
  std::optional<RunAs> run_as;
};

struct ProcessResult {
  int exit_code = -1;    // exit status when the child exited normally, else -1
  int term_signal = 0;   // the signal that ended it, else 0
  bool timed_out = false;
  std::string out;       // stdout (with stderr when merged)
  std::string err;       // stderr when not merged
  std::chrono::milliseconds duration{0};
  bool ok() const { return exit_code == 0; }
};

class ProcessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs argv[0] (looked up on PATH when it has no slash) with argv.  Throws
// ProcessError when the program cannot be started at all.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Full path of `program` found on PATH, or std::nullopt.
std::optional<std::string> find_on_path(const std::string& program);

}  // namespace common
