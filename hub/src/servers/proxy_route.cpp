// /user/<name>/...: who may pass, and the hand-over to the proxy engine.
//
// The owner passes; an admin only with admin_access; anyone else gets 403.
// Without a session a browser is sent to the login page (next= this URL) and
// an API client or WebSocket gets 401 JSON.  Cookie-authenticated requests
// from another origin are refused: the user's server trusts the token the
// proxy adds, so the cross-origin checks it would make are made here.
// A stopped server is started by a browser's GET (then the pending page);
// API calls to it get 503 rather than reviving a culled server.
#include <boost/asio/dispatch.hpp>

#include "http/raw_connection.hpp"
#include "servers/servers.hpp"

#include "app.hpp"
#include "auth/accounts.hpp"
#include "auth/auth.hpp"
#include "proxy/forward.hpp"
#include "util/log.hpp"

namespace hub::proxy {
template <>
struct ClientTcp<hub::http::FlexStream> {
  static beast::tcp_stream& get(hub::http::FlexStream& s) { return s.tcp(); }
  static bool plain(hub::http::FlexStream& s) { return !s.is_tls(); }
};
}  // namespace hub::proxy

namespace hub {
namespace {

using http::Request;
using http::Response;

bool api_like(const Request& req) {
  if (req.rest.rfind("api/", 0) == 0 || req.rest == "api") return true;
  auto upgrade = req.header("Upgrade");
  if (upgrade && (upgrade->find("websocket") != std::string::npos || upgrade->find("WebSocket") != std::string::npos))
    return true;
  auto accept = req.header("Accept").value_or("");
  return accept.find("json") != std::string::npos && accept.find("html") == std::string::npos;
}

// "https://host:port" → "host:port" (lower case); "" when malformed.
std::string origin_host(std::string origin) {
  auto scheme = origin.find("://");
  if (scheme == std::string::npos) return "";
  origin = origin.substr(scheme + 3);
  for (auto& ch : origin) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return origin;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

class ProxyRoute {
 public:
  ProxyRoute(App& app, std::shared_ptr<UserServers> mod) : app_(app), mod_(std::move(mod)) {}

  void handle(std::shared_ptr<http::RawConnection> c) {
    auto req = c->shared_request();
    if (req->rest.empty() && (req->path.empty() || req->path.back() != '/')) {
      std::string to = req->path + "/" + (req->query.empty() ? "" : "?" + req->query);
      return c->respond(Response::redirect(to));
    }
    app_.auth().identify_async(req, [this, c, req](std::optional<Identity> who) {
      boost::asio::dispatch(c->stream().get_executor(),
                            [this, c, req, who = std::move(who)]() mutable { authorized(c, req, std::move(who)); });
    });
  }

 private:
  Response error(const Request& req, bool api, int status, const std::string& message) {
    return api ? Response::json_error(status, message) : app_.error_response(req, status, message);
  }

  void authorized(const std::shared_ptr<http::RawConnection>& c, const std::shared_ptr<Request>& req,
                  std::optional<Identity> who) {
    const std::string name = req->params.empty() ? std::string() : req->params[0];
    bool api = api_like(*req);
    if (!who) {
      if (api) return c->respond(Response::json_error(401, "authentication required"));
      return c->respond(Response::redirect(app_.auth().login_url_for(*req)));
    }
    c->request().log_user = who->name;
    auto cfg = app_.config();
    if (who->name != name && !(who->admin && cfg->admin_access))
      return c->respond(error(*req, api, 403, "this server belongs to another user"));
    if (who->via == Identity::Via::cookie) {
      if (auto origin = req->header("Origin")) {
        if (lower(*origin) != "null" && origin_host(*origin) != lower(req->header("Host").value_or("")))
          return c->respond(error(*req, api, 403, "cross-origin request refused"));
      }
    }
    auto target = mod_->proxy_target(name);
    if (!target || target->state != ServerState::running) return not_running(c, req, api, target.get());
    if (req->rest.empty() && req->method == "GET" && !target->landing.empty()) {
      std::string to = target->url_prefix + target->landing + (req->query.empty() ? "" : "?" + req->query);
      return c->respond(Response::redirect(to));
    }
    forward(c, req, api, std::move(target));
  }

  void not_running(const std::shared_ptr<http::RawConnection>& c, const std::shared_ptr<Request>& req, bool api,
                   const ProxyTarget* target) {
    const std::string name = req->params[0];
    auto state = target ? target->state : ServerState::stopped;
    if (api || req->method != "GET") {
      return c->respond(Response::json_error(
          503, state == ServerState::starting ? "the server of " + name + " is starting"
                                              : "the server of " + name + " is not running"));
    }
    std::string pending = app_.url("/hub/spawn-pending/" + http::url_encode(name)) + "?next=" +
                          http::url_encode(req->target);
    if (state != ServerState::stopped) return c->respond(Response::redirect(pending));
    // A browser opening a stopped server: start it (JupyterHub does the same).
    app_.pool().post([this, c, req, pending, name] {
      Response r = Response::redirect(pending);
      try {
        auto user = accounts::find_user(app_.db(), name);
        if (!user || user->status != "active") r = app_.error_response(*req, 404, "no such user: " + name);
        else mod_->start(name, user->admin);
      } catch (const std::exception& e) {
        log::error("servers: starting " + name + " failed: " + e.what());
        r = app_.error_response(*req, 500, "the server could not be started");
      }
      c->respond(std::move(r));
    });
  }

  void forward(const std::shared_ptr<http::RawConnection>& c, const std::shared_ptr<Request>& req, bool api,
               std::shared_ptr<const ProxyTarget> target) {
    proxy::ForwardOptions o;
    o.port = target->port;
    o.upstream.token = target->token;
    o.upstream.client_addr = req->remote_addr;
    o.upstream.client_secure = req->secure;
    o.upstream.strip_cookies = {Auth::kSessionCookie};
    o.on_activity = [mod = mod_, req, target = std::move(target)] { mod->note_proxy_activity(req->params[0], *target); };
    // Proxied traffic is heavy: the log keeps failures and WebSockets.
    c->log_failures_only();
    // A graceful hub shutdown ends relays (long WebSockets) by closing the client side.
    c->on_shutdown([c] {
      boost::beast::error_code ec;
      c->stream().tcp().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      c->stream().tcp().socket().close(ec);
    });
    proxy::forward(c, c->stream(), c->buffer(), c->parser(), mod_->backend_pool(), std::move(o),
                   [this, c, req, api](proxy::ForwardResult r) {
                     if (r.responded) return c->finish(r.keep_alive, r.status);
                     if (r.status == 0) return c->finish(false, 499);
                     log::warning("servers: proxy to " + req->params[0] + " failed: " + r.error);
                     std::string msg = r.status == 504 ? "the user's server did not answer in time"
                                                        : "the user's server could not be reached";
                     c->respond(error(*req, api, r.status, msg));
                   });
  }

  App& app_;
  std::shared_ptr<UserServers> mod_;
};

}  // namespace

void add_proxy_route(App& app, std::shared_ptr<UserServers> servers) {
  auto route = std::make_shared<ProxyRoute>(app, std::move(servers));
  app.router().add_takeover("*", "/user/{name}/*", [route](std::shared_ptr<http::RawConnection> c) { route->handle(c); });
}

}  // namespace hub
