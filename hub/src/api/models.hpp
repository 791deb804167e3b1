#pragma once
// JupyterHub-shaped JSON models of users and tokens, shared by the REST API
// and the pages.  Call on worker threads (the user model asks the spawner's
// Hooks::user_servers).
#include <optional>

#include <nlohmann/json.hpp>

#include "auth/accounts.hpp"

namespace hub {

class App;

// ISO 8601 UTC with milliseconds, or null.
nlohmann::json iso_time(std::optional<double> unix_seconds);

// {"kind":"user","name","admin","roles","groups","server","pending",
//  "created","last_activity","servers", + coursehub's "instructor","status"}
nlohmann::json user_model(App& app, const accounts::User& user);
// The user's servers as Hooks::user_servers reports them ({} without a spawner).
nlohmann::json user_servers(App& app, const std::string& name);

// {"kind":"api_token","id":"a<N>","user","note","created","expires_at",
//  "last_activity","scopes","roles","session_id","oauth_client"}
nlohmann::json token_model(const accounts::Token& token, const std::string& user);

}  // namespace hub
