// Stored git credentials, for admins: the page /hub/admin/credentials and
// the API /hub/api/credentials.  Secrets go in (a form field or a JSON
// field) and never come out: answers, pages and logs show the last 4
// characters only.
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "auth/auth.hpp"
#include "courses/course_store.hpp"
#include "courses/views.hpp"
#include "gitpuller/credentials.hpp"
#include "gitpuller/error.hpp"
#include "gitpuller/remote.hpp"
#include "gitpuller/url.hpp"
#include "modules.hpp"
#include "pages/render.hpp"
#include "util/log.hpp"

namespace hub {
namespace {

using courses::credential_id;
using courses::credential_json;
using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::json;

const http::RouteOptions kFormOptions{64 * 1024, std::chrono::seconds(30)};

Identity require_admin_api(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  Auth::require_admin(me);
  return me;
}

Identity require_admin_page(App& app, Request& req) {
  auto me = app.auth().require_page_user(req);
  if (!me.admin) throw HttpError(403, "this page is for admins");
  return me;
}

gitpuller::CredentialInfo info_or_404(App& app, const std::string& id) {
  for (auto& info : app.credentials().list())
    if (credential_id(info.prefix) == id) return info;
  throw HttpError(404, "no such credential");
}

// "" and unset mean "no expiry date".
std::optional<std::string> expiry_of(const std::optional<std::string>& raw) {
  if (!raw || raw->empty()) return std::nullopt;
  return raw;
}

// Secrets typed or pasted may carry a newline or spaces at the ends.
std::string trimmed_secret(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  return s.substr(start);
}

struct AddInput {
  std::string prefix;
  std::string username;
  std::string secret;
  std::optional<std::string> expires;
};

// Adds a credential; 409 when the prefix already has one (rotate it instead).
gitpuller::CredentialInfo add_credential(App& app, const Identity& me, const AddInput& in) {
  auto& store = app.credentials();
  std::string prefix;
  try {
    prefix = gitpuller::CredentialStore::normalize_prefix(in.prefix);
  } catch (const gitpuller::CredentialError& e) {
    throw HttpError(400, std::string("prefix: ") + e.what());
  }
  for (const auto& existing : store.list())
    if (existing.prefix == prefix)
      throw HttpError(409, "a credential for " + prefix + " exists already: rotate it to change its token");
  try {
    store.add(prefix, in.username, trimmed_secret(in.secret), expiry_of(in.expires));
  } catch (const gitpuller::CredentialError& e) {
    throw HttpError(400, e.what());
  }
  log::info("credential for " + prefix + " added by " + me.name);
  for (auto& info : store.list())
    if (info.prefix == prefix) return info;
  throw HttpError(500, "the credential was not stored");
}

// A new secret (and optionally user name and expiry) for an existing credential.
gitpuller::CredentialInfo rotate_credential(App& app, const Identity& me, const gitpuller::CredentialInfo& info,
                                            const std::string& secret, std::optional<std::string> username,
                                            std::optional<std::optional<std::string>> expires) {
  auto& store = app.credentials();
  std::string s = trimmed_secret(secret);
  if (s.empty()) throw HttpError(400, "secret: the new token (or password) is empty");
  try {
    store.add(info.prefix, username && !username->empty() ? *username : info.username, s,
              expires ? *expires : info.expires);
  } catch (const gitpuller::CredentialError& e) {
    throw HttpError(400, e.what());
  }
  log::info("credential for " + info.prefix + " rotated by " + me.name);
  return info_or_404(app, credential_id(info.prefix));
}

gitpuller::CredentialInfo update_credential(App& app, const Identity& me, const gitpuller::CredentialInfo& info,
                                            std::optional<std::string> username,
                                            std::optional<std::optional<std::string>> expires) {
  try {
    app.credentials().update(info.prefix, std::move(username), std::move(expires));
  } catch (const gitpuller::CredentialError& e) {
    throw HttpError(400, e.what());
  }
  log::info("credential for " + info.prefix + " changed by " + me.name);
  return info_or_404(app, credential_id(info.prefix));
}

void revoke_credential(App& app, const Identity& me, const gitpuller::CredentialInfo& info) {
  app.credentials().remove(info.prefix);
  log::info("credential for " + info.prefix + " revoked by " + me.name);
}

// The repository a test talks to: the URL given, else the first course
// whose repository lies under the prefix.
std::string test_url_for(App& app, const gitpuller::CredentialInfo& info, const std::string& given) {
  std::string url = given;
  if (url.empty()) {
    for (const auto& c : courses::list_courses(app.db()))
      if (gitpuller::url_under_prefix(c.repo_url, info.prefix)) {
        url = c.repo_url;
        break;
      }
  }
  if (url.empty())
    throw HttpError(400, "url: give the URL of a repository under " + info.prefix + " to test the credential with");
  if (!gitpuller::url_under_prefix(url, info.prefix))
    throw HttpError(400, "url: " + gitpuller::strip_userinfo(url) + " is not under " + info.prefix +
                             ", so this credential would not be used for it");
  return url;
}

// Lists the repository's refs with the stored credential.  The engine
// records the outcome on the credential (last used / last error).
json test_credential(App& app, const Identity& me, const gitpuller::CredentialInfo& info, const std::string& given) {
  std::string url_text = test_url_for(app, info, given);
  json out = {{"url", gitpuller::strip_userinfo(url_text)}};
  try {
    auto url = gitpuller::parse_repo_url(url_text);
    auto refs = gitpuller::ls_remote(url, &app.credentials(), gitpuller::ErrorCode::fetch);
    out["ok"] = true;
    out["branches"] = refs.branches().size();
    auto def = refs.resolve_default();
    out["default_branch"] = def ? json(def->ref.substr(std::string("refs/heads/").size())) : json(nullptr);
    out["message"] = "The server accepted the credential: " + std::to_string(refs.branches().size()) + " branch(es)" +
                     (def ? ", default " + def->ref.substr(11) : std::string()) + ".";
  } catch (const gitpuller::SyncError& e) {
    out["ok"] = false;
    out["code"] = std::string(gitpuller::to_string(e.code()));
    out["message"] = e.what();
  }
  log::info("credential for " + info.prefix + " tested by " + me.name + ": " + (out["ok"].get<bool>() ? "ok" : "failed"));
  out["credential"] = credential_json(info_or_404(app, credential_id(info.prefix)));
  return out;
}

// -- API --------------------------------------------------------------------

void reject_unknown(const json& body, std::initializer_list<const char*> known) {
  if (!body.is_object()) throw HttpError(400, "the JSON body must be an object");
  for (const auto& [k, v] : body.items()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok) throw HttpError(400, "unknown field '" + k + "'");
  }
}

std::optional<std::string> str(const json& body, const char* name) {
  if (!body.contains(name) || body[name].is_null()) return std::nullopt;
  if (!body[name].is_string()) throw HttpError(400, std::string("'") + name + "' must be a string");
  return body[name].get<std::string>();
}

// Unset: unchanged; null or "": no expiry; "YYYY-MM-DD": that date.
std::optional<std::optional<std::string>> expires_field(const json& body) {
  if (!body.contains("expires")) return std::nullopt;
  if (body["expires"].is_null()) return std::optional<std::string>();
  if (!body["expires"].is_string()) throw HttpError(400, "'expires' must be a date (YYYY-MM-DD) or null");
  return expiry_of(body["expires"].get<std::string>());
}

void add_api(App& app) {
  auto& r = app.router();
  r.add("GET", "/hub/api/credentials", [&app](Request& req) {
    require_admin_api(app, req);
    json out = json::array();
    for (const auto& info : app.credentials().list()) out.push_back(credential_json(info));
    return Response::json(200, out);
  });
  r.add("POST", "/hub/api/credentials", [&app](Request& req) {
    auto me = require_admin_api(app, req);
    auto body = req.json_body();
    reject_unknown(body, {"prefix", "username", "secret", "expires"});
    AddInput in{str(body, "prefix").value_or(""), str(body, "username").value_or(""), str(body, "secret").value_or(""),
                std::nullopt};
    if (auto e = expires_field(body)) in.expires = *e;
    return Response::json(201, credential_json(add_credential(app, me, in)));
  });
  r.add("GET", "/hub/api/credentials/{id}", [&app](Request& req) {
    require_admin_api(app, req);
    return Response::json(200, credential_json(info_or_404(app, req.params[0])));
  });
  r.add("PATCH", "/hub/api/credentials/{id}", [&app](Request& req) {
    auto me = require_admin_api(app, req);
    auto info = info_or_404(app, req.params[0]);
    auto body = req.json_body();
    reject_unknown(body, {"username", "secret", "expires"});
    auto secret = str(body, "secret");
    auto username = str(body, "username");
    auto expires = expires_field(body);
    if (secret) return Response::json(200, credential_json(rotate_credential(app, me, info, *secret, username, expires)));
    return Response::json(200, credential_json(update_credential(app, me, info, username, expires)));
  });
  r.add("DELETE", "/hub/api/credentials/{id}", [&app](Request& req) {
    auto me = require_admin_api(app, req);
    revoke_credential(app, me, info_or_404(app, req.params[0]));
    return Response::no_content();
  });
  r.add("POST", "/hub/api/credentials/{id}/test", [&app](Request& req) {
    auto me = require_admin_api(app, req);
    auto info = info_or_404(app, req.params[0]);
    auto body = req.json_body(true);
    if (body.is_null()) body = json::object();
    reject_unknown(body, {"url"});
    return Response::json(200, test_credential(app, me, info, str(body, "url").value_or("")));
  });
}

// -- page -------------------------------------------------------------------

std::string done_message(const std::string& code, const std::string& prefix) {
  if (code == "added") return "Stored the credential for " + prefix + ".";
  if (code == "rotated") return "Stored the new token for " + prefix + ".";
  if (code == "updated") return "Updated the credential for " + prefix + ".";
  if (code == "revoked") return "Revoked the credential for " + prefix + ": it is deleted and no longer used.";
  return "";
}

Response credentials_page(App& app, Request& req, const Identity& me, json data, int status = 200) {
  json rows = json::array();
  std::vector<courses::Course> course_list = courses::list_courses(app.db());
  for (const auto& info : app.credentials().list()) {
    json row = credential_json(info);
    json used_by = json::array();
    std::string test_url;
    for (const auto& c : course_list) {
      if (!gitpuller::url_under_prefix(c.repo_url, info.prefix)) continue;
      used_by.push_back(c.title);
      if (test_url.empty()) test_url = c.repo_url;
    }
    row["courses"] = used_by;
    row["has_courses"] = !used_by.empty();
    row["test_url"] = test_url;
    row["status_" + row["status"].get<std::string>()] = true;
    rows.push_back(std::move(row));
  }
  data["title"] = "Git credentials";
  data["credentials"] = rows;
  data["has_credentials"] = !rows.empty();
  if (!data.contains("message")) {
    auto msg = done_message(req.query_param("done").value_or(""), req.query_param("prefix").value_or(""));
    if (!msg.empty()) data["message"] = msg;
  }
  return render_page(app, req, me, "credentials", data, status);
}

Response done(App& app, const std::string& code, const std::string& prefix) {
  return Response::redirect(app.url("/hub/admin/credentials") + "?done=" + code + "&prefix=" + http::url_encode(prefix), 303);
}

// Runs a form action; errors are shown on the page, with what was typed
// (never the secret).
template <class Fn>
Response form_action(App& app, Request& req, Fn fn) {
  auto me = require_admin_page(app, req);
  try {
    return fn(me);
  } catch (const HttpError& e) {
    if (e.location() || e.status() == 404) throw;
    json keep = {{"error", e.what()},
                 {"form_prefix", req.form_field("prefix").value_or("")},
                 {"form_username", req.form_field("username").value_or("")},
                 {"form_expires", req.form_field("expires").value_or("")}};
    return credentials_page(app, req, me, keep, e.status());
  }
}

void add_pages(App& app) {
  auto& r = app.router();
  r.add("GET", "/hub/admin/credentials", [&app](Request& req) {
    auto me = require_admin_page(app, req);
    return credentials_page(app, req, me, json::object());
  });
  r.add("POST", "/hub/admin/credentials/add", [&app](Request& req) {
    return form_action(app, req, [&](const Identity& me) {
      AddInput in{req.form_field("prefix").value_or(""), req.form_field("username").value_or(""),
                  req.form_field("secret").value_or(""), expiry_of(req.form_field("expires"))};
      auto info = add_credential(app, me, in);
      return done(app, "added", info.prefix);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/credentials/{id}/rotate", [&app](Request& req) {
    return form_action(app, req, [&](const Identity& me) {
      auto info = info_or_404(app, req.params[0]);
      std::optional<std::optional<std::string>> expires;
      if (auto e = req.form_field("expires"); e && !e->empty()) expires = expiry_of(e);
      rotate_credential(app, me, info, req.form_field("secret").value_or(""), req.form_field("username"), expires);
      return done(app, "rotated", info.prefix);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/credentials/{id}/expires", [&app](Request& req) {
    return form_action(app, req, [&](const Identity& me) {
      auto info = info_or_404(app, req.params[0]);
      update_credential(app, me, info, std::nullopt, expiry_of(req.form_field("expires")));
      return done(app, "updated", info.prefix);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/credentials/{id}/revoke", [&app](Request& req) {
    return form_action(app, req, [&](const Identity& me) {
      auto info = info_or_404(app, req.params[0]);
      revoke_credential(app, me, info);
      return done(app, "revoked", info.prefix);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/credentials/{id}/test", [&app](Request& req) {
    return form_action(app, req, [&](const Identity& me) {
      auto info = info_or_404(app, req.params[0]);
      json result = test_credential(app, me, info, req.form_field("url").value_or(""));
      json data = {{"test_prefix", info.prefix}, {"test_ok", result["ok"]}, {"test_message", result["message"]},
                   {"tested_url", result["url"]}};
      if (result.contains("code")) data["test_code"] = result["code"];
      return credentials_page(app, req, me, data);
    });
  }, kFormOptions);
}

}  // namespace

void add_credential_routes(App& app) {
  add_api(app);
  add_pages(app);
  // Admins see broken credentials named on their pages.
  app.hooks().page_data.push_back([&app](std::string_view page, const Identity* viewer, json& data) {
    if (!viewer || !viewer->admin) return;
    if (page != "admin" && page != "authorize" && page != "credentials" && page != "courses" && page != "course") return;
    json alerts = courses::credential_alerts(app);
    if (!alerts.empty()) {
      data["credential_alerts"] = alerts;
      data["has_credential_alerts"] = true;
    }
  });
}

}  // namespace hub
