#include "hub/config_schema.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <functional>

// The table names only the fields that differ from ConfigKey's defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace hub {
namespace {

void store(bool& field, const ConfigValue& v) { field = v.as_bool(); }
void store(int& field, const ConfigValue& v) { field = static_cast<int>(v.as_int()); }
void store(std::string& field, const ConfigValue& v) { field = v.as_string(); }
void store(std::vector<std::string>& field, const ConfigValue& v) {
  field.clear();
  for (const auto& item : v.as_list()) field.push_back(item.as_string());
}
void store(std::optional<std::string>& field, const ConfigValue& v) {
  if (v.is_null()) field.reset();
  else if (v.kind() == ConfigValue::Kind::integer) field = std::to_string(v.as_int());
  else field = v.as_string();
}
void store(std::optional<double>& field, const ConfigValue& v) {
  if (v.is_null()) field.reset();
  else field = v.as_number();
}

template <auto Field>
void to_field(HubConfig& c, const ConfigValue& v, const std::string&) {
  store(c.*Field, v);
}

template <auto Field>
void to_cull(HubConfig& c, const ConfigValue& v, const std::string&) {
  store(c.cull.*Field, v);
}

void no_effect(HubConfig&, const ConfigValue&, const std::string&) {}

void to_auth_type(HubConfig& c, const ConfigValue& v, const std::string&) {
  const std::string& t = v.as_string();
  c.auth_type = (t == "firstuse" || t == "firstuseauthenticator.FirstUseAuthenticator") ? "firstuse" : "native";
}

void to_base_url(HubConfig& c, const ConfigValue& v, const std::string&) {
  c.base_url = v.as_string();
  if (c.base_url.back() != '/') c.base_url += '/';
}

void to_extra_group(HubConfig& c, const ConfigValue& v, const std::string& group) {
  store(c.users_extra_user_groups[group], v);
}

std::string check_base_url(const ConfigValue& v) {
  const std::string& s = v.as_string();
  if (s.empty() || s[0] != '/') return "must start with '/' (for example /hub-prefix/), got '" + s + "'";
  if (s.find("//") != std::string::npos || s.find_first_of("?#\\ ") != std::string::npos ||
      s.find("/../") != std::string::npos || s.find("/./") != std::string::npos)
    return "must be a plain URL path like /course/, got '" + s + "'";
  return "";
}

std::string check_size(const ConfigValue& v) {
  try {
    if (v.kind() == ConfigValue::Kind::integer) {
      if (v.as_int() <= 0) return "must be more than 0 bytes";
      return "";
    }
    parse_memory_size(v.as_string());
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

std::string check_ip_items(const ConfigValue& v) {
  for (std::size_t i = 0; i < v.as_list().size(); ++i) {
    const std::string& item = v.as_list()[i].as_string();
    unsigned char buf[16];
    if (inet_pton(AF_INET, item.c_str(), buf) != 1 && inet_pton(AF_INET6, item.c_str(), buf) != 1)
      return "item " + std::to_string(i) + " ('" + item + "') is not an IP address";
  }
  return "";
}

std::string check_nonempty_items(const ConfigValue& v) {
  for (std::size_t i = 0; i < v.as_list().size(); ++i)
    if (v.as_list()[i].as_string().empty()) return "item " + std::to_string(i) + " is empty";
  return "";
}

using T = ConfigType;
const ConfigValue kNoList = ConfigValue::empty_list();

std::vector<ConfigKey> build_schema() {
  const double kPortMax = 65535;
  const double kSecondsMax = 10.0 * 365 * 24 * 3600;
  return {
      {.path = "base_url", .type = T::string, .default_value = "/",
       .description = "URL path the hub is served under (always ends with '/'), e.g. /course/ behind a "
                      "front proxy.",
       .check = check_base_url, .apply = to_base_url},

      {.path = "auth.type", .type = T::string, .default_value = "native",
       .description = "How users sign in. native: accounts with passwords stored by the hub, new "
                      "accounts wait for an admin's approval at /hub/authorize. firstuse: an existing "
                      "user's first login sets their password (TLJH's default). TLJH's class names "
                      "are accepted too.",
       .allowed = {"native", "firstuse", "nativeauthenticator.NativeAuthenticator",
                   "firstuseauthenticator.FirstUseAuthenticator"},
       .apply = to_auth_type},
      {.path = "auth.native.open_signup", .type = T::boolean, .default_value = false,
       .description = "native: accounts made at /hub/signup may log in at once, without an admin's "
                      "approval.",
       .apply = to_field<&HubConfig::native_open_signup>},
      {.path = "auth.native.minimum_password_length", .type = T::integer, .default_value = 8,
       .description = "native: shortest password accepted at signup and password change.",
       .min = 1, .max = 1024, .apply = to_field<&HubConfig::native_minimum_password_length>},
      {.path = "auth.native.check_common_password", .type = T::boolean, .default_value = true,
       .description = "native: refuse passwords found in a list of common passwords.",
       .apply = to_field<&HubConfig::native_check_common_password>},
      {.path = "auth.firstuse.create_users", .type = T::boolean, .default_value = false,
       .description = "firstuse: a name the hub does not know yet may sign in, and is created with "
                      "the password given. Otherwise only users an admin added can sign in.",
       .apply = to_field<&HubConfig::firstuse_create_users>},
      {.path = "auth.login.max_failures", .type = T::integer, .default_value = 5,
       .description = "Failed logins in a row (per user and per client address) before that user or "
                      "address is locked out for auth.login.lockout_seconds.",
       .min = 1, .max = 1000000, .apply = to_field<&HubConfig::login_max_failures>},
      {.path = "auth.login.lockout_seconds", .type = T::integer, .default_value = 300,
       .description = "Seconds a lockout lasts.", .min = 0, .max = kSecondsMax,
       .apply = to_field<&HubConfig::login_lockout_seconds>},
      {.path = "auth.NativeAuthenticator.open_signup", .type = T::boolean,
       .description = "TLJH's spelling of auth.native.open_signup.",
       .alias_of = "auth.native.open_signup", .apply = to_field<&HubConfig::native_open_signup>},
      {.path = "auth.NativeAuthenticator.minimum_password_length", .type = T::integer,
       .description = "TLJH's spelling of auth.native.minimum_password_length.", .min = 1, .max = 1024,
       .alias_of = "auth.native.minimum_password_length",
       .apply = to_field<&HubConfig::native_minimum_password_length>},
      {.path = "auth.NativeAuthenticator.check_common_password", .type = T::boolean,
       .description = "TLJH's spelling of auth.native.check_common_password.",
       .alias_of = "auth.native.check_common_password",
       .apply = to_field<&HubConfig::native_check_common_password>},
      {.path = "auth.FirstUseAuthenticator.create_users", .type = T::boolean,
       .description = "TLJH's spelling of auth.firstuse.create_users.",
       .alias_of = "auth.firstuse.create_users", .apply = to_field<&HubConfig::firstuse_create_users>},

      {.path = "users.admin", .type = T::string_list, .default_value = kNoList,
       .description = "Users who are admins (they manage users, the shared environment and "
                      "credentials). Created at start when missing.",
       .check = check_nonempty_items, .apply = to_field<&HubConfig::users_admin>},
      {.path = "users.allowed", .type = T::string_list, .default_value = kNoList,
       .description = "When not empty, only these users (and admins) may sign in.",
       .check = check_nonempty_items, .apply = to_field<&HubConfig::users_allowed>},
      {.path = "users.banned", .type = T::string_list, .default_value = kNoList,
       .description = "Users who may not sign in.", .check = check_nonempty_items,
       .apply = to_field<&HubConfig::users_banned>},
      {.path = "users.extra_user_groups.*", .type = T::string_list,
       .description = "users.extra_user_groups.<group>: users added to that unix group "
                      "(system-user mode), as in TLJH.",
       .check = check_nonempty_items, .apply = to_extra_group},

      {.path = "limits.memory", .type = T::size, .nullable = true, .default_value = nullptr,
       .description = "Memory limit of each user server: a size like 512M, 1G, 1.5G (K, M, G, T are "
                      "powers of 1024) or bytes; null for no limit.",
       .check = check_size, .apply = to_field<&HubConfig::limits_memory>},
      {.path = "limits.cpu", .type = T::number, .nullable = true, .default_value = nullptr,
       .description = "CPU limit of each user server in cores, e.g. 0.5 or 2; null for no limit.",
       .min = 0, .max = 4096, .apply = to_field<&HubConfig::limits_cpu>},

      {.path = "http.address", .type = T::string, .default_value = "",
       .description = "Address the hub listens on for HTTP; empty for all interfaces. `coursehub "
                      "serve --ip` overrides it.",
       .apply = to_field<&HubConfig::http_address>},
      {.path = "http.port", .type = T::integer, .default_value = 80,
       .description = "HTTP port. `coursehub serve --port` overrides it.", .min = 0, .max = kPortMax,
       .apply = to_field<&HubConfig::http_port>},
      {.path = "http.trusted_proxies", .type = T::string_list, .default_value = kNoList,
       .description = "Addresses of front proxies (e.g. nginx on 127.0.0.1) whose X-Forwarded-For and "
                      "X-Forwarded-Proto are believed: logs, login limits and Secure cookies then see "
                      "the real client. Empty: those headers are ignored.",
       .check = check_ip_items, .apply = to_field<&HubConfig::http_trusted_proxies>},

      {.path = "https.enabled", .type = T::boolean, .default_value = false,
       .description = "Serve HTTPS (with https.tls.* or a Let's Encrypt certificate).",
       .apply = to_field<&HubConfig::https_enabled>},
      {.path = "https.address", .type = T::string, .default_value = "",
       .description = "Address for HTTPS; empty for all interfaces.",
       .apply = to_field<&HubConfig::https_address>},
      {.path = "https.port", .type = T::integer, .default_value = 443, .description = "HTTPS port.",
       .min = 0, .max = kPortMax, .apply = to_field<&HubConfig::https_port>},
      {.path = "https.tls.cert", .type = T::string, .default_value = "",
       .description = "Path of the PEM certificate chain.", .apply = to_field<&HubConfig::https_tls_cert>},
      {.path = "https.tls.key", .type = T::string, .default_value = "",
       .description = "Path of the PEM private key.", .apply = to_field<&HubConfig::https_tls_key>},
      {.path = "https.letsencrypt.email", .type = T::string, .default_value = "",
       .description = "Contact email for Let's Encrypt.",
       .apply = to_field<&HubConfig::https_letsencrypt_email>},
      {.path = "https.letsencrypt.domains", .type = T::string_list, .default_value = kNoList,
       .description = "Domains to get a Let's Encrypt certificate for.", .check = check_nonempty_items,
       .apply = to_field<&HubConfig::https_letsencrypt_domains>},
      {.path = "https.letsencrypt.staging", .type = T::boolean, .default_value = false,
       .description = "Use Let's Encrypt's staging service (for trials).",
       .apply = to_field<&HubConfig::https_letsencrypt_staging>},

      {.path = "traefik_api.ip", .type = T::string,
       .description = "TLJH's proxy setting; coursehub is its own proxy, so it has no effect.",
       .ignored = true, .apply = no_effect},
      {.path = "traefik_api.port", .type = T::integer,
       .description = "TLJH's proxy setting; no effect in coursehub.", .ignored = true, .apply = no_effect},
      {.path = "traefik_api.username", .type = T::string,
       .description = "TLJH's proxy setting; no effect in coursehub.", .ignored = true, .apply = no_effect},
      {.path = "traefik_api.password", .type = T::string,
       .description = "TLJH's proxy setting; no effect in coursehub.", .ignored = true, .apply = no_effect},

      {.path = "user_environment.default_app", .type = T::string, .default_value = "jupyterlab",
       .description = "The interface users land in: jupyterlab or classic (the classic notebook).",
       .allowed = {"jupyterlab", "classic"}, .apply = to_field<&HubConfig::default_app>},
      {.path = "user_environment.index_url", .type = T::string, .default_value = "",
       .description = "Package index for installs into the shared environment; empty for pip's "
                      "default.",
       .apply = to_field<&HubConfig::env_index_url>},
      {.path = "user_environment.extra_index_urls", .type = T::string_list, .default_value = kNoList,
       .description = "More package indexes.", .check = check_nonempty_items,
       .apply = to_field<&HubConfig::env_extra_index_urls>},
      {.path = "user_environment.find_links", .type = T::string_list, .default_value = kNoList,
       .description = "Folders or pages with package files (pip --find-links).",
       .check = check_nonempty_items, .apply = to_field<&HubConfig::env_find_links>},
      {.path = "user_environment.trusted_hosts", .type = T::string_list, .default_value = kNoList,
       .description = "Index hosts trusted without valid HTTPS (pip --trusted-host).",
       .check = check_nonempty_items, .apply = to_field<&HubConfig::env_trusted_hosts>},

      {.path = "services.cull.enabled", .type = T::boolean, .default_value = true,
       .description = "Stop user servers that have been idle for services.cull.timeout seconds.",
       .apply = to_cull<&CullConfig::enabled>},
      {.path = "services.cull.timeout", .type = T::integer, .default_value = 600,
       .description = "Idle seconds before a user server is stopped.", .min = 1, .max = kSecondsMax,
       .apply = to_cull<&CullConfig::timeout>},
      {.path = "services.cull.every", .type = T::integer, .default_value = 60,
       .description = "Seconds between two checks for idle servers.", .min = 1, .max = kSecondsMax,
       .apply = to_cull<&CullConfig::every>},
      {.path = "services.cull.concurrency", .type = T::integer, .default_value = 5,
       .description = "Servers stopped at the same time, at most.", .min = 1, .max = 1000,
       .apply = to_cull<&CullConfig::concurrency>},
      {.path = "services.cull.users", .type = T::boolean, .default_value = false,
       .description = "Also delete users whose server was culled (TLJH's cull.users).",
       .apply = to_cull<&CullConfig::users>},
      {.path = "services.cull.max_age", .type = T::integer, .default_value = 0,
       .description = "Stop servers older than this many seconds even when busy; 0 for no limit.",
       .min = 0, .max = kSecondsMax, .apply = to_cull<&CullConfig::max_age>},
      {.path = "services.cull.remove_named_servers", .type = T::boolean,
       .description = "TLJH's setting for named servers, which coursehub does not have; no effect.",
       .ignored = true, .apply = no_effect},

      {.path = "spawner.mode", .type = T::string, .default_value = "local",
       .description = "local: user servers run as the hub's own unix user (for trials and tests). "
                      "system: each user is a unix account jupyter-<name> (TLJH's way; needs root).",
       .allowed = {"local", "system"}, .apply = to_field<&HubConfig::spawner_mode>},
      {.path = "spawner.cmd", .type = T::string_list, .default_value = kNoList,
       .description = "Command that starts a user's Jupyter server; empty to find jupyter-server in "
                      "the shared environment.",
       .check = check_nonempty_items, .apply = to_field<&HubConfig::spawner_cmd>},
      {.path = "spawner.start_timeout", .type = T::integer, .default_value = 60,
       .description = "Seconds a user server may take to start.", .min = 1, .max = 3600,
       .apply = to_field<&HubConfig::spawner_start_timeout>},
      {.path = "spawner.http_timeout", .type = T::integer, .default_value = 30,
       .description = "Seconds a started user server may take to answer HTTP.", .min = 1, .max = 3600,
       .apply = to_field<&HubConfig::spawner_http_timeout>},
      {.path = "admin_access", .type = T::boolean, .default_value = false,
       .description = "Admins may open other users' servers.", .apply = to_field<&HubConfig::admin_access>},

      {.path = "gitpuller.allowed_sources", .type = T::string_list, .default_value = kNoList,
       .description = "URL prefixes git-pull links may fetch from (e.g. https://github.com/my-org/); "
                      "empty to allow any.",
       .check = check_nonempty_items, .apply = to_field<&HubConfig::gitpuller_allowed_sources>},

      {.path = "hub.threads", .type = T::integer, .default_value = 0,
       .description = "HTTP I/O threads; 0 for one per CPU core.", .min = 0, .max = 256,
       .apply = to_field<&HubConfig::hub_threads>},
  };
}

std::vector<std::string> components(std::string_view dotted) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = dotted.find('.', start);
    out.emplace_back(dotted.substr(start, dot == dotted.npos ? dotted.npos : dot - start));
    if (dot == dotted.npos) return out;
    start = dot + 1;
  }
}

struct CompiledKey {
  const ConfigKey* key;
  std::vector<std::string> parts;
};

const std::vector<CompiledKey>& compiled() {
  static const std::vector<CompiledKey> kCompiled = [] {
    std::vector<CompiledKey> out;
    for (const auto& k : config_schema()) out.push_back({&k, components(k.path)});
    return out;
  }();
  return kCompiled;
}

bool prefix_matches(const std::vector<std::string>& pattern, const std::vector<std::string>& parts) {
  if (parts.size() > pattern.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (pattern[i] != "*" && pattern[i] != parts[i]) return false;
  return true;
}

const ConfigKey* match_key(const std::vector<std::string>& parts, std::string* wildcard) {
  for (const auto& c : compiled()) {
    if (c.parts.size() != parts.size() || !prefix_matches(c.parts, parts)) continue;
    if (wildcard) {
      wildcard->clear();
      for (std::size_t i = 0; i < parts.size(); ++i)
        if (c.parts[i] == "*") *wildcard = parts[i];
    }
    return c.key;
  }
  return nullptr;
}

bool match_section(const std::vector<std::string>& parts) {
  for (const auto& c : compiled())
    if (c.parts.size() > parts.size() && prefix_matches(c.parts, parts)) return true;
  return false;
}

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

// Calls `leaf` for each key of `root` the schema knows (with its spec and the
// name a wildcard matched), `section` for sections, `unknown` for the rest.
struct Visitor {
  std::function<void(const ConfigKey&, const std::string&, const ConfigValue&, const std::string&)> leaf;
  std::function<void(const std::string&, const ConfigValue&)> bad_section;
  std::function<void(const std::string&)> unknown;

  void walk(const ConfigValue& map, const std::string& path, std::vector<std::string>& parts) const {
    for (const auto& [k, v] : map.as_map()) {
      parts.push_back(k);
      std::string p = join(path, k);
      std::string wildcard;
      if (const ConfigKey* spec = match_key(parts, &wildcard)) {
        leaf(*spec, p, v, wildcard);
      } else if (match_section(parts)) {
        if (v.is_map()) walk(v, p, parts);
        else if (!v.is_null() && bad_section) bad_section(p, v);
      } else if (unknown) {
        unknown(p);
      }
      parts.pop_back();
    }
  }
  void run(const ConfigValue& root) const {
    std::vector<std::string> parts;
    if (root.is_map()) walk(root, "", parts);
  }
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggestion(const std::string& path) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, path.size() / 4) + 1;
  auto consider = [&](const std::string& candidate) {
    std::size_t d = edit_distance(path, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  };
  for (const auto& c : compiled()) {
    if (c.key->path.find('*') != std::string::npos) continue;
    std::string prefix;
    for (const auto& part : c.parts) {
      prefix = join(prefix, part);
      consider(prefix);
    }
  }
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

void check_value(const ConfigKey& spec, const std::string& path, const ConfigValue& v,
                 std::vector<std::string>& errors) {
  auto bad = [&](const std::string& what) { errors.push_back(path + ": " + what); };
  auto expected = [&] {
    std::string hint = v.is_null() ? " (unset the key to get its default)" : "";
    bad("expected " + describe_config_type(spec) + ", got " + v.describe() + hint);
  };
  if (v.is_null()) {
    if (!spec.nullable) expected();
    return;
  }
  using K = ConfigValue::Kind;
  switch (spec.type) {
    case T::boolean:
      if (v.kind() != K::boolean) return expected();
      break;
    case T::integer:
      if (v.kind() != K::integer) return expected();
      break;
    case T::number:
      if (v.kind() != K::integer && (v.kind() != K::number || std::isnan(v.as_number()))) return expected();
      break;
    case T::string:
      if (v.kind() != K::string) return expected();
      if (!spec.allowed.empty() &&
          std::find(spec.allowed.begin(), spec.allowed.end(), v.as_string()) == spec.allowed.end()) {
        std::string list;
        for (const auto& a : spec.allowed) list += (list.empty() ? "" : ", ") + a;
        return bad("'" + v.as_string() + "' is not one of " + list);
      }
      break;
    case T::string_list:
      if (!v.is_list()) return expected();
      for (std::size_t i = 0; i < v.as_list().size(); ++i)
        if (v.as_list()[i].kind() != K::string) {
          errors.push_back(path + "[" + std::to_string(i) + "]: expected a string, got " +
                           v.as_list()[i].describe() + " (quote it in the file)");
          return;
        }
      break;
    case T::size:
      if (v.kind() != K::string && v.kind() != K::integer) return expected();
      break;
  }
  if (spec.type == T::integer || spec.type == T::number) {
    double d = v.as_number();
    auto fmt = [](double x) {
      return x == std::floor(x) && std::fabs(x) < 1e15 ? std::to_string(static_cast<long long>(x))
                                                       : format_yaml_scalar(ConfigValue(x));
    };
    if (d < spec.min || d > spec.max)
      return bad(format_yaml_scalar(v) + " is out of range (" + fmt(spec.min) + " to " + fmt(spec.max) + ")");
  }
  if (spec.check) {
    std::string problem = spec.check(v);
    if (!problem.empty()) bad(problem);
  }
}

void set_path(ConfigValue& root, const std::vector<std::string>& parts, const ConfigValue& v) {
  ConfigValue* cur = &root;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    ConfigValue* next = cur->find(parts[i]);
    if (!next) {
      cur->as_map().emplace_back(parts[i], i + 1 == parts.size() ? v : ConfigValue::empty_map());
      next = &cur->as_map().back().second;
    } else if (i + 1 == parts.size()) {
      *next = v;
    }
    cur = next;
  }
}

void merge_over(ConfigValue& base, const ConfigValue& over) {
  for (const auto& [k, v] : over.as_map()) {
    ConfigValue* existing = base.find(k);
    if (existing && existing->is_map() && v.is_map()) merge_over(*existing, v);
    else if (existing && existing->is_map() && v.is_null()) continue;  // an empty section
    else if (existing) *existing = v;
    else base.as_map().emplace_back(k, v);
  }
}

void wrap_comment(std::string& out, const std::string& pad, const std::string& text) {
  const std::size_t width = 78;
  std::string line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t space = text.find(' ', start);
    std::string word = text.substr(start, space == std::string::npos ? std::string::npos : space - start);
    start = space == std::string::npos ? text.size() : space + 1;
    if (word.empty()) continue;
    if (!line.empty() && pad.size() + 2 + line.size() + 1 + word.size() > width) {
      out += pad + "# " + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += pad + "# " + line + "\n";
}

void render_map(std::string& out, const ConfigValue& map, const std::string& path,
                std::vector<std::string>& parts, int indent) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  for (const auto& [k, v] : map.as_map()) {
    parts.push_back(k);
    std::string p = join(path, k);
    if (indent == 0 && !out.empty()) out += "\n";
    const ConfigKey* spec = match_key(parts, nullptr);
    bool section = !spec && match_section(parts);
    if (spec) {
      std::string text = spec->description;
      if (!spec->allowed.empty()) {
        text += " One of:";
        for (std::size_t i = 0; i < spec->allowed.size(); ++i) text += (i ? ", " : " ") + spec->allowed[i];
        text += ".";
      }
      wrap_comment(out, pad, text);
    } else if (section && v.is_map() && v.as_map().empty()) {
      // An empty section of admin-chosen names: describe what goes in it.
      parts.push_back("*");
      if (const ConfigKey* wild = match_key(parts, nullptr)) wrap_comment(out, pad, wild->description);
      parts.pop_back();
    }
    std::string key = format_yaml_scalar(ConfigValue(k));
    if (section && v.is_map() && !v.as_map().empty()) {
      out += pad + key + ":\n";
      render_map(out, v, p, parts, indent + 2);
    } else if ((v.is_map() && !v.as_map().empty()) || (v.is_list() && !v.as_list().empty())) {
      out += pad + key + ":\n" + format_yaml_block(v, indent + 2);
    } else {
      out += pad + key + ": " + format_yaml_block(v, 0);
    }
    parts.pop_back();
  }
}

}  // namespace

const std::vector<ConfigKey>& config_schema() {
  static const std::vector<ConfigKey> kSchema = build_schema();
  return kSchema;
}

const ConfigKey* find_config_key(std::string_view dotted) { return match_key(components(dotted), nullptr); }

bool is_config_section(std::string_view dotted) { return match_section(components(dotted)); }

std::string describe_config_type(const ConfigKey& key) {
  std::string t;
  switch (key.type) {
    case T::boolean: t = "a boolean (true or false)"; break;
    case T::integer: t = "an integer"; break;
    case T::number: t = "a number"; break;
    case T::string: t = "a string"; break;
    case T::string_list: t = "a list of strings"; break;
    case T::size: t = "a size like 512M or 1G"; break;
  }
  return key.nullable ? t + " or null" : t;
}

std::vector<std::string> validate_config(const ConfigValue& root) {
  std::vector<std::string> errors;
  if (!root.is_map()) return {"the top level must be a mapping, got " + root.describe()};
  std::vector<std::pair<const ConfigKey*, std::string>> aliases_seen;
  Visitor v;
  v.leaf = [&](const ConfigKey& spec, const std::string& path, const ConfigValue& value, const std::string&) {
    check_value(spec, path, value, errors);
    if (!spec.alias_of.empty()) aliases_seen.emplace_back(&spec, path);
  };
  v.bad_section = [&](const std::string& path, const ConfigValue& value) {
    errors.push_back(path + ": expected a mapping of keys, got " + value.describe());
  };
  v.unknown = [&](const std::string& path) {
    errors.push_back(path + ": unknown key" + suggestion(path));
  };
  v.run(root);
  for (const auto& [spec, path] : aliases_seen) {
    const ConfigValue* alias_value = root.find_path(path);
    const ConfigValue* target = root.find_path(spec->alias_of);
    if (alias_value && target && !(*alias_value == *target))
      errors.push_back(path + ": disagrees with " + spec->alias_of +
                       ", which means the same; keep only one of them");
  }
  return errors;
}

HubConfig config_from_value(const ConfigValue& root) {
  HubConfig config;
  for (const auto& spec : config_schema())
    if (spec.alias_of.empty() && !spec.ignored && spec.path.find('*') == std::string::npos)
      spec.apply(config, spec.default_value, "");
  // TLJH's spellings first, so that coursehub's own spelling has the last word.
  for (bool aliases : {true, false}) {
    Visitor v;
    v.leaf = [&](const ConfigKey& spec, const std::string&, const ConfigValue& value, const std::string& name) {
      if (spec.alias_of.empty() != aliases) spec.apply(config, value, name);
    };
    v.run(root);
  }
  return config;
}

ConfigValue effective_config(const ConfigValue& root) {
  ConfigValue out = ConfigValue::empty_map();
  for (const auto& c : compiled()) {
    if (!c.key->alias_of.empty() || c.key->ignored) continue;
    if (c.parts.back() == "*") {
      set_path(out, std::vector<std::string>(c.parts.begin(), c.parts.end() - 1), ConfigValue::empty_map());
    } else {
      set_path(out, c.parts, c.key->default_value);
    }
  }
  if (root.is_map()) merge_over(out, root);
  return out;
}

std::string render_config_yaml(const ConfigValue& root) {
  std::string out;
  std::vector<std::string> parts;
  if (root.is_map()) render_map(out, root, "", parts, 0);
  return out;
}

}  // namespace hub
