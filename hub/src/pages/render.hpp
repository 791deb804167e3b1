#pragma once
// HTML pages from the mustache templates in web/templates (embedded in the
// binary).  Every {{value}} is HTML-escaped by the engine; the templates use
// {{{...}}} only for HTML the hub produced itself (the page body inside the
// layout).  Thread-safe.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "http/message.hpp"

namespace hub {

class App;
struct Identity;

// Renders templates/<name>.mustache with `data`.  Throws std::runtime_error
// when the template is missing or malformed (a build defect).
std::string render_template(std::string_view name, const nlohmann::json& data);

// A whole page: templates/<name>.mustache inside templates/layout.mustache.
// Adds to `data`: base_url, static_url, version, user {name, admin}, xsrf
// (and sets the _xsrf cookie when the client has none), native_auth.
http::Response render_page(App& app, const http::Request& req, const std::optional<Identity>& user,
                           std::string_view name, nlohmann::json data, int status = 200);

}  // namespace hub
