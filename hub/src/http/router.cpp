#include "http/router.hpp"

#include <stdexcept>

namespace hub::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    auto slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool method_allowed(const Route& r, std::string_view method) {
  if (r.methods.empty()) return true;
  for (const auto& m : r.methods) {
    if (m == method) return true;
    if (method == "HEAD" && m == "GET") return true;
  }
  return false;
}

}  // namespace

void Router::add(std::string_view methods, std::string pattern, SyncHandler handler, RouteOptions options) {
  add_route(methods, std::move(pattern), std::move(handler), options);
}

void Router::add_async(std::string_view methods, std::string pattern, AsyncHandler handler, RouteOptions options) {
  add_route(methods, std::move(pattern), std::move(handler), options);
}

void Router::add_takeover(std::string_view methods, std::string pattern, TakeoverHandler handler) {
  add_route(methods, std::move(pattern), std::move(handler), {});
}

void Router::add_route(std::string_view methods, std::string pattern,
                       std::variant<SyncHandler, AsyncHandler, TakeoverHandler> handler, RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/') throw std::invalid_argument("route pattern must start with /: " + pattern);
  Compiled c;
  c.route.pattern = pattern;
  c.route.handler = std::move(handler);
  c.route.options = options;
  if (methods != "*") {
    std::size_t start = 0;
    for (;;) {
      auto comma = methods.find(',', start);
      std::string m(methods.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (!m.empty()) c.route.methods.push_back(m);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  auto segs = split_path(pattern);
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (segs[i] == "*") {
      if (i + 1 != segs.size()) throw std::invalid_argument("'*' must end the pattern: " + pattern);
      c.star = true;
      break;
    }
    if (!segs[i].empty() && segs[i].front() != '{') ++c.literals;
    c.segments.emplace_back(segs[i]);
  }
  routes_.push_back(std::move(c));
}

Router::Match Router::match(std::string_view method, std::string_view local_path) const {
  std::string_view trimmed = local_path;
  if (trimmed.size() > 1 && trimmed.back() == '/') trimmed.remove_suffix(1);
  auto segs = split_path(trimmed);
  // For "*" patterns the remainder is taken from the untrimmed path.
  auto full_segs = split_path(local_path);

  Match best;
  const Compiled* best_c = nullptr;
  std::string allowed;
  for (const auto& c : routes_) {
    const auto& path_segs = c.star ? full_segs : segs;
    if (c.star ? path_segs.size() < c.segments.size() : path_segs.size() != c.segments.size()) continue;
    std::vector<std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < c.segments.size() && ok; ++i) {
      const auto& p = c.segments[i];
      if (!p.empty() && p.front() == '{') {
        if (path_segs[i].empty()) ok = false;
        else params.push_back(url_decode(path_segs[i], false));
      } else if (p != path_segs[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    if (!method_allowed(c.route, method)) {
      for (const auto& m : c.route.methods) {
        if (allowed.find(m) == std::string::npos) allowed += allowed.empty() ? m : ", " + m;
      }
      continue;
    }
    bool better = !best_c || c.literals > best_c->literals || (c.literals == best_c->literals && best_c->star && !c.star);
    if (!better) continue;
    best_c = &c;
    best.route = &c.route;
    best.params = std::move(params);
    best.rest.clear();
    if (c.star) {
      // The raw remainder after the matched segments.
      std::string_view rest = local_path;
      if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
      for (std::size_t i = 0; i < c.segments.size(); ++i) {
        auto slash = rest.find('/');
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
      }
      best.rest = std::string(rest);
    }
  }
  if (!best.route && !allowed.empty()) {
    best.method_not_allowed = true;
    best.allowed = allowed;
  }
  return best;
}

}  // namespace hub::http
