#pragma once
// The hub's configuration: P/config/config.yaml, with TLJH's key names and
// defaults where TLJH has the same thing (tljh-config compatible).
//
// HubConfig is a plain value: load it, read it, replace it on reload.  It is
// immutable once loaded; the running hub swaps a std::shared_ptr<const
// HubConfig> on SIGHUP, so readers on any thread keep a consistent snapshot.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub {

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
};

struct HubConfig {
  std::string base_url = "/";  // base_url

  // auth.type: normalised to "native" or "firstuse"; TLJH's class names
  // (nativeauthenticator.NativeAuthenticator, firstuseauthenticator.FirstUseAuthenticator)
  // map onto these.
  std::string auth_type = "native";
  bool native_open_signup = false;       // auth.native.open_signup
  int native_minimum_password_length = 8;  // auth.native.minimum_password_length
  bool native_check_common_password = true;  // auth.native.check_common_password
  int login_max_failures = 5;            // auth.login.max_failures: before a lockout
  int login_lockout_seconds = 300;       // auth.login.lockout_seconds

  std::vector<std::string> users_admin;    // users.admin
  std::vector<std::string> users_allowed;  // users.allowed (empty: everyone allowed)
  std::vector<std::string> users_banned;   // users.banned

  std::optional<std::string> limits_memory;  // limits.memory, e.g. "1G"
  std::optional<double> limits_cpu;          // limits.cpu, e.g. 0.5
  std::optional<std::int64_t> memory_limit_bytes() const;  // limits.memory parsed

  std::string http_address = "";  // http.address ("" = all interfaces)
  int http_port = 80;             // http.port

  bool https_enabled = false;               // https.enabled
  int https_port = 443;                     // https.port
  std::string https_tls_cert;               // https.tls.cert
  std::string https_tls_key;                // https.tls.key
  std::string https_letsencrypt_email;      // https.letsencrypt.email
  std::vector<std::string> https_letsencrypt_domains;  // https.letsencrypt.domains

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
};

// Reads and validates `path`.  A missing file yields the defaults.  Throws
// ConfigError naming the offending key on unknown keys or bad types.
HubConfig load_config(const std::string& path);

// P/config/config.yaml
std::string config_path(const std::string& prefix);

}  // namespace hub
