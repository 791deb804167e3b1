#include "servers/servers.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "api/models.hpp"
#include "app.hpp"
#include "auth/accounts.hpp"
#include "auth/auth.hpp"
#include "auth/user_admin.hpp"
#include "common/time_util.hpp"
#include "modules.hpp"
#include "pages/render.hpp"
#include "util/log.hpp"

namespace hub {
namespace {

using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::json;
using namespace std::chrono_literals;

// How long POST/DELETE .../server wait before answering 202 (JupyterHub's
// slow_spawn_timeout and slow_stop_timeout).
constexpr auto kSlowTimeout = 10s;

// "2026-11-26T10:30:00.123456Z" / "...+01:00" (what jupyterhub-singleuser
// sends), or nullopt.
std::optional<std::chrono::system_clock::time_point> parse_iso_time(const std::string& text) {
  std::tm tm{};
  const char* p = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return std::nullopt;
  double fraction = 0;
  if (*p == '.') {
    char* end = nullptr;
    fraction = std::strtod(p, &end);
    p = end;
  }
  long offset = 0;
  if (*p == 'Z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int hh = 0, mm = 0, used = 0;
    if (std::sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || used != 5) return std::nullopt;
    offset = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
    p += 6;
  }
  if (*p != '\0') return std::nullopt;
  std::time_t t = timegm(&tm) - offset;
  return std::chrono::system_clock::from_time_t(t) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(fraction));
}

json iso(std::chrono::system_clock::time_point t) { return common::iso8601_utc(t); }

json exit_model(const std::optional<ServerExit>& e) {
  if (!e) return nullptr;
  return {{"at", iso(e->at)},
          {"reason", e->reason},
          {"requested", e->requested},
          {"exit_code", e->exit_code ? json(*e->exit_code) : json(nullptr)},
          {"signal", e->term_signal ? json(*e->term_signal) : json(nullptr)}};
}

json event_json(const ProgressEvent& e) {
  json j = {{"progress", e.progress}, {"message", e.message}};
  if (e.ready) {
    j["ready"] = true;
    j["url"] = e.url;
    j["html_message"] = "Server ready at <a href=\"" + e.url + "\">" + e.url + "</a>";
  }
  if (e.failed) j["failed"] = true;
  return j;
}

// Runs `fn` on the worker pool; HttpErrors become their responses.
template <class Fn>
void on_pool(App& app, const std::shared_ptr<Request>& req, const http::Reply& reply, Fn fn) {
  app.pool().post([&app, req, reply, fn = std::move(fn)]() mutable {
    try {
      fn();
    } catch (const HttpError& e) {
      reply(app.error_response(*req, e));
    } catch (const SpawnerError& e) {
      reply(app.error_response(*req, e.code() == "invalid_name" ? 400 : 500, e.what()));
    } catch (const std::exception& e) {
      log::error("servers: " + req->local_path + " failed: " + e.what());
      reply(app.error_response(*req, 500, "internal error"));
    }
  });
}

// The user `name` may be managed by `me`: themself, or an admin.
void require_self_or_admin(const Identity& me, const std::string& name) {
  if (me.name != name && !me.admin) throw HttpError(403, "you may only manage your own server");
}

accounts::User existing_user(App& app, const std::string& name) {
  auto u = accounts::find_user(app.db(), name);
  if (!u || u->status != "active") throw HttpError(404, "no such user: " + name);
  return *u;
}

std::string pending_url(App& app, const std::string& name, const std::string& next) {
  std::string url = app.url("/hub/spawn-pending/" + http::url_encode(name));
  if (!next.empty()) url += "?next=" + http::url_encode(next);
  return url;
}

// A timer on the hub's I/O context that answers `reply` unless something else did first.
void reply_after(App& app, std::chrono::steady_clock::duration d, http::Reply reply, Response r) {
  auto timer = std::make_shared<boost::asio::steady_timer>(app.io(), d);
  timer->async_wait([timer, reply, r = std::move(r)](boost::system::error_code ec) mutable {
    if (!ec) reply(std::move(r));
  });
}

void add_api(App& app, const std::shared_ptr<UserServers>& mod) {
  auto& r = app.router();

  r.add_async("POST", "/hub/api/users/{name}/server", [&app, mod](std::shared_ptr<Request> req, http::Reply reply) {
    on_pool(app, req, reply, [&app, mod, req, reply] {
      auto me = app.auth().require_api_user(*req);
      const std::string name = req->params[0];
      require_self_or_admin(me, name);
      auto user = existing_user(app, name);
      auto info = mod->spawner().find(name);
      auto state = info ? info->state : ServerState::stopped;
      if (state == ServerState::starting) return reply(Response::text(202, ""));
      if (state == ServerState::stopping) throw HttpError(400, name + "'s server is pending stop");
      if (state == ServerState::running) throw HttpError(400, name + "'s server is already running");
      mod->start(name, user.admin);
      // 201 once ready, 202 when it takes longer than the slow-spawn timeout.
      auto answered = std::make_shared<std::atomic<bool>>(false);
      mod->when_settled(name, [&app, req, reply, answered](const ServerInfo& i) {
        if (answered->exchange(true)) return;
        if (i.state == ServerState::running) return reply(Response::text(201, ""));
        std::string why = i.last_exit ? i.last_exit->reason : "unknown";
        reply(app.error_response(*req, 500, "Spawn failed: the server " + why));
      });
      reply_after(app, kSlowTimeout, reply, Response::text(202, ""));
    });
  });

  r.add_async("DELETE", "/hub/api/users/{name}/server", [&app, mod](std::shared_ptr<Request> req, http::Reply reply) {
    on_pool(app, req, reply, [&app, mod, req, reply] {
      auto me = app.auth().require_api_user(*req);
      const std::string name = req->params[0];
      require_self_or_admin(me, name);
      existing_user(app, name);
      auto info = mod->spawner().find(name);
      auto state = info ? info->state : ServerState::stopped;
      if (state == ServerState::stopped) return reply(Response::no_content(204));
      if (state == ServerState::stopping) return reply(Response::text(202, ""));
      if (state == ServerState::starting) throw HttpError(400, name + "'s server is pending spawn, please wait");
      mod->spawner().stop(name);
      auto answered = std::make_shared<std::atomic<bool>>(false);
      mod->when_settled(name, [reply, answered](const ServerInfo&) {
        if (!answered->exchange(true)) reply(Response::no_content(204));
      });
      reply_after(app, kSlowTimeout, reply, Response::text(202, ""));
    });
  });

  r.add_async("GET", "/hub/api/users/{name}/server/progress",
              [&app, mod](std::shared_ptr<Request> req, http::Reply reply) {
                on_pool(app, req, reply, [&app, mod, req, reply] {
                  auto me = app.auth().require_api_user(*req);
                  const std::string name = req->params[0];
                  require_self_or_admin(me, name);
                  existing_user(app, name);
                  auto info = mod->spawner().find(name);
                  auto state = info ? info->state : ServerState::stopped;
                  bool failed_before = info && info->last_exit && !info->last_exit->requested;
                  if (state == ServerState::stopped && !failed_before)
                    throw HttpError(400, name + "'s server is not starting");
                  auto stream = reply.start_event_stream();
                  if (state == ServerState::stopped) {
                    stream->send({{"progress", 100},
                                  {"failed", true},
                                  {"message", "Spawn failed: the server " + info->last_exit->reason}});
                    stream->close();
                    return;
                  }
                  auto holder = std::make_shared<std::unique_ptr<Spawner::Subscription>>();
                  auto sub = mod->spawner().subscribe_progress(name, [stream](const ProgressEvent& e) {
                    stream->send(event_json(e));
                    if (e.ready || e.failed) stream->close();
                  });
                  if (!sub) {
                    stream->send({{"progress", 100}, {"failed", true}, {"message", "Spawn failed: not starting"}});
                    stream->close();
                    return;
                  }
                  *holder = std::move(sub);
                  // Unsubscribe off the spawner's threads, once the client is gone.
                  stream->on_close([&app, holder] { app.pool().post([holder] { holder->reset(); }); });
                });
              });

  // JupyterHub's activity report, as jupyterhub-singleuser sends it with its
  // server's token: {"last_activity": T, "servers": {"": {"last_activity": T}}}.
  // Keeps a server whose kernels work without proxied traffic from the culler.
  r.add("POST", "/hub/api/users/{name}/activity", [&app, mod](Request& req) {
    auto me = app.auth().require_api_user(req);
    const std::string name = req.params[0];
    if (me.name != name && !me.admin) throw HttpError(403, "you may only report your own activity");
    auto body = req.json_body();
    if (!body.is_object()) throw HttpError(400, "the body must be a JSON object");
    std::optional<std::chrono::system_clock::time_point> latest;
    auto take = [&](const json& holder, const std::string& where) {
      if (!holder.contains("last_activity")) return;
      const json& v = holder["last_activity"];
      auto t = v.is_string() ? parse_iso_time(v.get<std::string>()) : std::nullopt;
      if (!t) throw HttpError(400, where + "last_activity must be an ISO 8601 time, like 2026-11-26T10:30:00Z");
      if (!latest || *t > *latest) latest = t;
    };
    take(body, "");
    if (body.contains("servers")) {
      if (!body["servers"].is_object()) throw HttpError(400, "servers must be an object of server names");
      for (const auto& [server, entry] : body["servers"].items()) {
        if (!server.empty()) throw HttpError(404, "no server named '" + server + "' (only the default server exists)");
        if (!entry.is_object()) throw HttpError(400, "servers[\"\"] must be an object");
        take(entry, "servers[\"\"].");
      }
    }
    if (!latest) throw HttpError(400, "nothing to record: give last_activity");
    auto info = mod->spawner().find(name);
    if (!info || info->state == ServerState::stopped) throw HttpError(404, name + " has no running server");
    // A clock ahead of the hub's cannot keep a server alive for longer than now.
    mod->spawner().note_activity(name, std::min(*latest, std::chrono::system_clock::now()));
    return Response::no_content();
  });

  r.add("GET", "/hub/api/users/{name}/server/log", [&app, mod](Request& req) {
    auto me = app.auth().require_api_user(req);
    Auth::require_admin(me);
    const std::string name = req.params[0];
    auto info = mod->spawner().find(name);
    if (!info) throw HttpError(404, "no server has run for " + name);
    return Response::json(200, {{"name", name},
                                {"state", to_string(info->state)},
                                {"log", mod->spawner().log_tail(name)},
                                {"last_exit", exit_model(info->last_exit)}});
  });

  r.add("GET", "/hub/api/spawner", [&app, mod](Request& req) {
    auto me = app.auth().require_api_user(req);
    Auth::require_admin(me);
    auto o = mod->spawner().options();
    auto l = mod->spawner().limits();
    json servers = json::array();
    for (const auto& i : mod->spawner().list()) {
      if (i.state == ServerState::stopped) continue;
      servers.push_back({{"name", i.user},
                         {"state", to_string(i.state)},
                         {"pid", i.pid},
                         {"unix_user", i.unix_user},
                         {"started", iso(i.started)},
                         {"last_activity", iso(i.last_activity)},
                         {"adopted", i.adopted},
                         {"cgroup", i.cgroup}});
    }
    return Response::json(200, {{"mode", o.mode},
                                {"limits",
                                 {{"mechanism", l.mechanism},
                                  {"memory", l.memory},
                                  {"cpu", l.cpu},
                                  {"detail", l.detail},
                                  {"cgroup_base", l.cgroup_base}}},
                                {"servers", servers}});
  });
}

void add_pages(App& app, const std::shared_ptr<UserServers> mod) {
  auto& r = app.router();
  const http::RouteOptions form{64 * 1024, std::chrono::seconds(30)};

  r.add("GET", "/hub/user-redirect/*", [&app](Request& req) {
    auto me = app.auth().require_page_user(req);
    std::string target = app.url("/user/" + http::url_encode(me.name) + "/") + req.rest;
    if (!req.query.empty()) target += "?" + req.query;
    return Response::redirect(target);
  });

  // Start (GET: your own server, as JupyterHub's /hub/spawn; POST: a form
  // button, also for admins on others), then the pending page.
  auto spawn = [&app, mod](Request& req, const std::string& name) {
    auto me = app.auth().require_page_user(req);
    if (req.method == "GET" && me.name != name) throw HttpError(403, "open your own server, or use the admin page");
    require_self_or_admin(me, name);
    auto user = existing_user(app, name);
    std::string raw = req.query_param("next").value_or(req.form_field("next").value_or(""));
    std::string next = raw.empty() ? "" : app.auth().safe_next(raw);
    mod->start(name, user.admin);
    return Response::redirect(pending_url(app, name, next), req.method == "POST" ? 303 : 302);
  };
  r.add("GET", "/hub/spawn", [&app, spawn](Request& req) {
    auto me = app.auth().require_page_user(req);
    return spawn(req, me.name);
  });
  r.add("GET,POST", "/hub/spawn/{name}", [spawn](Request& req) { return spawn(req, req.params[0]); }, form);

  r.add("POST", "/hub/stop/{name}", [&app, mod](Request& req) {
    auto me = app.auth().require_page_user(req);
    const std::string name = req.params[0];
    require_self_or_admin(me, name);
    mod->spawner().stop(name);
    std::string next = app.auth().safe_next(req.form_field("next").value_or(""));
    return Response::redirect(next, 303);
  }, form);

  r.add("GET", "/hub/spawn-pending/{name}", [&app, mod](Request& req) {
    auto me = app.auth().require_page_user(req);
    const std::string name = req.params[0];
    require_self_or_admin(me, name);
    existing_user(app, name);
    std::string next = req.query_param("next").value_or("");
    if (!next.empty()) next = app.auth().safe_next(next);
    auto info = mod->spawner().find(name);
    auto state = info ? info->state : ServerState::stopped;
    std::string prefix = app.url("/user/" + http::url_encode(name) + "/");
    if (state == ServerState::running) return Response::redirect(next.empty() ? prefix + info->landing : next);
    json data = {{"title", "Starting " + name + "'s server"},
                 {"name", name},
                 {"name_url", http::url_encode(name)},
                 {"own", me.name == name},
                 {"next", next},
                 {"server_url", prefix},
                 {"progress_url", app.url("/hub/api/users/" + http::url_encode(name) + "/server/progress")},
                 {"starting", state == ServerState::starting},
                 {"stopping", state == ServerState::stopping}};
    if (state == ServerState::stopped && info && info->last_exit && !info->last_exit->requested)
      data["failure"] = "The last start failed: the server " + info->last_exit->reason + ".";
    return render_page(app, req, me, "spawn_pending", data);
  });

  r.add("GET", "/hub/admin/servers", [&app, mod](Request& req) {
    auto me = app.auth().require_page_user(req);
    if (!me.admin) throw HttpError(403, "this page is for admins");
    auto o = mod->spawner().options();
    auto l = mod->spawner().limits();
    json rows = json::array();
    for (const auto& i : mod->spawner().list()) {
      json row = {{"name", i.user},
                  {"name_url", http::url_encode(i.user)},
                  {"state", to_string(i.state)},
                  {"running", i.state != ServerState::stopped},
                  {"log", mod->spawner().log_tail(i.user, 8192)}};
      if (i.state != ServerState::stopped) {
        row["pid"] = std::to_string(i.pid);
        row["unix_user"] = i.unix_user;
        row["started"] = iso(i.started);
        row["last_activity"] = iso(i.last_activity);
        row["adopted"] = i.adopted;
      }
      if (i.last_exit) {
        row["exit_reason"] = i.last_exit->reason;
        row["exit_at"] = iso(i.last_exit->at);
      }
      rows.push_back(std::move(row));
    }
    json data = {{"title", "Servers"},
                 {"mode", o.mode},
                 {"mechanism", l.mechanism},
                 {"memory", l.memory},
                 {"cpu", l.cpu},
                 {"detail", l.detail},
                 {"servers", rows},
                 {"has_servers", !rows.empty()}};
    return render_page(app, req, me, "servers_admin", data);
  });
}

}  // namespace

