// The student's git-pull click, served by the hub itself (the single-user
// server needs no extension):
//
//   GET /hub/user-redirect/git-pull?...      log in (or sign up) first, then → /user/<me>/git-pull?...
//   GET /hub/user-redirect/git-sync|interact same, for the legacy forms
//   GET /user/<name>/git-sync?...            legacy → /user/<name>/git-pull?... (query kept)
//   GET /user/<name>/interact?repo=R&account=A[&branch=B][&path=P]
//                                            legacy (Data 8) → git-pull of https://github.com/A/R,
//                                            branch gh-pages unless given, subpath P
//   GET /user/<name>/git-pull?...            the progress page; starts the user's server in parallel
//   GET /user/<name>/git-pull/api?...&_xsrf= Server-Sent Events of the sync (see pull_service.hpp)
//
// These paths under /user/<name>/ are matched before the proxy's
// /user/{name}/* route (more literal segments win in the router).
#include <memory>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "auth/auth.hpp"
#include "gitpull/link.hpp"
#include "gitpull/pull_service.hpp"
#include "gitpuller/url.hpp"
#include "http/handler.hpp"
#include "modules.hpp"
#include "pages/render.hpp"
#include "util/log.hpp"

namespace hub {
namespace {

using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::json;

std::string server_prefix(App& app, const std::string& user) { return app.url("/user/" + http::url_encode(user) + "/"); }

std::string with_query(std::string path, const std::string& query) {
  if (!query.empty()) path += "?" + query;
  return path;
}

Response user_redirect(App& app, Request& req, std::string_view what) {
  auto me = app.auth().require_page_user(req);
  return Response::redirect(with_query(server_prefix(app, me.name) + std::string(what), req.query));
}

std::string interact_query(const Request& req) {
  std::string repo = req.query_param("repo").value_or("");
  std::string account = req.query_param("account").value_or("data-8");
  std::string q = "repo=" + http::url_encode("https://github.com/" + account + "/" + repo);
  q += "&branch=" + http::url_encode(req.query_param("branch").value_or("gh-pages"));
  q += "&subPath=" + http::url_encode(req.query_param("path").value_or("."));
  return q;
}

Response progress_page(App& app, Request& req) {
  auto me = app.auth().require_page_user(req);
  const std::string prefix = server_prefix(app, me.name);
  if (req.params[0] != me.name) return Response::redirect(with_query(prefix + "git-pull", req.query));
  auto parsed = gitpull::parse_link(req.query_params());
  if (parsed.error) throw HttpError(400, parsed.error->message);
  const auto& p = parsed.params;
  auto cfg = app.config();
  auto landing = gitpull::landing_path(p, cfg->default_app, prefix);
  if (!landing)
    throw HttpError(400, "This link's urlpath leaves your own server (" + *p.urlpath +
                             "): it must be a path inside " + prefix + ".");

  if (app.hooks().start_server) {
    try {
      app.hooks().start_server(me.name, me.admin);
    } catch (const std::exception& e) {
      log::warning("git-pull: could not start " + me.name + "'s server: " + e.what());
    }
  }

  Response probe;
  std::string xsrf = app.auth().xsrf_token(req, probe);
  json data = {
      {"title", "Syncing " + gitpuller::default_folder_name(p.repo)},
      {"repo", gitpuller::strip_userinfo(p.repo)},
      {"branch", p.branch.value_or("")},
      {"has_branch", p.branch.has_value()},
      {"folder", p.targetpath},
      {"backup", p.backup},
      {"api_url", prefix + "git-pull/api?" + gitpull::to_query(p) + "&_xsrf=" + http::url_encode(xsrf)},
      {"redirect_url", prefix + *landing},
      {"continue_url", prefix},
  };
  Response r = render_page(app, req, me, "gitpull", data);
  for (const auto& [k, v] : probe.headers.items()) r.headers.add(k, v);
  r.header("Cache-Control", "no-store");
  return r;
}

void event_api(App& app, std::shared_ptr<gitpull::PullService> service, std::shared_ptr<Request> req,
               http::Reply reply) {
  app.auth().identify_async(req, [&app, service, req, reply](std::optional<Identity> who) {
    if (!who) return reply(Response::json_error(403, "Not logged in."));
    try {
      if (who->via == Identity::Via::cookie) app.auth().check_xsrf(*req);
    } catch (const HttpError& e) {
      return reply(Response::json_error(403, e.what()));
    }
    if (req->params[0] != who->name) return reply(Response::json_error(403, "This is not your server."));
    auto parsed = gitpull::parse_link(req->query_params());
    http::EventStreamOptions options;
    options.headers.set("Cache-Control", "no-cache");
    options.headers.set("X-Accel-Buffering", "no");
    auto stream = reply.start_event_stream(std::move(options));
    if (parsed.error) {
      stream->send(json{{"phase", "error"},
                        {"message", parsed.error->message},
                        {"output", parsed.error->message},
                        {"error", {{"code", "bad_link"}, {"message", parsed.error->message}}}});
      stream->close();
      return;
    }
    service->attach(*who, parsed.params, stream);
  });
}

}  // namespace

void add_gitpull_routes(App& app) {
  auto service = std::make_shared<gitpull::PullService>(app);
  app.hooks().on_reload.push_back([service](const HubConfig&, const HubConfig&) { service->reconfigure(); });
  app.hooks().on_shutdown.push_back([service] { service->shutdown(); });
  app.hooks().on_start.push_back([service] { service->mark_interrupted(); });

  auto& r = app.router();
  for (std::string what : {"git-pull", "git-sync", "interact"})
    r.add("GET", "/hub/user-redirect/" + what, [&app, what](Request& req) { return user_redirect(app, req, what); });
  r.add("GET", "/user/{name}/git-sync", [&app](Request& req) {
    return Response::redirect(with_query(server_prefix(app, req.params[0]) + "git-pull", req.query));
  });
  r.add("GET", "/user/{name}/interact", [&app](Request& req) {
    return Response::redirect(server_prefix(app, req.params[0]) + "git-pull?" + interact_query(req));
  });
  r.add("GET", "/user/{name}/git-pull", [&app](Request& req) { return progress_page(app, req); });
  r.add_async("GET", "/user/{name}/git-pull/api", [&app, service](std::shared_ptr<Request> req, http::Reply reply) {
    event_api(app, service, std::move(req), std::move(reply));
  });
}

}  // namespace hub
