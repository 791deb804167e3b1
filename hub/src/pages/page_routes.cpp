// The hub's HTML pages: login, logout, signup, home (tokens), change
// password, admin (users), authorize (sign-ups), static files.
#include <charconv>
#include <cmath>

#include "api/models.hpp"
#include "app.hpp"
#include "auth/auth.hpp"
#include "auth/user_admin.hpp"
#include "common/sqlite.hpp"
#include "common/time_util.hpp"
#include "modules.hpp"
#include "pages/render.hpp"
#include "util/log.hpp"
#include "web/assets.hpp"

namespace hub {
namespace {

using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::json;

constexpr std::int64_t kAdminPageSize = 100;
const http::RouteOptions kFormOptions{64 * 1024, std::chrono::seconds(30)};
// The paste box takes a whole class (and then some).
const http::RouteOptions kImportOptions{2 * 1024 * 1024, std::chrono::seconds(60)};

// Runs `fn` on the worker pool and answers through `reply`; HttpErrors
// become their responses.
template <class Fn>
void on_pool(App& app, const std::shared_ptr<Request>& req, const http::Reply& reply, Fn fn) {
  app.pool().post([&app, req, reply, fn = std::move(fn)]() mutable {
    try {
      fn();
    } catch (const HttpError& e) {
      reply(app.error_response(*req, e));
    } catch (const std::exception& e) {
      log::error("page handler for " + req->local_path + " failed: " + e.what());
      reply(app.error_response(*req, 500, "internal error"));
    }
  });
}

std::string next_of(const Request& req) {
  if (auto n = req.query_param("next")) return *n;
  if (auto f = req.form_field("next")) return *f;
  return "";
}

json base_login_data(App& app, const Request& req) {
  std::string next = next_of(req);
  return {{"title", "Sign in"},
          {"next", next},
          {"next_encoded", http::url_encode(next)},
          {"firstuse", app.config()->auth_type == "firstuse"}};
}

Response login_page(App& app, const Request& req, std::string_view error, std::string_view username, int status,
                    std::string_view message = {}) {
  json data = base_login_data(app, req);
  if (!error.empty()) data["error"] = error;
  if (!message.empty()) data["message"] = message;
  data["username"] = username;
  return render_page(app, req, std::nullopt, "login", data, status);
}

const std::string& dummy_hash() {
  static const std::string kHash = accounts::hash_password("coursehub timing equaliser");
  return kHash;
}

std::string minutes_text(double seconds) {
  long minutes = std::max(1L, static_cast<long>(std::ceil(seconds / 60)));
  return std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
}

// The third step of a login, on a worker thread: count the outcome, open the session.
void finish_login(App& app, const std::shared_ptr<Request>& req, const http::Reply& reply, const std::string& name,
                  bool ok) {
  auto& db = app.db();
  auto cfg = app.config();
  double now = common::unix_seconds();
  if (!ok) {
    accounts::record_failure(db, "user:" + name, accounts::user_limits(*cfg), now);
    accounts::record_failure(db, "addr:" + req->remote_addr, accounts::address_limits(*cfg), now);
    log::warning("failed sign-in for " + name + " from " + req->remote_addr);
    return reply(login_page(app, *req, "Invalid username or password.", name, 403));
  }
  accounts::clear_failures(db, "user:" + name);
  auto user = accounts::find_user(db, name);
  if (!user) return reply(login_page(app, *req, "Invalid username or password.", name, 403));
  if (user->status != "active")
    return reply(login_page(app, *req, "Your account is waiting for an admin's approval.", name, 403));
  if (!app.auth().allowed_by_config(user->name, user->admin))
    return reply(login_page(app, *req, "You are not allowed to use this hub.", name, 403));
  Response r = Response::redirect(app.auth().safe_next(next_of(*req)));
  app.auth().start_session(db, user->id, *req, r);
  req->log_user = user->name;
  log::info("user " + user->name + " signed in");
  reply(std::move(r));
}

void login_post(App& app, std::shared_ptr<Request> req, http::Reply reply) {
  on_pool(app, req, reply, [&app, req, reply] {
    auto cfg = app.config();
    try {
      app.auth().check_xsrf(*req);
    } catch (const HttpError& e) {
      return reply(login_page(app, *req, e.what(), "", 403));
    }
    std::string raw = req->form_field("username").value_or("");
    std::string password = req->form_field("password").value_or("");
    std::string name;
    try {
      name = accounts::normalize_username(raw);
    } catch (const accounts::AccountError& e) {
      return reply(login_page(app, *req, e.what(), raw, 400));
    }
    if (password.empty()) return reply(login_page(app, *req, "Enter your password.", name, 400));
    auto& db = app.db();
    double now = common::unix_seconds();
    double wait = std::max(accounts::locked_for(db, "user:" + name, now),
                           accounts::locked_for(db, "addr:" + req->remote_addr, now));
    if (wait > 0) {
      auto r = login_page(app, *req, "Too many failed sign-in attempts. Try again in " + minutes_text(wait) + ".", name, 429);
      r.header("Retry-After", std::to_string(static_cast<long>(std::ceil(wait))));
      return reply(std::move(r));
    }
    auto user = accounts::find_user(db, name);
    std::optional<std::string> hash = user ? accounts::password_hash_of(db, user->id) : std::nullopt;

    if (!hash && cfg->auth_type == "firstuse" && (user || cfg->firstuse_create_users)) {
      // FirstUseAuthenticator: the first sign-in of a name sets its password
      // (of a name nobody created yet only with auth.firstuse.create_users).
      if (!app.auth().allowed_by_config(name, user && user->admin))
        return reply(login_page(app, *req, "You are not allowed to use this hub.", name, 403));
      try {
        accounts::check_password_policy(password, *cfg);
      } catch (const accounts::AccountError& e) {
        return reply(login_page(app, *req, std::string("Choose a password for your new account: ") + e.what(), name, 400));
      }
      app.cpu_pool().post([&app, req, reply, name, password] {
        std::string new_hash = accounts::hash_password(password);
        on_pool(app, req, reply, [&app, req, reply, name, new_hash] {
          auto& db = app.db();
          bool ok = false;
          db.transaction([&] {
            if (auto u = accounts::find_user(db, name)) {
              db.prepare("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash IS NULL")
                  .bind(1, new_hash)
                  .bind(2, u->id)
                  .run();
              ok = db.changes() > 0;
            } else {
              accounts::NewUser nu;
              nu.name = name;
              nu.password_hash = new_hash;
              accounts::create_user(db, nu);
              ok = true;
              log::info("firstuse: created user " + name);
            }
          });
          finish_login(app, req, reply, name, ok);
        });
      });
      return;
    }
    // Hashing runs on the CPU pool; I/O threads and the worker pool stay free.
    app.cpu_pool().post([&app, req, reply, name, password, hash] {
      bool ok = false;
      if (hash) ok = accounts::verify_password(*hash, password);
      else accounts::verify_password(dummy_hash(), password);  // same cost whether or not the user exists
      on_pool(app, req, reply, [&app, req, reply, name, ok] { finish_login(app, req, reply, name, ok); });
    });
  });
}

Response logout(App& app, Request& req) {
  if (req.method == "POST") app.auth().check_xsrf(req);
  auto who = app.auth().identify(req);
  Response r = Response::redirect(app.url("/hub/login"));
  app.auth().end_session(app.db(), req, r);
  if (who) log::info("user " + who->name + " signed out");
  return r;
}

Response signup_page(App& app, const Request& req, json data, int status) {
  std::string next = next_of(req);
  data["title"] = "Sign up";
  data["next_encoded"] = http::url_encode(next);
  data["min_length"] = std::to_string(app.config()->native_minimum_password_length);
  return render_page(app, req, std::nullopt, "signup", data, status);
}

void require_native(App& app) {
  if (app.config()->auth_type != "native")
    throw HttpError(404, "sign-up is not available on this hub (accounts are created on first sign-in or by an admin)");
}

Response signup_get(App& app, Request& req) {
  require_native(app);
  return signup_page(app, req, json::object(), 200);
}

Response signup_post(App& app, Request& req) {
  require_native(app);
  auto cfg = app.config();
  std::string raw = req.form_field("username").value_or("");
  auto fail = [&](int status, const std::string& message) {
    return signup_page(app, req, {{"error", message}, {"username", raw}}, status);
  };
  try {
    app.auth().check_xsrf(req);
  } catch (const HttpError& e) {
    return fail(403, e.what());
  }
  std::string password = req.form_field("password").value_or("");
  std::string name;
  try {
    name = accounts::normalize_username(raw);
    accounts::check_password_policy(password, *cfg);
  } catch (const accounts::AccountError& e) {
    return fail(400, e.what());
  }
  if (password != req.form_field("password_confirm").value_or("")) return fail(400, "The two passwords differ.");
  bool listed_admin = std::find(cfg->users_admin.begin(), cfg->users_admin.end(), name) != cfg->users_admin.end();
  if (!app.auth().allowed_by_config(name, listed_admin)) return fail(403, "This username may not sign up here.");
  std::string hash = accounts::hash_password(password);
  auto& db = app.db();
  std::string done;
  int status = 200;
  std::optional<std::int64_t> signed_up;  // an active new account: may sign in at once
  db.transaction([&] {
    if (auto existing = accounts::find_user(db, name)) {
      // An admin named in users.admin claims their account by signing up (as with NativeAuthenticator).
      if (listed_admin && !existing->has_password) {
        accounts::set_password_hash(db, existing->id, hash);
        done = "Your admin account is ready. Sign in with your new password.";
        return;
      }
      status = 409;
      return;
    }
    accounts::NewUser nu;
    nu.name = name;
    nu.password_hash = hash;
    nu.admin = listed_admin;
    nu.status = cfg->native_open_signup || listed_admin ? "active" : "pending";
    auto created = accounts::create_user(db, nu);
    if (nu.status == "active") signed_up = created.id;
    done = nu.status == "active" ? "Your account was created. You can sign in now."
                                 : "Your account was created. An admin must approve it before you can sign in.";
  });
  if (status == 409) return fail(409, "This username is taken; choose another.");
  log::info("sign-up: " + name);
  // Open sign-up from a link (a git-pull link, say): signed in at once and
  // straight on to where the link leads, every parameter intact.
  if (signed_up && !next_of(req).empty()) {
    Response r = Response::redirect(app.auth().safe_next(next_of(req)));
    app.auth().start_session(db, *signed_up, req, r);
    req.log_user = name;
    return r;
  }
  return signup_page(app, req, {{"done", done}, {"username", name}}, 200);
}

json token_rows(App& app, const accounts::User& user) {
  json rows = json::array();
  for (const auto& t : accounts::list_tokens(app.db(), user.id)) {
    rows.push_back({{"id", std::to_string(t.id)},
                    {"note", t.note},
                    {"prefix", t.prefix},
                    {"created", iso_time(t.created)},
                    {"last_activity", iso_time(t.last_activity)},
                    {"expires_at", iso_time(t.expires_at)}});
  }
  return rows;
}

Response home_page(App& app, Request& req, const Identity& me, json extra, int status = 200) {
  auto user = accounts::find_user_by_id(app.db(), me.user_id);
  if (!user) throw HttpError::redirect(app.url("/hub/login"));
  json data = std::move(extra);
  data["title"] = "Home";
  auto tokens = token_rows(app, *user);
  data["has_tokens"] = !tokens.empty();
  data["tokens"] = tokens;
  auto model = user_model(app, *user);
  if (!model["server"].is_null()) data["server_url"] = model["server"];
  // The server box (start/stop buttons) follows the spawner's state.
  data["name_url"] = http::url_encode(user->name);
  const auto& pending = model["pending"];
  data["server_starting"] = pending.is_string() && pending == "spawn";
  data["server_stopping"] = pending.is_string() && pending == "stop";
  data["server_stopped"] = model["server"].is_null() && pending.is_null();
  return render_page(app, req, me, "home", data, status);
}

Response token_new(App& app, Request& req) {
  auto me = app.auth().require_page_user(req);
  std::string note = req.form_field("note").value_or("");
  std::optional<std::int64_t> expires;
  std::string e = req.form_field("expires_in").value_or("");
  if (!e.empty()) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(e.data(), e.data() + e.size(), v);
    if (ec != std::errc() || p != e.data() + e.size() || v <= 0)
      return home_page(app, req, me, {{"error", "expiry must be a positive number of seconds"}}, 400);
    expires = v;
  }
  try {
    auto created = accounts::create_token(app.db(), me.user_id, note.empty() ? "Requested via the home page" : note, expires);
    return home_page(app, req, me, {{"new_token", created.secret}});
  } catch (const accounts::AccountError& err) {
    return home_page(app, req, me, {{"error", err.what()}}, err.status());
  }
}

Response token_revoke(App& app, Request& req) {
  auto me = app.auth().require_page_user(req);
  std::int64_t id = 0;
  const auto& raw = req.params[0];
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  bool ok = ec == std::errc() && p == raw.data() + raw.size() && accounts::delete_token(app.db(), me.user_id, id);
  app.auth().forget_user(me.user_id);
  if (!ok) return home_page(app, req, me, {{"error", "no such token"}}, 404);
  return home_page(app, req, me, {{"message", "Token revoked."}});
}

Response change_password_page(App& app, Request& req, const Identity& me, json data, int status) {
  data["title"] = "Change password";
  data["min_length"] = std::to_string(app.config()->native_minimum_password_length);
  return render_page(app, req, me, "change_password", data, status);
}

Response change_password_post(App& app, Request& req) {
  auto me = app.auth().require_page_user(req);
  std::string current = req.form_field("current_password").value_or("");
  std::string fresh = req.form_field("new_password").value_or("");
  auto hash = accounts::password_hash_of(app.db(), me.user_id);
  if (!hash || !accounts::verify_password(*hash, current))
    return change_password_page(app, req, me, {{"error", "Your current password is not right."}}, 403);
  if (fresh != req.form_field("new_password_confirm").value_or(""))
    return change_password_page(app, req, me, {{"error", "The two new passwords differ."}}, 400);
  auto user = accounts::find_user_by_id(app.db(), me.user_id);
  try {
    reset_password(app, *user, fresh);
  } catch (const accounts::AccountError& e) {
    return change_password_page(app, req, me, {{"error", e.what()}}, 400);
  }
  // Every session was revoked; this browser gets a fresh one.
  auto r = change_password_page(app, req, me, {{"message", "Password changed. Other sessions were signed out."}}, 200);
  app.auth().start_session(app.db(), me.user_id, req, r);
  return r;
}

Identity require_admin_page(App& app, Request& req) {
  auto me = app.auth().require_page_user(req);
  if (!me.admin) throw HttpError(403, "this page is for admins");
  return me;
}

std::string admin_message(const std::string& code, const std::string& name) {
  if (code == "approved") return "Approved " + name + ".";
  if (code == "admin_on") return name + " is now an admin.";
  if (code == "admin_off") return name + " is no longer an admin.";
  if (code == "instructor_on") return name + " is now an instructor.";
  if (code == "instructor_off") return name + " is no longer an instructor.";
  if (code == "password") return "Password of " + name + " changed; their sessions were signed out.";
  if (code == "deleted") return "Deleted " + name + ".";
  if (code == "added") return "Added " + name + ".";
  return "";
}

Response admin_page(App& app, Request& req, const Identity& me, json data, int status = 200) {
  auto& db = app.db();
  accounts::UserQuery q;
  q.search = req.query_param("q").value_or("");
  q.status = req.query_param("status").value_or("");
  if (q.status != "" && q.status != "pending" && q.status != "active") q.status = "";
  std::int64_t offset = 0;
  if (auto o = req.query_param("offset")) {
    auto [p, ec] = std::from_chars(o->data(), o->data() + o->size(), offset);
    if (ec != std::errc() || offset < 0) offset = 0;
  }
  q.offset = offset;
  q.limit = kAdminPageSize;
  auto users = accounts::list_users(db, q);
  auto total = accounts::count_users(db, q);
  accounts::UserQuery pending_q;
  pending_q.status = "pending";
  auto pending = accounts::count_users(db, pending_q);
  json rows = json::array();
  for (const auto& u : users) {
    auto servers = user_servers(app, u.name);
    std::string state = "—";
    if (auto it = servers.find(""); it != servers.end() && it->is_object()) {
      if (it->value("ready", false)) state = "running";
      else if (it->contains("pending") && !(*it)["pending"].is_null()) state = (*it)["pending"].get<std::string>() + "ing";
    }
    rows.push_back({{"name", u.name},
                    {"name_url", http::url_encode(u.name)},
                    {"admin", u.admin},
                    {"instructor", u.instructor},
                    {"pending", u.status == "pending"},
                    {"has_password", u.has_password},
                    {"server_state", state},
                    {"server_running", state == "running"},
                    {"server_stopped", state == "—"},
                    {"last_activity", iso_time(u.last_activity)}});
  }
  auto page_url = [&](std::int64_t off) {
    return app.url("/hub/admin") + "?q=" + http::url_encode(q.search) + "&status=" + q.status +
           "&offset=" + std::to_string(off);
  };
  data["title"] = "Admin";
  data["users"] = rows;
  data["total"] = std::to_string(total);
  data["q"] = q.search;
  data["status_all"] = q.status.empty();
  data["status_pending"] = q.status == "pending";
  data["status_active"] = q.status == "active";
  if (pending > 0) data["pending_count"] = std::to_string(pending);
  if (offset > 0) data["prev_url"] = page_url(std::max<std::int64_t>(0, offset - kAdminPageSize));
  if (offset + kAdminPageSize < total) data["next_url"] = page_url(offset + kAdminPageSize);
  if (!data.contains("message")) {
    auto msg = admin_message(req.query_param("done").value_or(""), req.query_param("name").value_or(""));
    if (!msg.empty()) data["message"] = msg;
  }
  return render_page(app, req, me, "admin", data, status);
}

Response admin_done(App& app, const std::string& code, const std::string& name) {
  return Response::redirect(app.url("/hub/admin") + "?done=" + code + "&name=" + http::url_encode(name), 303);
}

// Runs an admin action; AccountErrors are shown on the admin page.
template <class Fn>
Response admin_action(App& app, Request& req, Fn fn) {
  auto me = require_admin_page(app, req);
  try {
    return fn(me);
  } catch (const accounts::AccountError& e) {
    return admin_page(app, req, me, {{"error", e.what()}}, e.status());
  }
}

bool form_on(const Request& req, const char* field) {
  auto v = req.form_field(field).value_or("");
  return v == "on" || v == "true" || v == "1" || v == "yes";
}

void add_admin_routes(App& app) {
  auto& r = app.router();
  r.add("GET", "/hub/admin", [&app](Request& req) {
    auto me = require_admin_page(app, req);
    return admin_page(app, req, me, json::object());
  });
  r.add("POST", "/hub/admin/users/add", [&app](Request& req) {
    return admin_action(app, req, [&](const Identity&) {
      auto pw = req.form_field("password").value_or("");
      auto user = add_user(app, req.form_field("username").value_or(""), form_on(req, "admin"),
                           pw.empty() ? std::nullopt : std::optional<std::string>(pw));
      return admin_done(app, "added", user.name);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/users/import", [&app](Request& req) {
    auto me = require_admin_page(app, req);
    std::string text = req.form_field("users").value_or("");
    auto plan = accounts::parse_user_list(text, *app.config());
    if (plan.rows.empty() && plan.errors.empty()) plan.errors.push_back("the list is empty");
    if (!plan.errors.empty())
      return admin_page(app, req, me, {{"has_import_errors", true}, {"import_errors", plan.errors}, {"bulk_text", text}}, 400);
    auto result = accounts::import_users(app.db(), plan);
    std::string msg = "Created " + std::to_string(result.created.size()) + " user(s)";
    std::string names;
    for (const auto& n : result.created) names += (names.empty() ? ": " : ", ") + n;
    msg += names + ".";
    if (!result.existing.empty()) {
      msg += " " + std::to_string(result.existing.size()) + " already existed and were left unchanged:";
      for (std::size_t i = 0; i < result.existing.size(); ++i) msg += (i ? ", " : " ") + result.existing[i];
      msg += ".";
    }
    log::info("bulk import by " + me.name + ": " + std::to_string(result.created.size()) + " created");
    return admin_page(app, req, me, {{"message", msg}});
  }, kImportOptions);
  r.add("POST", "/hub/admin/users/{name}/approve", [&app](Request& req) {
    return admin_action(app, req, [&](const Identity&) {
      auto user = user_or_404(app, req.params[0]);
      approve_user(app, user);
      return admin_done(app, "approved", user.name);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/users/{name}/admin", [&app](Request& req) {
    return admin_action(app, req, [&](const Identity& me) {
      auto user = user_or_404(app, req.params[0]);
      bool on = form_on(req, "admin");
      change_admin(app, me, user, on);
      return admin_done(app, on ? "admin_on" : "admin_off", user.name);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/users/{name}/instructor", [&app](Request& req) {
    return admin_action(app, req, [&](const Identity&) {
      auto user = user_or_404(app, req.params[0]);
      bool on = form_on(req, "instructor");
      change_instructor(app, user, on);
      return admin_done(app, on ? "instructor_on" : "instructor_off", user.name);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/users/{name}/password", [&app](Request& req) {
    return admin_action(app, req, [&](const Identity&) {
      auto user = user_or_404(app, req.params[0]);
      reset_password(app, user, req.form_field("password").value_or(""));
      return admin_done(app, "password", user.name);
    });
  }, kFormOptions);
  r.add("POST", "/hub/admin/users/{name}/delete", [&app](Request& req) {
    return admin_action(app, req, [&](const Identity& me) {
      auto user = user_or_404(app, req.params[0]);
      remove_user(app, me, user.name);
      return admin_done(app, "deleted", user.name);
    });
  }, kFormOptions);
}

Response authorize_page(App& app, Request& req, const Identity& me, json data) {
  accounts::UserQuery q;
  q.status = "pending";
  json rows = json::array();
  for (const auto& u : accounts::list_users(app.db(), q))
    rows.push_back({{"name", u.name}, {"name_url", http::url_encode(u.name)}, {"created", iso_time(u.created)}});
  data["title"] = "Authorize";
  data["has_pending"] = !rows.empty();
  data["pending"] = rows;
  data["open_signup"] = app.config()->native_open_signup;
  return render_page(app, req, me, "authorize", data);
}

void add_authorize_routes(App& app) {
  auto& r = app.router();
  r.add("GET", "/hub/authorize", [&app](Request& req) {
    auto me = require_admin_page(app, req);
    return authorize_page(app, req, me, json::object());
  });
  r.add("POST", "/hub/authorize/{name}", [&app](Request& req) {
    auto me = require_admin_page(app, req);
    auto user = user_or_404(app, req.params[0]);
    approve_user(app, user);
    return authorize_page(app, req, me, {{"message", "Approved " + user.name + "; they can sign in now."}});
  }, kFormOptions);
  r.add("POST", "/hub/authorize/{name}/reject", [&app](Request& req) {
    auto me = require_admin_page(app, req);
    auto user = user_or_404(app, req.params[0]);
    if (user.status != "pending") throw HttpError(409, user.name + " is not awaiting approval");
    remove_user(app, me, user.name);
    return authorize_page(app, req, me, {{"message", "Rejected the sign-up of " + user.name + "."}});
  }, kFormOptions);
}

}  // namespace

void add_page_routes(App& app) {
  auto& r = app.router();
  app.set_html_error_renderer([&app](const Request& req, int status, std::string_view message) {
    return render_page(app, req, std::nullopt, "error",
                       {{"title", std::string(http::reason_phrase(status))},
                        {"status", std::to_string(status)},
                        {"reason", std::string(http::reason_phrase(status))},
                        {"message", std::string(message)}},
                       status);
  });

  r.add_async("GET", "/hub/static/*", [](std::shared_ptr<Request> req, http::Reply reply) {
    const auto* asset = req->rest.find("..") == std::string::npos ? web::find_asset("static/" + req->rest) : nullptr;
    if (!asset) return reply(Response::json_error(404, "no such file"));
    auto res = Response::text(200, std::string(asset->content), std::string(asset->content_type));
    res.header("Cache-Control", "public, max-age=86400");
    reply(std::move(res));
  });
  r.add_async("GET", "/", [&app](std::shared_ptr<Request>, http::Reply reply) {
    reply(Response::redirect(app.url("/hub/")));
  });
  r.add("GET", "/hub", [&app](Request& req) {
    if (app.auth().identify(req)) return Response::redirect(app.url("/hub/home"));
    return Response::redirect(app.url("/hub/login"));
  });

  r.add("GET", "/hub/login", [&app](Request& req) {
    if (app.auth().identify(req)) return Response::redirect(app.auth().safe_next(next_of(req)));
    return login_page(app, req, "", "", 200);
  });
  r.add_async("POST", "/hub/login",
              [&app](std::shared_ptr<Request> req, http::Reply reply) { login_post(app, std::move(req), std::move(reply)); },
              kFormOptions);
  r.add("GET,POST", "/hub/logout", [&app](Request& req) { return logout(app, req); }, kFormOptions);
  r.add("GET", "/hub/signup", [&app](Request& req) { return signup_get(app, req); });
  r.add("POST", "/hub/signup", [&app](Request& req) { return signup_post(app, req); }, kFormOptions);

  r.add("GET", "/hub/home", [&app](Request& req) {
    auto me = app.auth().require_page_user(req);
    return home_page(app, req, me, json::object());
  });
  r.add("POST", "/hub/token/new", [&app](Request& req) { return token_new(app, req); }, kFormOptions);
  r.add("POST", "/hub/token/{id}/revoke", [&app](Request& req) { return token_revoke(app, req); }, kFormOptions);
  r.add("GET", "/hub/change-password", [&app](Request& req) {
    auto me = app.auth().require_page_user(req);
    return change_password_page(app, req, me, json::object(), 200);
  });
  r.add("POST", "/hub/change-password", [&app](Request& req) { return change_password_post(app, req); }, kFormOptions);

  add_admin_routes(app);
  add_authorize_routes(app);
}

}  // namespace hub