namespace {
std::atomic<std::uint64_t> next_instance{1};
}

UserServers::UserServers(App& app) : app_(app), instance_(next_instance.fetch_add(1)) {
  auto cfg = app.config();
  SpawnerOptions o = spawner_options(app.prefix(), *cfg);
  spawner_ = std::make_unique<Spawner>(o);
  spawner_->set_listener([this](const ServerInfo& i) { on_state(i); });
  Culler::Hooks hooks;
  hooks.log = [](const std::string& line) { log::info(line); };
  hooks.list_users = [&app] {
    std::vector<Culler::UserActivity> out;
    for (const auto& u : accounts::list_users(app.db())) {
      if (u.status != "active") continue;
      auto last = u.last_activity.value_or(0);
      out.push_back({u.name, u.admin,
                     std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                         std::chrono::duration<double>(last)))});
    }
    return out;
  };
  hooks.delete_user = [&app](const std::string& name) {
    Identity culler;
    culler.name = "culler";
    culler.admin = true;
    remove_user(app, culler, name);
  };
  culler_ = std::make_unique<Culler>(*spawner_, [&app] { return app.config()->cull; }, hooks);
}

UserServers::~UserServers() { shutdown(); }

void UserServers::start_culler() { culler_->start(); }

void UserServers::reconfigure(const HubConfig& config) {
  SpawnerOptions o = spawner_options(app_.prefix(), config);
  {
    std::lock_guard lock(mutex_);
    o.hub_api_url = hub_api_url_;
  }
  spawner_->reconfigure(o);
}

