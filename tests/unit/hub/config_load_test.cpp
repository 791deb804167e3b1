#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "hub/config.hpp"
#include "hub/config_schema.hpp"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cfgloadXXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& text) const {
    auto file = path / "config.yaml";
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }
};

std::string load_error(const std::string& yaml) {
  TempDir dir;
  try {
    hub::load_config(dir.write(yaml));
  } catch (const hub::ConfigError& e) {
    return e.what();
  }
  return "";
}

hub::HubConfig load(const std::string& yaml) {
  TempDir dir;
  return hub::load_config(dir.write(yaml));
}

}  // namespace

TEST_CASE("a missing file gives the defaults, and the table's defaults are the struct's") {
  TempDir dir;
  hub::HubConfig loaded = hub::load_config((dir.path / "nothing-here.yaml").string());
  CHECK(loaded == hub::HubConfig{});
  CHECK(loaded.base_url == "/");
  CHECK(loaded.auth_type == "native");
  CHECK(loaded.http_port == 80);
  CHECK(loaded.cull.enabled);
  CHECK(loaded.cull.timeout == 600);
  CHECK(loaded.cull.every == 60);
  CHECK(loaded.cull.concurrency == 5);
  CHECK_FALSE(loaded.cull.users);
  CHECK(loaded.cull.max_age == 0);
  CHECK(loaded.default_app == "jupyterlab");
  CHECK_FALSE(loaded.memory_limit_bytes().has_value());
  // An empty file and a comment-only file mean the same.
  CHECK(load("") == hub::HubConfig{});
  CHECK(load("# nothing set yet\n\n") == hub::HubConfig{});
}

TEST_CASE("config_path puts config.yaml under the prefix's config folder") {
  CHECK(hub::config_path("/opt/tljh") == "/opt/tljh/config/config.yaml");
  CHECK(hub::config_path("/srv/hub/") == "/srv/hub/config/config.yaml");
}

TEST_CASE("a config.yaml written for TLJH loads as it is") {
  auto c = load(R"(# managed with tljh-config
base_url: /course/
auth:
  type: firstuseauthenticator.FirstUseAuthenticator
  FirstUseAuthenticator:
    create_users: true
users:
  admin:
  - teacher
  - 'assistant'
  allowed: []
  banned:
  - "troll"
  extra_user_groups:
    staff:
    - teacher
limits:
  memory: 1G
  cpu: 2
http:
  address: 127.0.0.1
  port: 8080
https:
  enabled: true
  letsencrypt:
    email: admin@example.org
    domains:
    - hub.example.org
    staging: false
traefik_api:
  password: secret
user_environment:
  default_app: classic
services:
  cull:
    enabled: false
    timeout: 3600
    every: 120
    concurrency: 10
    users: true
    max_age: 86400
    remove_named_servers: false
)");
  CHECK(c.base_url == "/course/");
  CHECK(c.auth_type == "firstuse");
  CHECK(c.firstuse_create_users);
  CHECK(c.users_admin == std::vector<std::string>{"teacher", "assistant"});
  CHECK(c.users_allowed.empty());
  CHECK(c.users_banned == std::vector<std::string>{"troll"});
  CHECK(c.users_extra_user_groups.at("staff") == std::vector<std::string>{"teacher"});
  CHECK(c.limits_memory == "1G");
  CHECK(c.memory_limit_bytes() == 1073741824LL);
  CHECK(c.limits_cpu == 2.0);
  CHECK(c.http_address == "127.0.0.1");
  CHECK(c.http_port == 8080);
  CHECK(c.https_enabled);
  CHECK(c.https_letsencrypt_email == "admin@example.org");
  CHECK(c.https_letsencrypt_domains == std::vector<std::string>{"hub.example.org"});
  CHECK(c.default_app == "classic");
  CHECK_FALSE(c.cull.enabled);
  CHECK(c.cull.timeout == 3600);
  CHECK(c.cull.every == 120);
  CHECK(c.cull.concurrency == 10);
  CHECK(c.cull.users);
  CHECK(c.cull.max_age == 86400);
}

