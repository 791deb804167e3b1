#pragma once
// Where git-pull links may take content from: gitpuller.allowed_sources.
//
// The config lists URL prefixes ("https://git.example.edu/course-staff/",
// "http://127.0.0.1:8080/", "file:///srv/courses/", "/srv/courses/"; a bare
// "https://" means that scheme on any public host).  A repository URL is
// allowed when it lies under a listed prefix (same scheme, host and port,
// path prefix ending at a '/'), or, with nothing listed for it, when it is
// https:// to a public host.  Everything else is refused: http://, file://,
// local paths, ssh, and hosts that are, or resolve to, loopback, private,
// link-local, multicast or otherwise non-public addresses.
//
// Host names are checked twice: resolved before the sync starts (so the
// student gets a clear refusal), and again for every connection libgit2
// makes, by the engine's socket stream, which resolves the name itself and
// connects only to addresses the policy allows (gitpuller::set_connect_filter).  A host whose name resolves differently between the two (DNS
// rebinding) therefore cannot make the hub connect to an internal address.
// HTTP redirects are covered too: every connection goes through the guard.
// Limits: the guard sees host and port only, so a host listed explicitly is
// trusted with whatever it resolves to; connections through an HTTP proxy
// configured for libgit2 would bypass it (coursehub configures none).
//
// Thread-safety: SourcePolicy is immutable; the guard's policy is swapped
// atomically (set_guard_policy) and read by any thread.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

namespace hub::gitpull {

class SourcePolicy {
 public:
  // Entries that are not URL prefixes or absolute paths are kept out (and
  // reported by bad_entries(), for the log).
  explicit SourcePolicy(const std::vector<std::string>& allowed_sources);

  // nullopt when `repo_url` may be synced, else a message for the student
  // (and the log).  Resolves the host name (blocking: call on a worker).
  std::optional<std::string> check(std::string_view repo_url) const;

  // May the hub open a connection to `address` for host `host`, port `port`?
  // True for public addresses, and for any address of a host:port that a
  // listed prefix names explicitly.
  bool may_connect(std::string_view host, std::string_view port, const sockaddr* address) const;

  const std::vector<std::string>& bad_entries() const { return bad_entries_; }

 private:
  struct Entry {
    std::string scheme;  // "https", "http", "file"
    std::string host;    // lower case, without brackets; empty: any host (scheme only) or file
    std::string port;    // explicit or the scheme's default
    std::string path;    // always ends with '/'
  };
  bool host_listed(std::string_view host, std::string_view port) const;
  std::vector<Entry> entries_;
  std::vector<std::string> bad_entries_;
};

// True for addresses on the public internet (not loopback, private,
// link-local, CGNAT, multicast, documentation, unspecified, or IPv6 forms of
// those: mapped, NAT64, unique local).
bool is_public_address(const sockaddr* address);

// Makes `policy` the one every connection of the engine in this process is
// checked against (gitpuller::set_connect_filter).  Call again after a
// config reload.
void set_guard_policy(std::shared_ptr<const SourcePolicy> policy);

}  // namespace hub::gitpull
