#include "http/message.hpp"

#include <arpa/inet.h>
#include <strings.h>

#include <array>
#include <cstring>

#include <nlohmann/json.hpp>

namespace hub::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// An IP address as 16 bytes (IPv4 as IPv4-mapped IPv6), or nullopt.
std::optional<std::array<unsigned char, 16>> ip_bytes(std::string_view text) {
  std::string s(text);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::array<unsigned char, 16> out{};
  unsigned char v4[4];
  if (inet_pton(AF_INET, s.c_str(), v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

bool is_trusted(std::string_view addr, const std::vector<std::string>& trusted) {
  auto a = ip_bytes(addr);
  if (!a) return false;
  for (const auto& t : trusted)
    if (auto b = ip_bytes(t); b && *a == *b) return true;
  return false;
}

std::string cookie_header(std::string_view name, std::string_view value, const CookieOptions& o) {
  std::string c(name);
  c += '=';
  c += value;
  c += "; Path=" + o.path;
  if (o.max_age_seconds) c += "; Max-Age=" + std::to_string(*o.max_age_seconds);
  if (o.http_only) c += "; HttpOnly";
  if (o.secure) c += "; Secure";
  if (!o.same_site.empty()) c += "; SameSite=" + o.same_site;
  return c;
}

}  // namespace

void Headers::add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }

void Headers::set(std::string name, std::string value) {
  erase(name);
  add(std::move(name), std::move(value));
}

void Headers::erase(std::string_view name) {
  std::erase_if(items_, [&](const auto& kv) { return iequals(kv.first, name); });
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  auto params = parse_urlencoded(query);
  auto it = params.find(std::string(name));
  if (it == params.end()) return std::nullopt;
  return it->second;
}

std::multimap<std::string, std::string> Request::query_params() const { return parse_urlencoded(query); }

std::optional<std::string> Request::cookie(std::string_view name) const {
  // Several Cookie headers may arrive (HTTP/2 style); look through all.
  for (const auto& [k, v] : headers.items()) {
    if (!iequals(k, "cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      std::string_view part = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      auto eq = part.find('=');
      if (eq == std::string_view::npos) continue;
      if (trim(part.substr(0, eq)) == name) {
        std::string value = trim(part.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        return value;
      }
    }
  }
  return std::nullopt;
}

std::multimap<std::string, std::string> Request::form() const { return parse_urlencoded(body); }

std::optional<std::string> Request::form_field(std::string_view name) const {
  auto f = form();
  auto it = f.find(std::string(name));
  if (it == f.end()) return std::nullopt;
  return it->second;
}

nlohmann::json Request::json_body(bool allow_empty) const {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    if (allow_empty) return nullptr;
    throw HttpError(400, "a JSON body is required");
  }
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw HttpError(400, "malformed JSON body: " + std::string(e.what()).substr(0, 200));
  }
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.set("Content-Type", std::move(content_type));
  return r;
}

Response Response::html(int status, std::string body) { return text(status, std::move(body), "text/html; charset=utf-8"); }

Response Response::json(int status, const nlohmann::json& value) {
  return text(status, value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

Response Response::json_error(int status, std::string_view message) {
  return json(status, nlohmann::json{{"status", status}, {"message", std::string(message)}});
}

Response Response::redirect(std::string location, int status) {
  Response r;
  r.status = status;
  r.headers.set("Location", std::move(location));
  return r;
}

Response Response::no_content(int status) {
  Response r;
  r.status = status;
  return r;
}

Response& Response::set_cookie(std::string_view name, std::string_view value, const CookieOptions& options) {
  headers.add("Set-Cookie", cookie_header(name, value, options));
  return *this;
}

Response& Response::clear_cookie(std::string_view name, const CookieOptions& options) {
  CookieOptions o = options;
  o.max_age_seconds = 0;
  headers.add("Set-Cookie", cookie_header(name, "", o) + "; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  return *this;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string url_encode_path(std::string_view s) {
  std::string out;
  std::size_t start = 0;
  for (;;) {
    auto slash = s.find('/', start);
    out += url_encode(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::multimap<std::string, std::string> parse_urlencoded(std::string_view s) {
  std::multimap<std::string, std::string> out;
  while (!s.empty()) {
    auto amp = s.find('&');
    std::string_view part = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view() : s.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out.emplace(url_decode(part, true), "");
    else
      out.emplace(url_decode(part.substr(0, eq), true), url_decode(part.substr(eq + 1), true));
  }
  return out;
}

void apply_trusted_forwarding(Request& req, const std::vector<std::string>& trusted) {
  if (trusted.empty() || !is_trusted(req.remote_addr, trusted)) return;
  // Every X-Forwarded-For field, in order, as one comma-separated list.
  std::vector<std::string> chain;
  for (const auto& [name, value] : req.headers.items()) {
    if (!iequals(name, "X-Forwarded-For")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      chain.push_back(trim(rest.substr(0, comma)));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!ip_bytes(*it)) break;
    req.remote_addr = *it;
    if (!is_trusted(*it, trusted)) break;
  }
  if (auto proto = req.header("X-Forwarded-Proto")) {
    std::string p = trim(proto->substr(0, proto->find(',')));
    if (iequals(p, "https")) req.secure = true;
  }
}

}  // namespace hub::http