void UserServers::set_hub_api_url(std::string url) {
  {
    std::lock_guard lock(mutex_);
    hub_api_url_ = std::move(url);
  }
  reconfigure(*app_.config());
}

void UserServers::shutdown() {
  if (culler_) culler_->stop();
}

bool UserServers::start(const std::string& user, bool admin_flag) { return spawner_->start({user, admin_flag}); }

void UserServers::when_settled(const std::string& user, std::function<void(const ServerInfo&)> fn) {
  {
    std::lock_guard lock(mutex_);
    waiters_.emplace(user, std::move(fn));
  }
  // A state change may have happened before the waiter was registered.
  auto info = spawner_->find(user);
  if (info) settle(*info);
}

void UserServers::on_state(const ServerInfo& info) {
  publish_route(info);
  settle(info);
}

void UserServers::publish_route(const ServerInfo& info) {
  std::optional<int> drop_port;
  {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<RouteTable>(*routes_);
    auto it = next->find(info.user);
    int old_port = it != next->end() ? it->second->port : 0;
    if (info.state == ServerState::stopped) {
      if (it != next->end()) next->erase(it);
      if (old_port) drop_port = old_port;
    } else {
      auto t = std::make_shared<ProxyTarget>();
      t->state = info.state;
      t->port = info.port;
      t->token = info.token;
      t->url_prefix = info.url_prefix;
      t->landing = info.landing;
      (*next)[info.user] = std::move(t);
      if (old_port && old_port != info.port) drop_port = old_port;
    }
    routes_ = std::move(next);
    routes_version_.fetch_add(1, std::memory_order_release);
  }
  if (drop_port) pool_.drop(*drop_port);
}

