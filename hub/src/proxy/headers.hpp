#pragma once
// How a proxied request and its response are rewritten (RFC 9110 §7.6.1
// hop-by-hop fields, the hub's cookies and credentials kept away from user
// servers, the server's token added).  Pure functions; Beast types, so
// include only from proxy sources.
#include <boost/beast/http.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace hub::proxy {

namespace http = boost::beast::http;

struct UpstreamContext {
  std::string token;                       // the user server's token
  std::string client_addr;                 // for X-Forwarded-For
  bool client_secure = false;              // for X-Forwarded-Proto
  std::vector<std::string> strip_cookies;  // the hub's own cookies
};

// The request header for the user's server, from the client's.  Drops
// hop-by-hop fields (and those named in Connection), Expect, the client's
// Authorization and the hub's cookies, and a `token` query parameter (a hub
// token must not reach the user's server); adds Authorization with the
// server's token and X-Forwarded-For/-Proto; keeps Host.  `websocket`: keeps
// the upgrade (Connection: Upgrade, Upgrade: websocket).  Message framing
// (Content-Length / chunked) is left to the caller.
void make_upstream_request(const http::request_header<>& in, http::request_header<>& out,
                           const UpstreamContext& ctx, bool websocket);

// The response header for the client, from the server's: hop-by-hop fields
// dropped, except the upgrade fields of a 101.  Framing is left to the caller.
void make_client_response(const http::response_header<>& in, http::response_header<>& out);

// `target` without any `name=...` query parameter.
std::string strip_query_param(std::string_view target, std::string_view name);

// A Cookie header value without the cookies called `names`; "" when none remain.
std::string strip_cookies(std::string_view cookie_header, const std::vector<std::string>& names);

}  // namespace hub::proxy
