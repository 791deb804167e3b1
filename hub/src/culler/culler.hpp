#pragma once
// The built-in idle culler (TLJH's services.cull.*, as jupyterhub-idle-culler
// does it, without a separate process).
//
// Every `every` seconds: a running server idle for longer than `timeout` is
// stopped, and so is any server older than `max_age` (when non-zero), at most
// `concurrency` stops at a time.  Idle means: no proxied request or WebSocket
// traffic (Spawner::note_activity) and no activity reported by the server
// itself (its /api/status last_activity, which counts kernels at work) for
// `timeout` seconds.  With `users`, users idle for `timeout` who have no
// server are deleted through the hub's hook (admins are never deleted).
//
// Thread-safety: run_once() may be called from any thread but not
// concurrently with itself; start() runs it on the culler's own thread.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hub/config.hpp"

namespace hub {

class Spawner;

struct CullReport {
  std::vector<std::string> stopped_idle;
  std::vector<std::string> stopped_age;
  std::vector<std::string> deleted_users;
};

class Culler {
 public:
  struct UserActivity {
    std::string name;
    bool admin = false;
    std::chrono::system_clock::time_point last_activity{};
  };
  struct Hooks {
    // services.cull.users: the hub's users and their last activity, and how to delete one.
    std::function<std::vector<UserActivity>()> list_users;
    std::function<void(const std::string& name)> delete_user;
    // Told about each action, for the hub's log.
    std::function<void(const std::string& line)> log;
  };

  // `config` is read at every pass (a reload takes effect at the next one).
  Culler(Spawner& spawner, std::function<CullConfig()> config, Hooks hooks);
  ~Culler();
  Culler(const Culler&) = delete;
  Culler& operator=(const Culler&) = delete;

  // Starts the periodic passes (when services.cull.enabled).
  void start();
  // Stops the thread; a pass in progress finishes first.
  void stop();

  // One pass now.  Blocks until the stops it began have completed.
  CullReport run_once(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

 private:
  void loop();

  Spawner& spawner_;
  std::function<CullConfig()> config_;
  Hooks hooks_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// Parses the ISO 8601 UTC times Jupyter writes ("2026-11-26T05:54:00.298644Z",
// also "+00:00"); std::nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(const std::string& text);

}  // namespace hub