void UserServers::settle(const ServerInfo& info) {
  if (info.state != ServerState::running && info.state != ServerState::stopped) return;
  std::vector<std::function<void(const ServerInfo&)>> ready;
  {
    std::lock_guard lock(mutex_);
    auto [b, e] = waiters_.equal_range(info.user);
    for (auto it = b; it != e; ++it) ready.push_back(std::move(it->second));
    waiters_.erase(b, e);
  }
  for (auto& fn : ready) fn(info);
}

std::shared_ptr<const ProxyTarget> UserServers::proxy_target(const std::string& user) const {
  struct Copy {
    std::uint64_t instance = 0;
    std::uint64_t version = 0;
    std::shared_ptr<const RouteTable> table;
  };
  thread_local Copy copy;
  auto version = routes_version_.load(std::memory_order_acquire);
  if (copy.instance != instance_ || copy.version != version || !copy.table) {
    std::lock_guard lock(mutex_);
    copy.instance = instance_;
    copy.version = routes_version_.load(std::memory_order_relaxed);
    copy.table = routes_;
  }
  auto it = copy.table->find(user);
  return it == copy.table->end() ? nullptr : it->second;
}

void UserServers::note_proxy_activity(const std::string& user, const ProxyTarget& target) {
  auto now = std::chrono::system_clock::now();
  auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (target.noted.load(std::memory_order_relaxed) == second) return;
  if (target.noted.exchange(second, std::memory_order_relaxed) == second) return;
  spawner_->note_activity(user, now);
}

