#pragma once
// The spawner: one Jupyter server per hub user, started, watched, stopped and
// re-adopted across hub restarts.
//
// What a start does (on a spawner thread, never the caller's):
//   1. system mode: ensures the unix account `jupyter-<name>` (see
//      system_username()), its home /home/<account> (mode o-rwx on creation)
//      and its groups jupyterhub-users (+ jupyterhub-admins for admins);
//      local mode: ensures P/home/<name> (mode 0700).
//   2. picks a free port on 127.0.0.1 and a fresh random token, and runs the
//      single-user command (SpawnerOptions::cmd, else the first available of
//      P/user/bin/jupyter-lab, `P/user/bin/python -m jupyter_server`,
//      `/usr/bin/python3 -m jupyter_server`) in its own session (setsid), so
//      it outlives the hub, with a clean environment, the user's identity
//      (system mode), no_new_privs, the memory/CPU limits, and its output
//      going to a log file.  The token travels in the environment
//      (JUPYTER_TOKEN, JUPYTERHUB_API_TOKEN), never in argv.
//   3. records pid, process start time, port and token in SQLite (tables
//      `servers` and `server_exits` of the hub's migrations), so a new
//      hub process can adopt the server;
//   4. polls `<prefix>api/status` with the token every 10 ms (20 ms after
//      2 s, 50 ms after 10 s) until it answers 200, the process dies, or the
//      start timeout passes.
// Progress of each start is published as ProgressEvents (JupyterHub's
// progress-event shape) to subscribers, for a pending page's SSE stream.
//
// A server that exits on its own is noticed at once (pidfd), reaped when it
// is the hub's child, its leftover processes (kernels) are killed, its log
// tail is kept (ServerInfo::last_exit, also in the database), and the
// listener is told.  Restarting it on the next request is the caller's job:
// start() again.
//
// The Spawner never stops servers on destruction: they keep running and the
// next Spawner on the same database adopts them (adopt()).
//
// Thread-safety: every public member may be called from any thread,
// including I/O threads: none of them blocks on I/O, a child process or
// SQLite, except adopt() and the wait_*() helpers, which block by design.
// Callbacks (listener, progress subscribers) run on spawner threads, with no
// spawner lock held except the per-server event lock for progress callbacks:
// they must be quick (post to your own executor) and must not call
// subscribe_progress() for the same user.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub {

struct HubConfig;

// Failures the caller can show: `code` is one of
//   invalid_name, account, spawn, config, database.
// (Failures of a start itself are not thrown: they arrive as a failed
// ProgressEvent and ServerInfo::last_exit.)
class SpawnerError : public std::runtime_error {
 public:
  SpawnerError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

enum class ServerState { stopped, starting, running, stopping };
const char* to_string(ServerState s);

// How limits.memory / limits.cpu are enforced on this machine.
struct LimitsInfo {
  // "cgroup2": a cgroup v2 per server (memory.max, cpu.max);
  // "cgroup1": cgroup v1 directories per server (memory.limit_in_bytes,
  //            cpu.cfs_quota_us), on hybrid systems;
  // "rlimit": per-process RLIMIT_DATA for memory, CPU not enforced;
  // "none": no limit configured.
  std::string mechanism;
  std::string memory;  // human-readable: "1073741824 bytes via cgroup memory.max", "not limited", ...
  std::string cpu;     // "0.5 CPU via cgroup cpu.max", "not enforced (needs cgroup v2)", ...
  std::string detail;  // why this mechanism (e.g. "cgroup v2 has no memory controller here")
  std::string cgroup_base;  // the parent cgroup(s) of the servers, when cgroup2/cgroup1
};

struct ProgressEvent {
  int progress = 0;      // 0..100
  std::string message;   // for people; never contains the token
  bool ready = false;    // the last event of a successful start
  bool failed = false;   // the last event of a failed start
  std::string url;       // with ready: the server's URL prefix, "/user/<name>/"
};

struct ServerExit {
  std::chrono::system_clock::time_point at{};
  std::optional<int> exit_code;    // when the hub saw the exit status (its own child)
  std::optional<int> term_signal;  // when it was killed by a signal
  bool requested = false;          // stopped on request (stop(), start timeout) rather than died
  std::string reason;              // "stopped", "exited with status 1", "killed by signal 9 (Killed)",
                                   // "did not answer within 60 s", "adopted server vanished", ...
  std::string log_tail;            // last bytes of the server's log at that moment
};

// A snapshot.  Holds the token: hand it only to the proxy, never to a page.
struct ServerInfo {
  std::string user;
  ServerState state = ServerState::stopped;
  pid_t pid = 0;
  int port = 0;
  std::string token;
  std::string url_prefix;  // "<base_url>user/<escaped name>/" — the path the proxy forwards
  std::string landing;     // path under url_prefix the user should land on: "lab", "tree" or ""
  std::string unix_user;   // the account the server runs as
  uid_t uid = 0;
  std::string home;
  std::string log_path;
  std::string cgroup;      // its cgroup directory, when limits use cgroup2
  bool adopted = false;    // taken over from an earlier hub process
  std::chrono::system_clock::time_point started{};
  std::optional<std::chrono::system_clock::time_point> ready_at;
  std::chrono::system_clock::time_point last_activity{};
  std::optional<ServerExit> last_exit;  // how the previous run ended
};

// What the proxy needs per request: cheaper than a ServerInfo (no log tail).
struct ServerRoute {
  ServerState state = ServerState::stopped;
  int port = 0;
  std::string token;
  std::string url_prefix;
  std::string landing;
};

struct UserSpec {
  std::string name;    // the hub's user name (already validated by the hub)
  bool admin = false;  // system mode: membership of jupyterhub-admins
};

struct SpawnerOptions {
  std::string prefix = "/opt/tljh";  // P: P/user is the shared environment, P/home the local-mode homes
  std::string mode = "local";        // "local" | "system"
  std::vector<std::string> cmd;      // spawner.cmd; empty: auto-detect
  std::chrono::milliseconds start_timeout{60000};
  std::chrono::milliseconds stop_grace{5000};  // SIGTERM → SIGKILL
  std::optional<std::int64_t> memory_limit_bytes;
  std::optional<double> cpu_limit;
  std::string default_app = "jupyterlab";  // jupyterlab | classic
  std::string base_url = "/";              // the hub's base_url (ends with '/')
  std::string hub_api_url;                 // e.g. http://127.0.0.1:8000/hub/api; "" leaves JUPYTERHUB_API_URL unset
  std::string db_path;                     // SQLite file shared with the hub (P/state/hub.sqlite)
  std::string log_dir;                     // server logs; "" = P/state/servers
  std::string home_root;                   // local mode homes; "" = P/home
  std::string system_home_root = "/home";  // system mode homes
  // Where to create per-server cgroups; "" = auto-detect (see LimitsInfo),
  // "none" = never use cgroups.
  std::string cgroup_base;
  std::chrono::milliseconds activity_flush_interval{10000};
};

// The spawner's options for the hub at `prefix` under `config` (spawner.*,
// limits.*, user_environment.default_app, base_url); db_path is
// P/state/hub.sqlite.  Throws ConfigError for an unparsable limits.memory.
SpawnerOptions spawner_options(const std::string& prefix, const HubConfig& config);

// TLJH's unix account name for a hub user: "jupyter-<name>", and when that
// is 26 characters or longer, its first 26 characters, '-', and the first 5
// hex digits of the SHA-256 of the whole "jupyter-<name>" (characters are
// Unicode code points, as in TLJH).
std::string system_username(const std::string& hub_name);

class Spawner {
 public:
  // Opens db_path (creating the tables), detects the limits mechanism and
  // starts the monitor thread.  Adopts nothing yet: call adopt().
  // Throws SpawnerError("config", ...) for a bad mode or unusable paths.
  explicit Spawner(SpawnerOptions options);
  // Stops the spawner's own threads.  Running servers are left running.
  ~Spawner();
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  struct AdoptReport {
    std::vector<std::string> adopted;    // running again under this hub
    std::vector<std::string> forgotten;  // dead, replaced or not answering (killed when ours)
  };
  // Takes over the servers recorded in the database: a server is adopted when
  // its pid is still the same process (boot id, /proc start time, uid) and its
  // API answers with the stored token; others are forgotten (a same-process
  // server that does not answer within `answer_timeout` is stopped).  Blocks;
  // checks run in parallel.  Call once, before serving.
  AdoptReport adopt(std::chrono::milliseconds answer_timeout = std::chrono::milliseconds(15000));

