#include "pages/render.hpp"

#include <kainjow/mustache.hpp>

#include <stdexcept>

#include "app.hpp"
#include "auth/auth.hpp"
#include "hub/version.hpp"
#include "web/assets.hpp"

namespace hub {
namespace {

namespace mst = kainjow::mustache;

mst::data to_data(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      mst::data d(mst::data::type::object);
      for (const auto& [k, v] : j.items()) d.set(k, to_data(v));
      return d;
    }
    case nlohmann::json::value_t::array: {
      mst::data d(mst::data::type::list);
      for (const auto& v : j) d.push_back(to_data(v));
      return d;
    }
    case nlohmann::json::value_t::string:
      return mst::data(j.get<std::string>());
    case nlohmann::json::value_t::boolean:
      return mst::data(j.get<bool>());
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return mst::data(false);
    default:
      return mst::data(j.dump());
  }
}

}  // namespace

std::string render_template(std::string_view name, const nlohmann::json& data) {
  std::string path = "templates/" + std::string(name) + ".mustache";
  const auto* asset = web::find_asset(path);
  if (!asset) throw std::runtime_error("missing template " + path);
  mst::mustache tmpl{std::string(asset->content)};
  if (!tmpl.is_valid()) throw std::runtime_error("template " + path + ": " + tmpl.error_message());
  std::string out = tmpl.render(to_data(data));
  if (!tmpl.is_valid()) throw std::runtime_error("template " + path + ": " + tmpl.error_message());
  return out;
}

http::Response render_page(App& app, const http::Request& req, const std::optional<Identity>& user,
                           std::string_view name, nlohmann::json data, int status) {
  http::Response res;
  auto cfg = app.config();
  data["base_url"] = app.url("/");
  data["hub_url"] = app.url("/hub/");
  data["static_url"] = app.url("/hub/static/");
  data["version"] = kVersion;
  data["xsrf"] = app.auth().xsrf_token(req, res);
  data["native_auth"] = cfg->auth_type == "native";
  if (user)
    data["user"] = {{"name", user->name},
                    {"admin", user->admin},
                    {"instructor", user->instructor},
                    {"teaches", user->admin || user->instructor}};
  for (const auto& fill : app.hooks().page_data) fill(name, user ? &*user : nullptr, data);
  std::string body = render_template(name, data);
  nlohmann::json layout = data;
  layout["body"] = body;
  if (!layout.contains("title")) layout["title"] = "coursehub";
  auto headers = std::move(res.headers);
  res = http::Response::html(status, render_template("layout", layout));
  for (const auto& [k, v] : headers.items()) res.headers.add(k, v);
  res.headers.set("Cache-Control", "no-store");
  res.headers.set("Content-Security-Policy", "frame-ancestors 'self'; object-src 'none'; base-uri 'self'");
  res.headers.set("Referrer-Policy", "same-origin");
  return res;
}

}  // namespace hub
