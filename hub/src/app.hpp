#pragma once
// The running hub as its modules see it: prefix and paths, the current
// configuration, the router, the worker pools, this thread's database
// connection, life-cycle hooks, and the account services.
//
// One App per `coursehub serve`.  It is created before the server and
// outlives it.  Members are thread-safe as documented one by one.
//
// Adding a module (spawner, proxy, git-pull, env manager...):
//   1. write `void add_<module>_routes(App& app)` that registers routes on
//      app.router() and hooks on app.hooks();
//   2. call it from hub/src/modules.cpp (one line, in register_modules()).
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "hub/config.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "util/worker_pool.hpp"

namespace boost::asio {
class io_context;
}
namespace common {
class Database;
}
namespace gitpuller {
class CredentialStore;
class MirrorCache;
}

namespace hub {

class Auth;
struct Identity;

struct Hooks {
  // After the database is migrated, before the server listens; on a worker
  // thread (may block).  E.g. the spawner re-adopts running servers here.
  std::vector<std::function<void()>> on_start;
  // Once the listeners are bound, before the I/O threads run; on the main
  // thread.  `hub_api_url` is where processes on this machine reach the
  // hub's REST API (e.g. http://127.0.0.1:8000/hub/api): the spawner hands
  // it to single-user servers as JUPYTERHUB_API_URL.
  std::vector<std::function<void(const std::string& hub_api_url)>> on_listening;
  // After SIGHUP (or `coursehub config reload`) installed a new config; on a
  // worker thread.  Not called when the new file was invalid.
  std::vector<std::function<void(const HubConfig& before, const HubConfig& now)>> on_reload;
  // When the hub stops (SIGTERM/SIGINT), after the I/O threads stopped and
  // before the worker pools do; on the main thread.
  std::vector<std::function<void()>> on_shutdown;
  // Before a user is deleted (API, admin page or CLI-less paths in the hub);
  // on a worker thread; may block (stop the server, ...).
  std::vector<std::function<void(const std::string& name)>> on_user_deleted;
  // The JupyterHub "servers" object of a user ({} when none), used by the
  // REST user model and the state= filter.  Set by the spawner.  Called on
  // worker threads.  Each value should carry "ready" (bool) and "pending"
  // (null or "spawn"/"stop") like JupyterHub's server model.
  std::function<nlohmann::json(const std::string& name)> user_servers;
  // Begins starting the user's server if it is not running or starting,
  // and returns at once (the git-pull page starts it in parallel with the
  // sync).  Set by the spawner module; unset means no spawner.  Called on
  // worker threads; may throw (logged by the caller).
  std::function<void(const std::string& name, bool admin)> start_server;
  // Extra data for a page about to be rendered by render_page(): called
  // with the template's name ("home", "admin", ...), the viewer (null when
  // not logged in) and the template's data, to which it may add keys (e.g.
  // the home page's synced folders, alerts for admins).  Runs on a worker
  // thread, except for the "error" page, which may be rendered on an I/O
  // thread: do no blocking work for pages you do not fill.
  std::vector<std::function<void(std::string_view page, const Identity* viewer, nlohmann::json& data)>> page_data;
};

class App {
 public:
  App(std::string prefix, std::shared_ptr<const HubConfig> config);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Paths.  Immutable.
  const std::string& prefix() const { return prefix_; }
  std::string state_dir() const { return prefix_ + "/state"; }
  std::string db_path() const { return state_dir() + "/hub.sqlite"; }

  // The configuration in force.  Thread-safe; the snapshot stays valid (and
  // unchanged) for as long as the caller holds it, even across a reload.
  std::shared_ptr<const HubConfig> config() const;
  void set_config(std::shared_ptr<const HubConfig> config);

  // base_url joined with a hub-local path: url("/hub/login") -> "/base/hub/login".
  std::string url(std::string_view local_path) const;

  http::Router& router() { return router_; }
  const http::Router& router() const { return router_; }
  Hooks& hooks() { return hooks_; }

  // Blocking work (SQLite, files, child processes).  Thread-safe.
  WorkerPool& pool() { return *pool_; }
  // CPU-heavy work (password hashing), at most one thread per core.
  WorkerPool& cpu_pool() { return *cpu_pool_; }

  // This worker thread's connection to P/state/hub.sqlite (opened on first
  // use).  Only on WorkerPool threads: throws std::logic_error elsewhere, so
  // an I/O thread can never block on SQLite by mistake.
  common::Database& db();

  // The server's first I/O context (timers, signals, listeners, and its share
  // of the connections), run by one thread; the server adds one context per
  // further I/O thread.  Never run blocking work on it.
  boost::asio::io_context& io() { return *io_; }

  // Accounts, sessions, tokens, XSRF (hub/src/auth/auth.hpp).  Set up by
  // serve before the modules register.
  Auth& auth() { return *auth_; }
  void set_auth(std::unique_ptr<Auth> auth);

  // The response for an error (status, user-visible message): JSON on
  // /hub/api paths, an HTML page elsewhere.  The pages module installs the
  // HTML renderer; thread-safe once the server runs.
  http::Response error_response(const http::Request& req, int status, std::string_view message) const;
  // The response for an HttpError thrown by a handler: a redirect when it
  // carries a location, else error_response(), plus its extra headers.
  http::Response error_response(const http::Request& req, const http::HttpError& error) const;
  void set_html_error_renderer(std::function<http::Response(const http::Request&, int, std::string_view)> fn) {
    html_error_ = std::move(fn);
  }

  // Stored git credentials (P/state/credentials.json, encrypted) and the
  // mirror cache (P/state/mirrors): one of each per hub, shared by every
  // module that talks to upstream (git-pull syncs, the credential and course
  // pages), so mirror stats and credential bookkeeping stay in one place.
  // Created on first use; both objects are thread-safe and live as long as
  // the App.  The engine records each use of a credential on it
  // (CredentialInfo::last_used / last_error), which the admin pages read.
  gitpuller::CredentialStore& credentials();
  gitpuller::MirrorCache& mirrors();

  // The URL the server actually bound (set by serve), e.g. "http://127.0.0.1:8000/".
  std::string public_url;

 private:
  std::string prefix_;
  mutable std::mutex config_mutex_;
  std::shared_ptr<const HubConfig> config_;
  http::Router router_;
  Hooks hooks_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<WorkerPool> cpu_pool_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<Auth> auth_;
  std::once_flag git_once_;
  std::unique_ptr<gitpuller::CredentialStore> credentials_;
  std::unique_ptr<gitpuller::MirrorCache> mirrors_;
  std::function<http::Response(const http::Request&, int, std::string_view)> html_error_;
};

}  // namespace hub
