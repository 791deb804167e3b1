#include "gitpull/source_policy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "gitpuller/connect_filter.hpp"
#include "gitpuller/error.hpp"
#include "gitpuller/url.hpp"
#include "http/message.hpp"

namespace hub::gitpull {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

struct Parsed {
  std::string scheme, host, port, path;
};

std::string default_port(std::string_view scheme) {
  if (scheme == "https") return "443";
  if (scheme == "http") return "80";
  return "";
}

// "scheme://host[:port]/path" (user info already refused by the caller).
std::optional<Parsed> parse(std::string_view url) {
  auto pos = url.find("://");
  if (pos == std::string_view::npos || pos == 0) return std::nullopt;
  Parsed p;
  p.scheme = lower(url.substr(0, pos));
  std::string_view rest = url.substr(pos + 3);
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  p.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    p.host = lower(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      p.port = std::string(after.substr(1));
    }
  } else {
    auto colon = authority.rfind(':');
    p.host = lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) p.port = std::string(authority.substr(colon + 1));
  }
  if (!p.port.empty() && !std::all_of(p.port.begin(), p.port.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  if (p.port.empty()) p.port = default_port(p.scheme);
  // A trailing dot names the same host ("localhost." is localhost).
  while (!p.host.empty() && p.host.back() == '.') p.host.pop_back();
  return p;
}

std::string with_slash(std::string path) {
  if (path.empty() || path.back() != '/') path += '/';
  return path;
}

bool has_dot_segments(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    std::string seg = lower(http::url_decode(path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start), false));
    if (seg == ".." || seg == ".") return true;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return false;
}

bool v4_public(const unsigned char* a) {
  auto in = [&](unsigned char b0, int bits, std::initializer_list<unsigned char> rest = {}) {
    unsigned char net[4] = {b0, 0, 0, 0};
    int i = 1;
    for (auto r : rest) net[i++] = r;
    for (int bit = 0; bit < bits; ++bit) {
      int byte = bit / 8, shift = 7 - bit % 8;
      if (((a[byte] >> shift) & 1) != ((net[byte] >> shift) & 1)) return false;
    }
    return true;
  };
  return !(in(0, 8) || in(10, 8) || in(100, 10, {64}) || in(127, 8) || in(169, 16, {254}) || in(172, 12, {16}) ||
           in(192, 24, {0, 0}) || in(192, 24, {0, 2}) || in(192, 16, {168}) || in(198, 15, {18}) ||
           in(198, 24, {51, 100}) || in(203, 24, {0, 113}) || in(224, 4) || in(240, 4));
}

}  // namespace

bool is_public_address(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return v4_public(reinterpret_cast<const unsigned char*>(&in->sin_addr));
  }
  if (address->sa_family != AF_INET6) return false;
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
  const unsigned char* a = in6->sin6_addr.s6_addr;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const unsigned char kZero[12] = {};
  if (std::memcmp(a, kMapped, 12) == 0 || std::memcmp(a, kNat64, 12) == 0) return v4_public(a + 12);
  if (std::memcmp(a, kZero, 12) == 0) return false;     // ::, ::1, IPv4-compatible
  if ((a[0] & 0xfe) == 0xfc) return false;              // fc00::/7 unique local
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return false;  // fe80::/10 link-local
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return false;  // fec0::/10 site-local
  if (a[0] == 0xff) return false;                       // multicast
  if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) return false;  // documentation
  if (a[0] == 0x01 && a[1] == 0x00 && std::memcmp(a + 2, kZero, 6) == 0) return false;  // discard
  return true;
}

SourcePolicy::SourcePolicy(const std::vector<std::string>& allowed_sources) {
  for (const auto& raw : allowed_sources) {
    std::string s = raw;
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
    Entry e;
    if (!s.empty() && s.front() == '/') {
      e.scheme = "file";
      e.path = with_slash(std::filesystem::path(s).lexically_normal().string());
    } else if (auto p = parse(s); p && (p->scheme == "https" || p->scheme == "http" || p->scheme == "file")) {
      e.scheme = p->scheme;
      e.host = p->scheme == "file" ? "" : p->host;
      e.port = p->port;
      e.path = with_slash(p->scheme == "file" ? std::filesystem::path(p->path).lexically_normal().string() : p->path);
      if (p->scheme == "file" && !p->host.empty() && p->host != "localhost") {
        bad_entries_.push_back(raw);
        continue;
      }
    } else {
      bad_entries_.push_back(raw);
      continue;
    }
    entries_.push_back(std::move(e));
  }
}

bool SourcePolicy::host_listed(std::string_view host, std::string_view port) const {
  std::string h = lower(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  while (!h.empty() && h.back() == '.') h.pop_back();
  for (const auto& e : entries_)
    if (!e.host.empty() && e.host == h && e.port == port) return true;
  return false;
}

bool SourcePolicy::may_connect(std::string_view host, std::string_view port, const sockaddr* address) const {
  return is_public_address(address) || host_listed(host, port);
}

std::optional<std::string> SourcePolicy::check(std::string_view repo_url) const {
  gitpuller::RepoUrl url;
  try {
    url = gitpuller::parse_repo_url(repo_url);
  } catch (const gitpuller::SyncError& e) {
    return std::string(e.what());
  }
  const std::string shown = gitpuller::strip_userinfo(url.clean);
  const std::string not_allowed =
      "This hub does not sync from " + shown +
      ": links may name https:// repositories on public hosts, and other sources only when an admin allows "
      "them (gitpuller.allowed_sources).";
  if (url.is_local()) {
    std::string path = url.kind == gitpuller::RepoUrl::Kind::file ? url.clean.substr(7) : url.clean;
    path = with_slash(std::filesystem::path(path).lexically_normal().string());
    for (const auto& e : entries_)
      if (e.scheme == "file" && path.compare(0, e.path.size(), e.path) == 0) return std::nullopt;
    return not_allowed;
  }
  auto p = parse(url.clean);
  if (!p || p->host.empty()) return not_allowed;
  if (has_dot_segments(p->path)) return "The repository URL " + shown + " has '.' or '..' path segments.";
  bool listed_exactly = false, listed_scheme = false;
  for (const auto& e : entries_) {
    if (e.scheme != p->scheme) continue;
    if (e.host.empty()) {
      listed_scheme = true;
      continue;
    }
    if (e.host == p->host && e.port == p->port && with_slash(p->path).compare(0, e.path.size(), e.path) == 0)
      listed_exactly = true;
  }
  if (listed_exactly) return std::nullopt;
  if (p->scheme != "https" && !listed_scheme) return not_allowed;
  // A public host: every address it resolves to must be public (the guard
  // checks again at connect time).
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (getaddrinfo(p->host.c_str(), p->port.c_str(), &hints, &list) != 0)
    return std::nullopt;  // unreachable hosts fail in the sync with the engine's message
  bool all_public = true;
  for (addrinfo* ai = list; ai; ai = ai->ai_next)
    if (!is_public_address(ai->ai_addr)) all_public = false;
  freeaddrinfo(list);
  if (!all_public) return not_allowed + " (" + p->host + " is not a public address.)";
  return std::nullopt;
}

void set_guard_policy(std::shared_ptr<const SourcePolicy> policy) {
  if (!policy) {
    gitpuller::set_connect_filter({});
    return;
  }
  gitpuller::set_connect_filter([policy](std::string_view host, std::string_view port, const sockaddr* address) {
    return policy->may_connect(host, port, address);
  });
}

}  // namespace hub::gitpull