TEST_CASE("auth.type takes the short names and both TLJH class names") {
  CHECK(load("auth:\n  type: native\n").auth_type == "native");
  CHECK(load("auth:\n  type: firstuse\n").auth_type == "firstuse");
  CHECK(load("auth:\n  type: nativeauthenticator.NativeAuthenticator\n").auth_type == "native");
  CHECK(load("auth:\n  type: firstuseauthenticator.FirstUseAuthenticator\n").auth_type == "firstuse");
  std::string err = load_error("auth:\n  type: oauthenticator.github.GitHubOAuthenticator\n");
  CHECK(err.find("auth.type") != std::string::npos);
  CHECK(err.find("native, firstuse") != std::string::npos);
}

TEST_CASE("TLJH's NativeAuthenticator keys set the same fields as coursehub's own") {
  auto c = load("auth:\n  NativeAuthenticator:\n    open_signup: true\n    minimum_password_length: 12\n");
  CHECK(c.native_open_signup);
  CHECK(c.native_minimum_password_length == 12);
  auto both = load("auth:\n  native:\n    open_signup: true\n  NativeAuthenticator:\n    open_signup: true\n");
  CHECK(both.native_open_signup);
  std::string err =
      load_error("auth:\n  native:\n    open_signup: false\n  NativeAuthenticator:\n    open_signup: true\n");
  CHECK(err.find("auth.NativeAuthenticator.open_signup: disagrees with auth.native.open_signup") !=
        std::string::npos);
}

TEST_CASE("unknown keys are rejected by name, with a suggestion when one is close") {
  std::string err = load_error("services:\n  cull:\n    timout: 30\n");
  CHECK(err.find("services.cull.timout: unknown key") != std::string::npos);
  CHECK(err.find("did you mean services.cull.timeout?") != std::string::npos);
  CHECK(load_error("colour: blue\n").find("colour: unknown key") != std::string::npos);
  CHECK(load_error("auth:\n  GitHubOAuthenticator:\n    client_id: x\n")
            .find("auth.GitHubOAuthenticator: unknown key") != std::string::npos);
}

TEST_CASE("bad types are rejected naming the key, the type wanted and the value found") {
  CHECK(load_error("services:\n  cull:\n    timeout: 10m\n")
            .find("services.cull.timeout: expected an integer, got string '10m'") != std::string::npos);
  CHECK(load_error("https:\n  enabled: yes\n").find("https.enabled: expected a boolean") != std::string::npos);
  CHECK(load_error("http:\n  port: \"80\"\n").find("http.port: expected an integer, got string '80'") !=
        std::string::npos);
  CHECK(load_error("users:\n  admin: alice\n").find("users.admin: expected a list of strings") != std::string::npos);
  CHECK(load_error("users:\n  admin:\n  - 42\n").find("users.admin[0]: expected a string, got integer 42") !=
        std::string::npos);
  CHECK(load_error("services: 5\n").find("services: expected a mapping") != std::string::npos);
  CHECK(load_error("base_url:\n").find("base_url: expected a string, got null") != std::string::npos);
  CHECK(load_error("http:\n  port: 70000\n").find("http.port: 70000 is out of range (0 to 65535)") !=
        std::string::npos);
  CHECK(load_error("limits:\n  cpu: -1\n").find("limits.cpu") != std::string::npos);
  CHECK(load_error("user_environment:\n  default_app: vscode\n").find("'vscode' is not one of jupyterlab, classic") !=
        std::string::npos);
  CHECK(load_error("base_url: course\n").find("base_url: must start with '/'") != std::string::npos);
}

TEST_CASE("all problems of a file are reported at once") {
  std::string err = load_error("http:\n  port: x\nservices:\n  cull:\n    every: y\nbogus: 1\n");
  CHECK(err.find("3 problems") != std::string::npos);
  CHECK(err.find("http.port") != std::string::npos);
  CHECK(err.find("services.cull.every") != std::string::npos);
  CHECK(err.find("bogus") != std::string::npos);
}

TEST_CASE("YAML syntax errors name the file and the line") {
  TempDir dir;
  std::string path = dir.write("users:\n  admin: [alice\nhttp:\n  port: 80\n");
  try {
    hub::load_config(path);
    FAIL("no error");
  } catch (const hub::ConfigError& e) {
    std::string m = e.what();
    CHECK(m.find(path) != std::string::npos);
    CHECK(m.find("line ") != std::string::npos);
  }
  CHECK(load_error("a: 1\na: 2\n").find("the key appears twice") != std::string::npos);
  CHECK(load_error("- just\n- a list\n").find("top level must be a mapping") != std::string::npos);
  CHECK(load_error("a: 1\n---\nb: 2\n").find("several YAML documents") != std::string::npos);
  CHECK(load_error("http:\n  port: !!python/int 5\n").find("unsupported tag") != std::string::npos);
}

