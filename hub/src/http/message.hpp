#pragma once
// HTTP requests and responses as the hub's handlers see them, without
// Boost.Beast (which stays inside hub/src/http/server.cpp and the take-over
// header raw_connection.hpp).
//
// Values only: a Request belongs to the handler that received it, a Response
// to whoever returns it.  Nothing here is thread-safe for concurrent mutation;
// read-only sharing across threads is fine.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hub::http {

// Header fields; names compare case-insensitively, order is kept.
class Headers {
 public:
  void add(std::string name, std::string value);
  // Replaces every field of that name.
  void set(std::string name, std::string value);
  void erase(std::string_view name);
  std::optional<std::string> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct Request {
  std::string method;      // upper case as received: "GET", "POST", ...
  std::string target;      // as received: "/base/hub/login?next=%2Fhub%2Fhome"
  std::string path;        // target without the query, NOT percent-decoded
  std::string local_path;  // path with the configured base_url removed, starting with "/"
  std::string query;       // raw query string, without '?'
  unsigned version = 11;   // 10 or 11
  Headers headers;
  std::string body;        // filled for ordinary routes, within their body limit
  std::string remote_addr;  // the client's IP address
  bool secure = false;      // arrived over TLS
  bool keep_alive = true;

  // Filled by the router: "{name}" parameters, percent-decoded, in order of
  // the pattern, and for patterns ending in "*" the raw (undecoded) rest of
  // the path after the matched prefix.
  std::vector<std::string> params;
  std::string rest;

  // Set by the auth helpers once the request is authenticated: the name
  // shown in the request log line.
  std::string log_user;

  std::optional<std::string> header(std::string_view name) const { return headers.get(name); }
  // The first value of a query parameter, percent-decoded ('+' is a space).
  std::optional<std::string> query_param(std::string_view name) const;
  std::multimap<std::string, std::string> query_params() const;
  // The value of a cookie sent by the client.
  std::optional<std::string> cookie(std::string_view name) const;
  // The body as application/x-www-form-urlencoded fields.
  std::multimap<std::string, std::string> form() const;
  std::optional<std::string> form_field(std::string_view name) const;
  // The body as JSON; throws HttpError 400 "malformed JSON body: ..." when it
  // is not, and when it is empty unless `allow_empty` (then null).
  nlohmann::json json_body(bool allow_empty = false) const;
  bool is_api() const { return local_path.rfind("/hub/api", 0) == 0; }
  bool is_unsafe_method() const { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }
};

// Behind a front proxy: when `req.remote_addr` is one of `trusted` (IP
// addresses, IPv4-mapped IPv6 treated as IPv4), the client becomes the
// right-most X-Forwarded-For entry that is not itself trusted, and
// "X-Forwarded-Proto: https" marks the request secure.  A request from any
// other address is left as it is, so nobody else can claim another address.
// Malformed entries stop the walk (the last good address is kept).
void apply_trusted_forwarding(Request& req, const std::vector<std::string>& trusted);

struct CookieOptions {
  std::string path = "/";
  bool http_only = true;
  bool secure = false;
  std::string same_site = "Lax";
  std::optional<long long> max_age_seconds;  // none: a session cookie; 0: delete
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response html(int status, std::string body);
  static Response json(int status, const nlohmann::json& value);
  // {"status": N, "message": "..."}, JupyterHub's error shape.
  static Response json_error(int status, std::string_view message);
  static Response redirect(std::string location, int status = 302);
  static Response no_content(int status = 204);

  Response& header(std::string name, std::string value) {
    headers.set(std::move(name), std::move(value));
    return *this;
  }
  Response& set_cookie(std::string_view name, std::string_view value, const CookieOptions& options);
  Response& clear_cookie(std::string_view name, const CookieOptions& options);
};

// Thrown by handlers to answer with an error; the dispatch boundary turns it
// into {"status","message"} JSON on /hub/api paths, a redirect when
// `location` is set, and an HTML error page elsewhere.  The message is shown
// to the user: no secrets, no internals.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string message) : std::runtime_error(message), status_(status) {}
  static HttpError redirect(std::string location) {
    HttpError e(302, "redirect");
    e.location_ = std::move(location);
    return e;
  }
  int status() const { return status_; }
  const std::optional<std::string>& location() const { return location_; }
  // Extra headers for the error response (e.g. Retry-After).
  Headers& headers() { return headers_; }
  const Headers& headers() const { return headers_; }

 private:
  int status_;
  std::optional<std::string> location_;
  Headers headers_;
};

std::string_view reason_phrase(int status);

// Percent-decoding; `plus_is_space` for query strings and form bodies.
// Invalid escapes are kept literally.
std::string url_decode(std::string_view s, bool plus_is_space);
// Percent-encodes everything except unreserved characters (RFC 3986).
std::string url_encode(std::string_view s);
// Like url_encode but keeps '/'.
std::string url_encode_path(std::string_view s);
std::multimap<std::string, std::string> parse_urlencoded(std::string_view s);

}  // namespace hub::http
