#include "proxy/headers.hpp"

#include <algorithm>
#include <cctype>

namespace hub::proxy {
namespace {

using boost::beast::iequals;
using field = http::field;

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Hop-by-hop fields (RFC 9110 §7.6.1): the fixed set plus every name listed
// in Connection.  Views into the message's own fields: no copies.
class HopByHop {
 public:
  explicit HopByHop(const http::fields& f) {
    for (auto it = f.find(field::connection); it != f.end() && it->name() == field::connection; ++it) {
      std::string_view v = sv(it->value());
      std::size_t pos = 0;
      while (pos <= v.size()) {
        auto comma = v.find(',', pos);
        if (comma == std::string_view::npos) comma = v.size();
        auto token = trim(v.substr(pos, comma - pos));
        if (!token.empty()) listed_.push_back(token);
        pos = comma + 1;
      }
    }
  }
  bool contains(const http::fields::value_type& f) const {
    switch (f.name()) {
      case field::connection:
      case field::keep_alive:
      case field::proxy_connection:
      case field::te:
      case field::trailer:
      case field::transfer_encoding:
      case field::upgrade:
      case field::proxy_authenticate:
      case field::proxy_authorization:
        return true;
      default:
        break;
    }
    auto name = sv(f.name_string());
    for (auto token : listed_)
      if (iequals(token, name)) return true;
    return false;
  }

 private:
  std::vector<std::string_view> listed_;
};

}  // namespace

std::string strip_query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q));
  std::string_view query = target.substr(q + 1);
  std::string kept;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    auto part = query.substr(pos, amp - pos);
    auto key = part.substr(0, part.find('='));
    if (!part.empty() && key != name) {
      if (!kept.empty()) kept += '&';
      kept += part;
    }
    pos = amp + 1;
  }
  if (!kept.empty()) out += "?" + kept;
  return out;
}

std::string strip_cookies(std::string_view header, const std::vector<std::string>& names) {
  std::string out;
  std::size_t pos = 0;
  while (pos <= header.size()) {
    auto semi = header.find(';', pos);
    if (semi == std::string_view::npos) semi = header.size();
    auto pair = trim(header.substr(pos, semi - pos));
    auto name = trim(pair.substr(0, pair.find('=')));
    if (!pair.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
      if (!out.empty()) out += "; ";
      out += pair;
    }
    pos = semi + 1;
  }
  return out;
}

void make_upstream_request(const http::request_header<>& in, http::request_header<>& out,
                           const UpstreamContext& ctx, bool websocket) {
  out.method_string(in.method_string());
  auto target = sv(in.target());
  if (target.find("token=") != std::string_view::npos) out.target(strip_query_param(target, "token"));
  else out.target(in.target());
  out.version(11);
  HopByHop hop(in);
  std::string forwarded_for;
  for (const auto& f : in) {
    switch (f.name()) {
      case field::expect:
      case field::authorization:
      case field::content_length:  // set below, once
        continue;
      case field::cookie: {
        auto kept = strip_cookies(sv(f.value()), ctx.strip_cookies);
        if (!kept.empty()) out.insert(field::cookie, kept);
        continue;
      }
      default:
        break;
    }
    auto name = sv(f.name_string());
    if (iequals(name, "x-forwarded-for")) {
      if (!forwarded_for.empty()) forwarded_for += ", ";
      forwarded_for += sv(f.value());
      continue;
    }
    if (iequals(name, "x-forwarded-proto") || hop.contains(f)) continue;
    out.insert(f.name(), f.name_string(), f.value());
  }
  if (auto it = in.find(field::content_length); it != in.end()) out.set(field::content_length, it->value());
  std::string auth;
  auth.reserve(6 + ctx.token.size());
  auth += "token ";
  auth += ctx.token;
  out.set(field::authorization, auth);
  if (forwarded_for.empty()) {
    out.set("X-Forwarded-For", ctx.client_addr);
  } else {
    forwarded_for += ", ";
    forwarded_for += ctx.client_addr;
    out.set("X-Forwarded-For", forwarded_for);
  }
  out.set("X-Forwarded-Proto", ctx.client_secure ? "https" : "http");
  if (websocket) {
    out.set(field::connection, "Upgrade");
    out.set(field::upgrade, "websocket");
  }
}

void make_client_response(const http::response_header<>& in, http::response_header<>& out) {
  out.result(in.result_int());
  out.reason(in.reason());
  out.version(11);
  bool upgrade = in.result() == http::status::switching_protocols;
  HopByHop hop(in);
  for (const auto& f : in) {
    if (f.name() == field::content_length || hop.contains(f)) continue;
    out.insert(f.name(), f.name_string(), f.value());
  }
  if (auto it = in.find(field::content_length); it != in.end()) out.set(field::content_length, it->value());
  if (upgrade) {
    out.set(field::connection, "Upgrade");
    if (auto it = in.find(field::upgrade); it != in.end()) out.set(field::upgrade, it->value());
  }
}

}  // namespace hub::proxy
