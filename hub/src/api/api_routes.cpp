// The JupyterHub-compatible REST API under /hub/api.
#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "api/models.hpp"
#include "app.hpp"
#include "auth/auth.hpp"
#include "auth/user_admin.hpp"
#include "common/sqlite.hpp"
#include "hub/version.hpp"
#include "modules.hpp"

namespace hub {
namespace {

using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::json;

constexpr std::int64_t kDefaultLimit = 50;  // JupyterHub's api_page_default_limit (with the envelope)
constexpr std::int64_t kMaxLimit = 200;     // JupyterHub's api_page_max_limit

std::int64_t int_param(const Request& req, const char* name, std::int64_t fallback) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return fallback;
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size() || out < 0)
    throw HttpError(400, std::string("'") + name + "' must be a non-negative integer");
  return out;
}

// The user named in the path, visible to `me`: themself, or anyone for admins.
accounts::User target_user(App& app, const Identity& me, const std::string& name) {
  if (!me.admin) {
    std::string normal;
    try {
      normal = accounts::normalize_username(name);
    } catch (const accounts::AccountError&) {
      normal = name;
    }
    if (normal != me.name) throw HttpError(403, "you may only see and change your own account");
  }
  return user_or_404(app, name);
}

void reject_unknown_fields(const json& body, std::initializer_list<const char*> known) {
  if (!body.is_object()) throw HttpError(400, "the JSON body must be an object");
  for (const auto& [k, v] : body.items()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok) throw HttpError(400, "unknown field '" + k + "'");
  }
}

bool bool_field(const json& body, const char* name, bool fallback) {
  if (!body.contains(name)) return fallback;
  if (!body[name].is_boolean()) throw HttpError(400, std::string("'") + name + "' must be true or false");
  return body[name].get<bool>();
}

std::optional<std::string> string_field(const json& body, const char* name) {
  if (!body.contains(name) || body[name].is_null()) return std::nullopt;
  if (!body[name].is_string()) throw HttpError(400, std::string("'") + name + "' must be a string");
  return body[name].get<std::string>();
}

std::int64_t token_id_param(const std::string& raw) {
  std::string_view s = raw;
  if (!s.empty() && s.front() == 'a') s.remove_prefix(1);
  std::int64_t id = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) throw HttpError(404, "no such token");
  return id;
}

bool state_matches(const json& servers, const std::string& state) {
  if (state.empty()) return true;
  bool active = !servers.empty();
  bool ready = false;
  for (const auto& [k, s] : servers.items())
    if (s.is_object() && s.value("ready", false)) ready = true;
  if (state == "active") return active;
  if (state == "inactive") return !active;
  if (state == "ready") return ready;
  return true;
}

Response list_users(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  std::string state = req.query_param("state").value_or("");
  if (!state.empty() && state != "active" && state != "inactive" && state != "ready")
    throw HttpError(400, "state must be one of active, inactive, ready");
  // As JupyterHub: clients that do not ask for the pagination envelope get
  // the largest page by default, so old code misses fewer users.
  bool envelope = req.header("Accept").value_or("").find("application/jupyterhub-pagination+json") != std::string::npos;
  std::int64_t offset = int_param(req, "offset", 0);
  std::int64_t limit = std::clamp<std::int64_t>(int_param(req, "limit", envelope ? kDefaultLimit : kMaxLimit), 1, kMaxLimit);
  accounts::UserQuery q;
  q.search = req.query_param("name_filter").value_or("");
  auto& db = app.db();

  std::vector<accounts::User> visible;
  if (me.admin) {
    if (state.empty()) {
      q.offset = offset;
      q.limit = limit;
      visible = accounts::list_users(db, q);
    } else {
      visible = accounts::list_users(db, q);
    }
  } else if (auto self = accounts::find_user_by_id(db, me.user_id)) {
    if (q.search.empty() || self->name.find(q.search) != std::string::npos) visible.push_back(*self);
  }

  json items = json::array();
  std::int64_t total = 0;
  if (me.admin && state.empty()) {
    total = accounts::count_users(db, q);
    for (const auto& u : visible) items.push_back(user_model(app, u));
  } else {
    std::vector<json> matching;
    for (const auto& u : visible) {
      auto model = user_model(app, u);
      if (state_matches(model["servers"], state)) matching.push_back(std::move(model));
    }
    total = static_cast<std::int64_t>(matching.size());
    for (std::int64_t i = offset; i < total && i < offset + limit; ++i) items.push_back(matching[static_cast<std::size_t>(i)]);
  }

  if (!envelope) return Response::json(200, items);
  json next = nullptr;
  if (offset + limit < total) {
    std::string url = app.url("/hub/api/users") + "?offset=" + std::to_string(offset + limit) +
                      "&limit=" + std::to_string(limit);
    if (!state.empty()) url += "&state=" + state;
    next = {{"offset", offset + limit}, {"limit", limit}, {"url", url}};
  }
  json page = {{"items", items},
                   {"_pagination", {{"offset", offset}, {"limit", limit}, {"total", total}, {"next", next}}}};
  return Response::json(200, page).header("Content-Type", "application/jupyterhub-pagination+json");
}

