#include "proxy/headers.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace hub::proxy {
namespace {

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Hop-by-hop fields: the fixed set plus every name listed in Connection.
std::set<std::string> hop_by_hop(const http::fields& f) {
  std::set<std::string> names = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                 "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization"};
  for (auto it = f.find(http::field::connection); it != f.end() && it->name() == http::field::connection; ++it) {
    std::string_view v = sv(it->value());
    std::size_t pos = 0;
    while (pos <= v.size()) {
      auto comma = v.find(',', pos);
      if (comma == std::string_view::npos) comma = v.size();
      auto token = trim(v.substr(pos, comma - pos));
      if (!token.empty()) names.insert(lower(token));
      pos = comma + 1;
    }
  }
  return names;
}

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
  out.target(strip_query_param(sv(in.target()), "token"));
  out.version(11);
  auto drop = hop_by_hop(in);
  drop.insert("expect");
  drop.insert("authorization");
  drop.insert("cookie");
  drop.insert("x-forwarded-for");
  drop.insert("x-forwarded-proto");
  drop.insert("content-length");
  std::string forwarded_for;
  for (const auto& f : in) {
    std::string name = lower(sv(f.name_string()));
    if (name == "x-forwarded-for") {
      forwarded_for += (forwarded_for.empty() ? "" : ", ") + std::string(sv(f.value()));
      continue;
    }
    if (name == "cookie") {
      auto kept = strip_cookies(sv(f.value()), ctx.strip_cookies);
      if (!kept.empty()) out.insert(http::field::cookie, kept);
      continue;
    }
    if (drop.count(name)) continue;
    out.insert(f.name_string(), f.value());
  }
  if (in.count(http::field::content_length)) out.set(http::field::content_length, in[http::field::content_length]);
  out.set(http::field::authorization, "token " + ctx.token);
  out.set("X-Forwarded-For", forwarded_for.empty() ? ctx.client_addr : forwarded_for + ", " + ctx.client_addr);
  out.set("X-Forwarded-Proto", ctx.client_secure ? "https" : "http");
  if (websocket) {
    out.set(http::field::connection, "Upgrade");
    out.set(http::field::upgrade, "websocket");
  }
}

void make_client_response(const http::response_header<>& in, http::response_header<>& out) {
  out.result(in.result_int());
  out.reason(in.reason());
  out.version(11);
  bool upgrade = in.result() == http::status::switching_protocols;
  auto drop = hop_by_hop(in);
  drop.insert("content-length");
  for (const auto& f : in) {
    std::string name = lower(sv(f.name_string()));
    if (drop.count(name)) continue;
    out.insert(f.name_string(), f.value());
  }
  if (in.count(http::field::content_length)) out.set(http::field::content_length, in[http::field::content_length]);
  if (upgrade) {
    out.set(http::field::connection, "Upgrade");
    if (in.count(http::field::upgrade)) out.set(http::field::upgrade, in[http::field::upgrade]);
  }
}

}  // namespace hub::proxy
