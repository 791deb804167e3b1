#pragma once
// The hub's configuration: P/config/config.yaml, with TLJH's key names and
// defaults where TLJH has the same thing (tljh-config compatible).
//
// HubConfig is a plain value: load it, read it, replace it on reload.  It is
// immutable once loaded; the running hub swaps a std::shared_ptr<const
// HubConfig> on SIGHUP, so readers on any thread keep a consistent snapshot.
//
// Every key, its type, default, allowed values and description is listed once,
// in the schema table (hub/config_schema.hpp); loading, validation,
// `coursehub config` and examples/config.yaml are all driven by it.  The
// in-class defaults below equal the table's (a unit test holds them together).
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub {

// A configuration problem the admin must fix.  The message names the file
// (and line) or the dotted key, e.g. "services.cull.timeout: expected an
// integer, got string '10m'".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CullConfig {
  bool enabled = true;         // services.cull.enabled
  int timeout = 600;           // services.cull.timeout: idle seconds before a server is stopped
  int every = 60;              // services.cull.every: seconds between culler runs
  int concurrency = 5;         // services.cull.concurrency
  bool users = false;          // services.cull.users: also delete idle users without a server
  int max_age = 0;             // services.cull.max_age: seconds; 0 = no limit

  bool operator==(const CullConfig&) const = default;
};

struct HubConfig {
  std::string base_url = "/";  // base_url, always ending in '/'

  // auth.type: normalised to "native" or "firstuse"; TLJH's class names
  // (nativeauthenticator.NativeAuthenticator, firstuseauthenticator.FirstUseAuthenticator)
  // map onto these.
  std::string auth_type = "native";
  bool native_open_signup = false;       // auth.native.open_signup
  int native_minimum_password_length = 8;  // auth.native.minimum_password_length
  bool native_check_common_password = true;  // auth.native.check_common_password
  bool firstuse_create_users = false;    // auth.firstuse.create_users: unknown names may sign in (and are created)
  int login_max_failures = 5;            // auth.login.max_failures: before a lockout
  int login_lockout_seconds = 300;       // auth.login.lockout_seconds

  std::vector<std::string> users_admin;    // users.admin
  std::vector<std::string> users_allowed;  // users.allowed (empty: everyone allowed)
  std::vector<std::string> users_banned;   // users.banned
  // users.extra_user_groups.<group>: unix groups for system-user mode (TLJH's key).
  std::map<std::string, std::vector<std::string>> users_extra_user_groups;

  std::optional<std::string> limits_memory;  // limits.memory, e.g. "1G"
  std::optional<double> limits_cpu;          // limits.cpu, e.g. 0.5
  // limits.memory in bytes (K/M/G/T are powers of 1024, fractions allowed:
  // "1.5G"; a plain number is bytes).  std::nullopt when there is no limit.
  // Throws ConfigError when limits_memory is not a size (load_config never
  // returns such a config).
  std::optional<std::int64_t> memory_limit_bytes() const;

  std::string http_address = "";  // http.address ("" = all interfaces)
  int http_port = 80;             // http.port
  std::vector<std::string> http_trusted_proxies;  // http.trusted_proxies (IP addresses)

  bool https_enabled = false;               // https.enabled
  std::string https_address = "";           // https.address ("" = all interfaces)
  int https_port = 443;                     // https.port
  std::string https_tls_cert;               // https.tls.cert
  std::string https_tls_key;                // https.tls.key
  std::string https_letsencrypt_email;      // https.letsencrypt.email
  std::vector<std::string> https_letsencrypt_domains;  // https.letsencrypt.domains
  bool https_letsencrypt_staging = false;   // https.letsencrypt.staging

  std::string default_app = "jupyterlab";  // user_environment.default_app: jupyterlab | classic
  std::string env_index_url;                          // user_environment.index_url
  std::vector<std::string> env_extra_index_urls;      // user_environment.extra_index_urls
  std::vector<std::string> env_find_links;            // user_environment.find_links
  std::vector<std::string> env_trusted_hosts;         // user_environment.trusted_hosts

  CullConfig cull;  // services.cull.*

  std::string spawner_mode = "local";        // spawner.mode: local | system
  std::vector<std::string> spawner_cmd;      // spawner.cmd (empty: auto-detect)
  int spawner_start_timeout = 60;            // spawner.start_timeout, seconds
  int spawner_http_timeout = 30;             // spawner.http_timeout, seconds
  bool admin_access = false;                 // admin_access: admins may open users' servers

  std::vector<std::string> gitpuller_allowed_sources;  // gitpuller.allowed_sources (URL prefixes)

  int hub_threads = 0;  // hub.threads: I/O threads (0 = one per core)

  bool operator==(const HubConfig&) const = default;
};

// Reads and validates `path`.  A missing file yields the defaults.  Throws
// ConfigError naming the file and line on YAML syntax errors, and naming the
// offending key on unknown keys, bad types and values out of range (all
// problems at once, one per line).  Thread-safe; blocks on file I/O.
HubConfig load_config(const std::string& path);

// P/config/config.yaml
std::string config_path(const std::string& prefix);

// Parses a size the way limits.memory is written: digits with an optional
// fraction and an optional unit K, M, G or T (either case; powers of 1024),
// or plain bytes.  "1G" → 1073741824, "1.5G", "512M", "1048576".  Throws
// ConfigError on anything else, on zero and on sizes beyond 2^63.
std::int64_t parse_memory_size(const std::string& text);

}  // namespace hub
