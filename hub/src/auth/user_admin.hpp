#pragma once
// Account operations shared by the REST API and the admin pages, with the
// checks and side effects both need (validation, hashing, session
// revocation, cache invalidation, module hooks).  Worker threads only: they
// block on SQLite and password hashing.  Errors: accounts::AccountError.
#include <optional>
#include <string>
#include <string_view>

#include "auth/accounts.hpp"

namespace hub {

class App;
struct Identity;

// Creates an active user.  `password` (optional) must meet the policy.
accounts::User add_user(App& app, std::string_view raw_name, bool admin, const std::optional<std::string>& password);
// Runs Hooks::on_user_deleted, then deletes the user with their sessions
// and tokens.  An admin cannot delete themself (400).  404 when absent.
void remove_user(App& app, const Identity& actor, std::string_view name);
// Sets a new password (policy checked) and logs the user out everywhere.
void reset_password(App& app, const accounts::User& user, std::string_view password);
void change_admin(App& app, const Identity& actor, const accounts::User& user, bool admin);
void change_instructor(App& app, const accounts::User& user, bool instructor);
// A pending signup becomes an active account.
void approve_user(App& app, const accounts::User& user);
// The user, or AccountError 404 "no such user".
accounts::User user_or_404(App& app, std::string_view name);

}  // namespace hub
