#include "auth/user_admin.hpp"

#include "app.hpp"
#include "auth/auth.hpp"
#include "common/sqlite.hpp"
#include "util/log.hpp"

namespace hub {

accounts::User add_user(App& app, std::string_view raw_name, bool admin, const std::optional<std::string>& password) {
  std::string name = accounts::normalize_username(raw_name);
  accounts::NewUser nu;
  nu.name = name;
  nu.admin = admin;
  if (password) {
    accounts::check_password_policy(*password, *app.config());
    nu.password_hash = accounts::hash_password(*password);
  }
  auto user = accounts::create_user(app.db(), nu);
  log::info("user " + name + " created" + (admin ? " (admin)" : ""));
  return user;
}

void remove_user(App& app, const Identity& actor, std::string_view name) {
  auto user = user_or_404(app, name);
  if (user.id == actor.user_id) throw accounts::AccountError(400, "you cannot delete yourself");
  for (auto& hook : app.hooks().on_user_deleted) hook(user.name);
  accounts::delete_user(app.db(), user.id);
  app.auth().forget_user(user.id);
  log::info("user " + user.name + " deleted by " + actor.name);
}

void reset_password(App& app, const accounts::User& user, std::string_view password) {
  accounts::check_password_policy(password, *app.config());
  std::string hash = accounts::hash_password(password);
  auto& db = app.db();
  db.transaction([&] {
    accounts::set_password_hash(db, user.id, hash);
    accounts::revoke_sessions(db, user.id);
  });
  accounts::clear_failures(db, "user:" + user.name);
  app.auth().forget_user(user.id);
  log::info("password of " + user.name + " changed; their sessions were revoked");
}

void change_admin(App& app, const Identity& actor, const accounts::User& user, bool admin) {
  if (!admin && user.id == actor.user_id) throw accounts::AccountError(400, "you cannot remove your own admin rights");
  accounts::set_admin(app.db(), user.id, admin);
  app.auth().forget_user(user.id);
  log::info("admin flag of " + user.name + (admin ? " granted" : " revoked") + " by " + actor.name);
}

void change_instructor(App& app, const accounts::User& user, bool instructor) {
  accounts::set_instructor(app.db(), user.id, instructor);
  app.auth().forget_user(user.id);
}

void approve_user(App& app, const accounts::User& user) {
  accounts::set_status(app.db(), user.id, "active");
  app.auth().forget_user(user.id);
  log::info("user " + user.name + " approved");
}

accounts::User user_or_404(App& app, std::string_view name) {
  std::string key;
  try {
    key = accounts::normalize_username(name);
  } catch (const accounts::AccountError&) {
    throw accounts::AccountError(404, "no such user");
  }
  auto u = accounts::find_user(app.db(), key);
  if (!u) throw accounts::AccountError(404, "no such user: " + key);
  return *u;
}

}  // namespace hub