nlohmann::json UserServers::servers_model(const std::string& user) {
  auto info = spawner_->find(user);
  if (!info || info->state == ServerState::stopped) return json::object();
  json pending = nullptr;
  if (info->state == ServerState::starting) pending = "spawn";
  if (info->state == ServerState::stopping) pending = "stop";
  return {{"",
           {{"name", ""},
            {"ready", info->state == ServerState::running},
            {"pending", pending},
            {"url", app_.url("/user/" + http::url_encode(user) + "/")},
            {"progress_url", app_.url("/hub/api/users/" + http::url_encode(user) + "/server/progress")},
            {"started", iso(info->started)},
            {"last_activity", iso(info->last_activity)},
            {"state", json::object()},
            {"user_options", json::object()}}}};
}

void add_server_routes(App& app) {
  auto mod = std::make_shared<UserServers>(app);
  auto& hooks = app.hooks();
  hooks.user_servers = [mod](const std::string& name) { return mod->servers_model(name); };
  hooks.start_server = [mod](const std::string& name, bool admin) { mod->start(name, admin); };
  hooks.on_start.push_back([mod] {
    auto report = mod->spawner().adopt();
    if (!report.adopted.empty() || !report.forgotten.empty())
      log::info("servers: adopted " + std::to_string(report.adopted.size()) + ", forgot " +
                std::to_string(report.forgotten.size()) + " from the previous hub process");
    auto l = mod->spawner().limits();
    log::info("servers: mode " + mod->spawner().options().mode + ", limits via " + l.mechanism + " (" + l.detail + ")");
  });
  // After adoption, so adopted servers are culled by the same rules.
  hooks.on_start.push_back([mod] { mod->start_culler(); });
  hooks.on_reload.push_back([mod](const HubConfig&, const HubConfig& now) { mod->reconfigure(now); });
  hooks.on_listening.push_back([mod](const std::string& api_url) { mod->set_hub_api_url(api_url); });
  hooks.on_user_deleted.push_back([mod](const std::string& name) {
    if (mod->spawner().stop(name)) mod->spawner().wait_until_stopped(name, std::chrono::seconds(60));
  });
  hooks.on_shutdown.push_back([mod] { mod->shutdown(); });
  add_api(app, mod);
  add_pages(app, mod);
  add_proxy_route(app, mod);
}

}  // namespace hub