  // Begins starting the user's server and returns at once.  Returns false
  // (and does nothing) when it is already starting or running; a stopping
  // server is started again once it has stopped.  Throws
  // SpawnerError("invalid_name") for a name that cannot be a folder name.
  bool start(const UserSpec& user);

  // Begins stopping the server and returns at once; false when it is not
  // running or starting.  A start in progress is cancelled.
  bool stop(const std::string& user);

  std::optional<ServerInfo> find(const std::string& user) const;
  std::vector<ServerInfo> list() const;
  // The state, port and token of the user's server (for each proxied request).
  std::optional<ServerRoute> route(const std::string& user) const;

  // Called after each state change of any server (starting, running,
  // stopping, stopped — including deaths), with the new snapshot.  Set it
  // before the first start()/adopt(); later changes are not thread-safe.
  void set_listener(std::function<void(const ServerInfo&)> listener);

  class Subscription {
   public:
    virtual ~Subscription() = default;  // unsubscribes; no callback runs after it returns
  };
  // Follows the current (or most recent) start of the user's server: the
  // events so far are replayed at once, on the calling thread, then new ones
  // arrive on spawner threads, in order, until one with ready or failed.
  // A server that is running replays a ready event.  Returns nullptr when the
  // user has no server starting or running and no recorded start.
  std::unique_ptr<Subscription> subscribe_progress(const std::string& user,
                                                   std::function<void(const ProgressEvent&)> fn);

  // Records activity on the user's server (a proxied request or WebSocket
  // message).  Cheap: memory only; written to the database in batches.
  void note_activity(const std::string& user,
                     std::chrono::system_clock::time_point when = std::chrono::system_clock::now());

  // The last `max_bytes` of the user's current (or last) server log; "" when none.
  // Reads a file: keep it off I/O threads.
  std::string log_tail(const std::string& user, std::size_t max_bytes = 16384) const;

  // Takes the parts of `options` that may change while servers run — cmd,
  // limits, timeouts, default_app, hub_api_url — for the next starts
  // (a config reload).  The rest (prefix, mode, paths, base_url) needs a new
  // Spawner.  Running servers keep what they started with.
  void reconfigure(const SpawnerOptions& options);

  // A snapshot: what applies to the next start.
  LimitsInfo limits() const;
  SpawnerOptions options() const;

  // Blocking helpers for the CLI and tests.  Wait until the server is running
  // (or no longer starting) / has stopped; return the final snapshot.  A
  // state counts as reached once the listener has returned from hearing it,
  // so the listener's side is up to date when these return (never call them
  // from the listener for the same user: they would time out).
  std::optional<ServerInfo> wait_until_settled(const std::string& user, std::chrono::milliseconds timeout);
  bool wait_until_stopped(const std::string& user, std::chrono::milliseconds timeout);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hub