TEST_CASE("an unreadable config path is a clear error") {
  TempDir dir;
  std::string err;
  try {
    hub::load_config(dir.path.string());  // a folder
  } catch (const hub::ConfigError& e) {
    err = e.what();
  }
  CHECK(err.find("cannot read") != std::string::npos);
}

TEST_CASE("memory sizes are read the TLJH way") {
  CHECK(hub::parse_memory_size("1G") == 1073741824LL);
  CHECK(hub::parse_memory_size("512M") == 536870912LL);
  CHECK(hub::parse_memory_size("1.5G") == 1610612736LL);
  CHECK(hub::parse_memory_size("64K") == 65536);
  CHECK(hub::parse_memory_size("2T") == 2199023255552LL);
  CHECK(hub::parse_memory_size("2g") == 2147483648LL);
  CHECK(hub::parse_memory_size("1048576") == 1048576);
  for (const char* bad : {"", "G", "1X", "-1G", "1.5", "0", "0M", "1e3G", " 1G", "1G ", "1GB", "1..5G",
                          "99999999999999999999", "9999999999T"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(hub::parse_memory_size(bad), hub::ConfigError);
  }
  CHECK(load("limits:\n  memory: 1073741824\n").memory_limit_bytes() == 1073741824LL);
  CHECK(load("limits:\n  memory: 512M\n").memory_limit_bytes() == 536870912LL);
  CHECK_FALSE(load("limits:\n  memory: null\n").memory_limit_bytes().has_value());
  CHECK(load_error("limits:\n  memory: lots\n").find("limits.memory: 'lots' is not a memory size") !=
        std::string::npos);
  hub::HubConfig hand_made;
  hand_made.limits_memory = "plenty";
  CHECK_THROWS_AS(hand_made.memory_limit_bytes(), hub::ConfigError);
}

TEST_CASE("base_url always ends with a slash") {
  CHECK(load("base_url: /course\n").base_url == "/course/");
  CHECK(load("base_url: /course/\n").base_url == "/course/");
}

TEST_CASE("YAML 1.2 typing: quoted text stays text, empty sections are fine, anchors resolve") {
  auto c = load("users:\nhttp:\n  address: \"\"\n  port: 0x50\n");
  CHECK(c.http_port == 80);
  CHECK(c.http_address.empty());
  auto anchored = load("users:\n  admin: &staff\n  - ann\n  allowed: *staff\n");
  CHECK(anchored.users_allowed == std::vector<std::string>{"ann"});
  CHECK(load("limits:\n  cpu: .5\n").limits_cpu == 0.5);
}

TEST_CASE("every key of the schema can be set in a file and lands in the config") {
  for (const auto& key : hub::config_schema()) {
    if (key.ignored) continue;
    CAPTURE(key.path);
    std::string path = key.path;
    if (auto star = path.find('*'); star != std::string::npos) path.replace(star, 1, "staff");
    // Build nested YAML for the key with a valid non-default value.
    const hub::ConfigValue& default_value =
        key.alias_of.empty() ? key.default_value : hub::find_config_key(key.alias_of)->default_value;
    std::string value;
    switch (key.type) {
      case hub::ConfigType::boolean: value = default_value.as_bool() ? "false" : "true"; break;
      case hub::ConfigType::integer: value = "7"; break;
      case hub::ConfigType::number: value = "1.5"; break;
      case hub::ConfigType::string: value = key.allowed.empty() ? "/x/" : key.allowed.back(); break;
      case hub::ConfigType::string_list: value = key.path == "http.trusted_proxies" ? "[127.0.0.1]" : "[someone]"; break;
      case hub::ConfigType::size: value = "2G"; break;
    }
    std::string yaml;
    std::string indent;
    std::size_t start = 0;
    for (;;) {
      auto dot = path.find('.', start);
      if (dot == std::string::npos) {
        yaml += indent + path.substr(start) + ": " + value + "\n";
        break;
      }
      yaml += indent + path.substr(start, dot - start) + ":\n";
      indent += "  ";
      start = dot + 1;
    }
    hub::HubConfig c = load(yaml);
    CHECK_FALSE(c == hub::HubConfig{});
  }
}