Response create_users(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  Auth::require_admin(me);
  auto body = req.json_body();
  reject_unknown_fields(body, {"usernames", "admin"});
  if (!body.contains("usernames") || !body["usernames"].is_array() || body["usernames"].empty())
    throw HttpError(400, "'usernames' must be a non-empty list of names");
  bool admin = bool_field(body, "admin", false);
  std::vector<std::string> names;
  for (const auto& n : body["usernames"]) {
    if (!n.is_string()) throw HttpError(400, "'usernames' must contain strings");
    names.push_back(accounts::normalize_username(n.get<std::string>()));
  }
  auto& db = app.db();
  json created = json::array();
  std::size_t existing = 0;
  db.transaction([&] {
    created = json::array();
    existing = 0;
    for (const auto& name : names) {
      if (accounts::find_user(db, name)) {
        ++existing;
        continue;
      }
      accounts::NewUser nu;
      nu.name = name;
      nu.admin = admin;
      created.push_back(user_model(app, accounts::create_user(db, nu)));
    }
  });
  if (created.empty()) throw HttpError(409, "all " + std::to_string(existing) + " users already exist");
  return Response::json(201, created);
}

Response get_user(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  return Response::json(200, user_model(app, target_user(app, me, req.params[0])));
}

Response create_user(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  Auth::require_admin(me);
  auto body = req.json_body(true);
  if (body.is_null()) body = json::object();
  reject_unknown_fields(body, {"admin", "password", "instructor", "name"});
  auto user = add_user(app, req.params[0], bool_field(body, "admin", false), string_field(body, "password"));
  if (bool_field(body, "instructor", false)) {
    change_instructor(app, user, true);
    user.instructor = true;
  }
  return Response::json(201, user_model(app, user));
}

Response patch_user(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  auto user = target_user(app, me, req.params[0]);
  auto body = req.json_body();
  reject_unknown_fields(body, {"name", "admin", "instructor", "password", "approved"});
  if (auto name = string_field(body, "name"); name && accounts::normalize_username(*name) != user.name)
    throw HttpError(400, "renaming users is not supported; create a new user instead");
  bool wants_privilege = body.contains("admin") || body.contains("instructor") || body.contains("approved");
  if (wants_privilege && !me.admin) throw HttpError(403, "only admins can change admin, instructor or approval");
  // Validate everything before changing anything.
  bool admin = bool_field(body, "admin", user.admin);
  bool instructor = bool_field(body, "instructor", user.instructor);
  bool approved = bool_field(body, "approved", user.status == "active");
  auto password = string_field(body, "password");
  if (password) accounts::check_password_policy(*password, *app.config());
  if (body.contains("approved") && !approved && user.status == "active")
    throw HttpError(400, "an approved user cannot be made pending again");

  if (admin != user.admin) change_admin(app, me, user, admin);
  if (instructor != user.instructor) change_instructor(app, user, instructor);
  if (approved && user.status != "active") approve_user(app, user);
  if (password) reset_password(app, user, *password);
  return Response::json(200, user_model(app, *accounts::find_user_by_id(app.db(), user.id)));
}

Response delete_user(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  Auth::require_admin(me);
  remove_user(app, me, req.params[0]);
  return Response::no_content();
}

