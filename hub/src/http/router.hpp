#pragma once
// The table of routes, filled by each module at start-up:
//
//   void add_my_routes(hub::App& app) {
//     app.router().add("GET", "/hub/api/things/{name}", [&app](http::Request& req) { ... });
//   }
//
// and one call of add_my_routes() in hub/src/modules.cpp.  Patterns are
// matched against the path below base_url, segment by segment: a literal
// segment, "{param}" (one non-empty segment, percent-decoded into
// Request::params), or a final "*" (zero or more segments; the raw remainder
// goes to Request::rest).  One trailing slash is ignored.  When several
// routes match, the one with more literal segments wins, then a route
// without "*", then the one added first.  A path that matches only with
// another method gets 405.  HEAD is served by GET routes.
//
// Not thread-safe for adding: register everything before the server starts;
// match() is then safe from any thread.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/handler.hpp"

namespace hub::http {

struct RouteOptions {
  // Larger bodies get 413 before they are read.  Ignored by take-over routes.
  std::size_t body_limit = 1024 * 1024;
  // Deadline for reading the whole body.
  std::chrono::seconds body_timeout{60};
};

struct Route {
  std::vector<std::string> methods;  // empty: any method
  std::string pattern;
  std::variant<SyncHandler, AsyncHandler, TakeoverHandler> handler;
  RouteOptions options;
};

class Router {
 public:
  // `methods`: "GET", "GET,POST", or "*" for any.
  void add(std::string_view methods, std::string pattern, SyncHandler handler, RouteOptions options = {});
  void add_async(std::string_view methods, std::string pattern, AsyncHandler handler, RouteOptions options = {});
  void add_takeover(std::string_view methods, std::string pattern, TakeoverHandler handler);

  struct Match {
    const Route* route = nullptr;      // null: no route for this path (or method)
    bool method_not_allowed = false;   // the path matched, the method did not
    std::string allowed;               // for the Allow header of a 405
    std::vector<std::string> params;
    std::string rest;
  };
  Match match(std::string_view method, std::string_view local_path) const;

 private:
  struct Compiled {
    Route route;
    std::vector<std::string> segments;  // "{x}" for parameters; no "*"
    bool star = false;
    int literals = 0;
  };
  void add_route(std::string_view methods, std::string pattern,
                 std::variant<SyncHandler, AsyncHandler, TakeoverHandler> handler, RouteOptions options);
  std::vector<Compiled> routes_;
};

}  // namespace hub::http
