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
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "culler/culler.hpp"
#include "hub/spawner.hpp"
#include "proxy/backend_pool.hpp"

namespace hub {

class App;

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

  // JupyterHub's server model ({} when stopped), for the REST user model.
  nlohmann::json servers_model(const std::string& user);

  // Starts the user's server on behalf of `admin_flag` (system mode groups);
  // SpawnerError("invalid_name") is the caller's to map.
  bool start(const std::string& user, bool admin_flag);

  // Starts the periodic culler (services.cull.enabled is checked at each pass).
  void start_culler();
  void shutdown();

 private:
  void on_state(const ServerInfo& info);

  App& app_;
  proxy::BackendPool pool_;
  std::unique_ptr<Spawner> spawner_;
  std::unique_ptr<Culler> culler_;
  std::mutex mutex_;
  std::multimap<std::string, std::function<void(const ServerInfo&)>> waiters_;
  std::map<std::string, int> ports_;
};

// hub/src/servers/proxy_route.cpp: the /user/<name>/... take-over route.
void add_proxy_route(App& app, std::shared_ptr<UserServers> servers);

}  // namespace hub
