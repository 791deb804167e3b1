#pragma once
// The user-servers module of the hub: the spawner, the reverse proxy for
// /user/<name>/..., the built-in culler, and their routes, pages and hooks.
//
//   /user/<name>/...                        proxied (HTTP + WebSocket) — proxy_route.cpp
//   /hub/user-redirect/<path>               → /user/<me>/<path>
//   POST|DELETE /hub/api/users/{name}/server          start / stop (201/202/204, as JupyterHub)
//   GET  /hub/api/users/{name}/server/progress        Server-Sent Events (JupyterHub's events)
//   GET  /hub/api/users/{name}/server/log             admin: log tail and last exit
//   GET  /hub/api/spawner                             admin: mode, limits mechanism, servers
//   GET  /hub/spawn[/{name}], POST /hub/spawn/{name}  start, then the pending page
//   POST /hub/stop/{name}                             stop, back to `next`
//   GET  /hub/spawn-pending/{name}                    progress page, moves on when ready
//   GET  /hub/admin/servers                           admin: servers, limits, log tails
//
// Hooks: on_start adopts the servers of an earlier hub process and starts
// the culler; on_reload reconfigures the spawner; on_user_deleted stops the
// user's server; user_servers gives the REST model its "servers".
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "culler/culler.hpp"
#include "hub/spawner.hpp"
#include "proxy/backend_pool.hpp"

namespace hub {

class App;

// What the proxy needs of a user's server, shared by all requests to it.
// Made afresh at each state change of the server and never modified after,
// except `noted`.
struct ProxyTarget {
  ServerState state = ServerState::stopped;
  int port = 0;
  std::string token;       // also tells one start of a server from the next
  std::string url_prefix;
  std::string landing;
  // The second (Unix time) of the last activity passed on to the spawner.
  mutable std::atomic<std::int64_t> noted{0};
};

class UserServers {
 public:
  explicit UserServers(App& app);
  ~UserServers();

  App& app() { return app_; }
  Spawner& spawner() { return *spawner_; }
  proxy::BackendPool& backend_pool() { return pool_; }

  // Runs `fn` once, on a spawner thread, when the user's server is next
  // settled (running, or stopped) — at once on the caller's thread when it
  // already is and `settled_now` says so.
  void when_settled(const std::string& user, std::function<void(const ServerInfo&)> fn);

  // The route to the user's server (nullptr: none starting or running), for
  // each proxied request.  Lock-free: each I/O thread keeps its own copy of
  // the routing table and takes the new one when a server changes state.
  std::shared_ptr<const ProxyTarget> proxy_target(const std::string& user) const;
  // A proxied request or WebSocket message reached `target`: passed on to
  // the spawner's activity record at most once a second per server.
  void note_proxy_activity(const std::string& user, const ProxyTarget& target);

  // JupyterHub's server model ({} when stopped), for the REST user model.
  nlohmann::json servers_model(const std::string& user);

  // Starts the user's server on behalf of `admin_flag` (system mode groups);
  // SpawnerError("invalid_name") is the caller's to map.
  bool start(const std::string& user, bool admin_flag);

  // Starts the periodic culler (services.cull.enabled is checked at each pass).
  void start_culler();
  // Spawner options from `config`, with the hub's API URL once known
  // (set_hub_api_url), for the servers started from now on.
  void reconfigure(const HubConfig& config);
  void set_hub_api_url(std::string url);
  void shutdown();

 private:
  using RouteTable = std::unordered_map<std::string, std::shared_ptr<const ProxyTarget>>;
  void on_state(const ServerInfo& info);   // the spawner's listener
  void publish_route(const ServerInfo& info);
  void settle(const ServerInfo& info);     // runs the waiters of a settled server

  App& app_;
  proxy::BackendPool pool_;
  std::unique_ptr<Spawner> spawner_;
  std::unique_ptr<Culler> culler_;
  mutable std::mutex mutex_;
  std::multimap<std::string, std::function<void(const ServerInfo&)>> waiters_;
  std::shared_ptr<const RouteTable> routes_ = std::make_shared<RouteTable>();  // copied on write, under mutex_
  std::atomic<std::uint64_t> routes_version_{0};
  const std::uint64_t instance_;
  std::string hub_api_url_;  // under mutex_  // tells the I/O threads' copies of different instances apart
};

// hub/src/servers/proxy_route.cpp: the /user/<name>/... take-over route.
void add_proxy_route(App& app, std::shared_ptr<UserServers> servers);

}  // namespace hub
