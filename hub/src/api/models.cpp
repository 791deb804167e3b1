#include "api/models.hpp"

#include <chrono>

#include "app.hpp"
#include "common/time_util.hpp"

namespace hub {

nlohmann::json iso_time(std::optional<double> unix_seconds) {
  if (!unix_seconds) return nullptr;
  auto tp = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(*unix_seconds)));
  return common::iso8601_utc(tp);
}

nlohmann::json user_servers(App& app, const std::string& name) {
  if (app.hooks().user_servers) {
    auto s = app.hooks().user_servers(name);
    if (s.is_object()) return s;
  }
  return nlohmann::json::object();
}

nlohmann::json user_model(App& app, const accounts::User& user) {
  nlohmann::json roles = nlohmann::json::array({"user"});
  if (user.admin) roles.push_back("admin");
  if (user.instructor) roles.push_back("instructor");
  auto servers = user_servers(app, user.name);
  nlohmann::json server = nullptr, pending = nullptr;
  if (auto it = servers.find(""); it != servers.end() && it->is_object()) {
    if (it->value("ready", false)) server = it->value("url", app.url("/user/" + user.name + "/"));
    if (it->contains("pending")) pending = (*it)["pending"];
  }
  return {{"kind", "user"},
          {"name", user.name},
          {"admin", user.admin},
          {"roles", roles},
          {"groups", nlohmann::json::array()},
          {"server", server},
          {"pending", pending},
          {"created", iso_time(user.created)},
          {"last_activity", iso_time(user.last_activity)},
          {"servers", servers},
          {"instructor", user.instructor},
          {"status", user.status}};
}

nlohmann::json token_model(const accounts::Token& token, const std::string& user) {
  return {{"kind", "api_token"},
          {"id", "a" + std::to_string(token.id)},
          {"user", user},
          {"service", nullptr},
          {"note", token.note},
          {"prefix", token.prefix},
          {"created", iso_time(token.created)},
          {"expires_at", iso_time(token.expires_at)},
          {"last_activity", iso_time(token.last_activity)},
          {"scopes", nlohmann::json::array({"inherit"})},
          {"roles", nlohmann::json::array()},
          {"session_id", nullptr},
          {"oauth_client", nullptr}};
}

}  // namespace hub