Response list_tokens(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  auto user = target_user(app, me, req.params[0]);
  json tokens = json::array();
  for (const auto& t : accounts::list_tokens(app.db(), user.id)) tokens.push_back(token_model(t, user.name));
  return Response::json(200, {{"api_tokens", tokens}, {"oauth_tokens", json::array()}});
}

Response create_token(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  auto user = target_user(app, me, req.params[0]);
  auto body = req.json_body(true);
  if (body.is_null()) body = json::object();
  reject_unknown_fields(body, {"note", "expires_in", "scopes", "roles"});
  for (const char* f : {"scopes", "roles"}) {
    if (body.contains(f) && !(body[f].is_array() && (body[f].empty() || body[f] == json::array({"inherit"}))))
      throw HttpError(400, std::string("'") + f + "' other than [\"inherit\"] is not supported: a token acts as its owner");
  }
  std::string note = string_field(body, "note").value_or("");
  std::optional<std::int64_t> expires_in;
  if (body.contains("expires_in") && !body["expires_in"].is_null()) {
    if (!body["expires_in"].is_number_integer()) throw HttpError(400, "'expires_in' must be a whole number of seconds");
    expires_in = body["expires_in"].get<std::int64_t>();
  }
  if (note.empty()) note = me.via == Identity::Via::token ? "Requested via api by user " + me.name : "Requested via api";
  auto created = accounts::create_token(app.db(), user.id, note, expires_in);
  auto model = token_model(created.token, user.name);
  model["token"] = created.secret;
  return Response::json(201, model);
}

Response get_token(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  auto user = target_user(app, me, req.params[0]);
  auto t = accounts::get_token(app.db(), user.id, token_id_param(req.params[1]));
  if (!t) throw HttpError(404, "no such token");
  return Response::json(200, token_model(*t, user.name));
}

Response delete_token(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  auto user = target_user(app, me, req.params[0]);
  if (!accounts::delete_token(app.db(), user.id, token_id_param(req.params[1]))) throw HttpError(404, "no such token");
  app.auth().forget_user(user.id);
  return Response::no_content();
}

}  // namespace

void add_api_routes(App& app) {
  auto& r = app.router();
  auto bind = [&app](Response (*fn)(App&, Request&)) { return [&app, fn](Request& req) { return fn(app, req); }; };

  r.add_async("GET", "/hub/api", [](std::shared_ptr<Request>, http::Reply reply) {
    reply(Response::json(200, {{"version", kVersion}}));
  });
  r.add("GET", "/hub/api/info", [&app](Request& req) {
    auto me = app.auth().require_api_user(req);
    Auth::require_admin(me);
    auto cfg = app.config();
    return Response::json(200, {{"version", kVersion},
                                {"base_url", cfg->base_url},
                                {"authenticator", {{"class", cfg->auth_type}, {"open_signup", cfg->native_open_signup}}},
                                {"spawner", {{"class", cfg->spawner_mode}}}});
  });
  r.add("GET", "/hub/api/user", [&app](Request& req) {
    auto me = app.auth().require_api_user(req);
    auto user = accounts::find_user_by_id(app.db(), me.user_id);
    if (!user) throw HttpError(404, "no such user");
    auto model = user_model(app, *user);
    model["scopes"] = me.admin ? json::array({"admin:users", "admin:servers", "tokens", "read:hub"})
                               : json::array({"read:users!user=" + me.name, "tokens!user=" + me.name,
                                              "servers!user=" + me.name});
    return Response::json(200, model);
  });
  r.add("GET", "/hub/api/users", bind(list_users));
  r.add("POST", "/hub/api/users", bind(create_users));
  r.add("GET", "/hub/api/users/{name}", bind(get_user));
  r.add("POST", "/hub/api/users/{name}", bind(create_user));
  r.add("PATCH", "/hub/api/users/{name}", bind(patch_user));
  r.add("DELETE", "/hub/api/users/{name}", bind(delete_user));
  r.add("GET", "/hub/api/users/{name}/tokens", bind(list_tokens));
  r.add("POST", "/hub/api/users/{name}/tokens", bind(create_token));
  r.add("GET", "/hub/api/users/{name}/tokens/{id}", bind(get_token));
  r.add("DELETE", "/hub/api/users/{name}/tokens/{id}", bind(delete_token));
}

}  // namespace hub
