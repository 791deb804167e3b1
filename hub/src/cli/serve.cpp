// `coursehub serve`: run the hub.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "app.hpp"
#include "auth/auth.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "common/file_lock.hpp"
#include "common/sqlite.hpp"
#include "db/state.hpp"
#include "http/server.hpp"
#include "hub/config.hpp"
#include "modules.hpp"
#include "util/log.hpp"

namespace hub::cli {
namespace {

struct Overrides {
  std::optional<std::string> ip;
  std::optional<int> port;
};

int parse_port(const std::string& s) {
  int port = -1;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (ec != std::errc() || p != s.data() + s.size() || port < 0 || port > 65535)
    throw UsageError("--port must be a number from 0 to 65535 (0: any free port), got '" + s + "'");
  return port;
}

std::shared_ptr<const HubConfig> load(const std::string& prefix, const Overrides& o) {
  auto cfg = std::make_shared<HubConfig>(load_config(config_path(prefix)));
  if (o.ip) cfg->http_address = cfg->https_address = *o.ip;
  if (o.port) cfg->http_port = *o.port;
  return cfg;
}

// Runs fn on a worker thread and waits (start-up work that must not run on
// the main thread's I/O context, e.g. hooks that use App::db()).
void run_on_pool(App& app, const std::function<void()>& fn) {
  std::promise<void> done;
  app.pool().post([&] {
    try {
      fn();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  done.get_future().get();
}

std::string url_host(const std::string& address) {
  if (address.empty() || address == "::" || address == "0.0.0.0") return "0.0.0.0";
  if (address.find(':') != std::string::npos) return "[" + address + "]";
  return address;
}

// The host this machine's own processes use to reach a listener.
std::string local_host(const std::string& address) {
  if (address.empty() || address == "::" || address == "0.0.0.0") return "127.0.0.1";
  if (address.find(':') != std::string::npos) return "[" + address + "]";
  return address;
}

}  // namespace

int cmd_serve(const Argv& argv) {
  Args args(argv, {"ip", "port"}, {});
  if (!args.positional().empty()) throw UsageError("serve takes no positional arguments");
  Overrides overrides;
  overrides.ip = args.value("ip");
  if (auto p = args.value("port")) overrides.port = parse_port(*p);
  std::string prefix = args.prefix();

  // Large, short-lived buffers (argon2's 19 MiB) go back to the OS at once,
  // and a handful of arenas is plenty for this workload: keeps RSS flat.
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  mallopt(M_ARENA_MAX, 4);
  // Every browser tab may hold several connections (WebSockets, event
  // streams): allow as many descriptors as the system lets this process have.
  if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }

  std::shared_ptr<const HubConfig> config;
  try {
    config = load(prefix, overrides);
  } catch (const ConfigError& e) {
    std::cerr << "error: config: " << e.what() << "\n";
    return 1;
  }

  std::string state_dir;
  try {
    db::open_hub_database(prefix);  // creates P/state (0700) and migrates
    state_dir = prefix + "/state";
  } catch (const std::exception& e) {
    std::cerr << "error: state: " << e.what() << "\n";
    return 1;
  }
  auto lock = common::FileLock::try_acquire(state_dir + "/hub.lock", std::chrono::milliseconds(0));
  if (!lock) {
    std::string pid;
    std::ifstream(state_dir + "/hub.pid") >> pid;
    std::cerr << "error: lock: another coursehub serve is running with prefix " << prefix
              << (pid.empty() ? "" : " (pid " + pid + ")") << "\n";
    return 1;
  }
  std::string secret = db::load_cookie_secret(state_dir);

  App app(prefix, config);
  app.set_auth(std::make_unique<Auth>(app, secret));
  app.hooks().on_start.push_back([&app] { app.auth().apply_config_admins(app.db()); });
  app.hooks().on_reload.push_back([&app](const HubConfig&, const HubConfig&) { app.auth().apply_config_admins(app.db()); });
  register_modules(app);

  try {
    run_on_pool(app, [&app] {
      for (auto& hook : app.hooks().on_start) hook();
    });
  } catch (const std::exception& e) {
    std::cerr << "error: start: " << e.what() << "\n";
    return 1;
  }

  http::Server server(app);
  std::string url;
  std::string api_url;  // for single-user servers on this machine
  try {
    if (config->https_enabled) {
      if (config->https_tls_cert.empty() || config->https_tls_key.empty()) {
        std::cerr << "error: config: https.enabled needs https.tls.cert and https.tls.key "
                     "(Let's Encrypt is not built in: put certbot's files there)\n";
        return 1;
      }
      int https_port = server.listen_https(config->https_address, config->https_port, config->https_tls_cert,
                                           config->https_tls_key);
      int http_port = server.listen_redirect_to_https(config->http_address, config->http_port, https_port);
      url = "https://" + url_host(config->https_address) + ":" + std::to_string(https_port) + app.url("/");
      api_url = "https://" + local_host(config->https_address) + ":" + std::to_string(https_port) + app.url("/hub/api");
      log::info("redirecting http://" + url_host(config->http_address) + ":" + std::to_string(http_port) + "/ to HTTPS");
    } else {
      int port = server.listen_http(config->http_address, config->http_port);
      url = "http://" + url_host(config->http_address) + ":" + std::to_string(port) + app.url("/");
      api_url = "http://" + local_host(config->http_address) + ":" + std::to_string(port) + app.url("/hub/api");
    }
  } catch (const std::exception& e) {
    std::cerr << "error: listen: " << e.what() << "\n";
    return 1;
  }
  app.public_url = url;
  for (auto& hook : app.hooks().on_listening) hook(api_url);

  server.handle_signals([&app, prefix, overrides] {
    auto before = app.config();
    std::shared_ptr<const HubConfig> now;
    try {
      now = load(prefix, overrides);
    } catch (const ConfigError& e) {
      log::error(std::string("config reload failed; keeping the previous configuration: ") + e.what());
      return;
    }
    if (now->http_port != before->http_port || now->http_address != before->http_address ||
        now->https_enabled != before->https_enabled || now->https_port != before->https_port ||
        now->base_url != before->base_url)
      log::warning("listen address, port, HTTPS and base_url changes take effect at the next restart");
    auto applied = std::make_shared<HubConfig>(*now);
    // Routing depends on base_url: keep the one in force until restart.
    applied->base_url = before->base_url;
    app.set_config(applied);
    for (auto& hook : app.hooks().on_reload) {
      try {
        hook(*before, *applied);
      } catch (const std::exception& e) {
        log::error(std::string("reload hook failed: ") + e.what());
      }
    }
    log::info("configuration reloaded");
  });

  std::string pid_path = state_dir + "/hub.pid";
  {
    std::ofstream pid(pid_path, std::ios::trunc);
    pid << ::getpid() << "\n";
  }
  std::printf("coursehub: listening on %s\n", url.c_str());
  std::fflush(stdout);
  log::info("listening on " + url + " (prefix " + prefix + ", auth " + config->auth_type + ")");

  std::size_t threads = config->hub_threads > 0 ? static_cast<std::size_t>(config->hub_threads)
                                                 : std::max(1u, std::thread::hardware_concurrency());
  server.run(threads);

  for (auto& hook : app.hooks().on_shutdown) {
    try {
      hook();
    } catch (const std::exception& e) {
      log::error(std::string("shutdown hook failed: ") + e.what());
    }
  }
  app.pool().stop();
  app.cpu_pool().stop();
  ::unlink(pid_path.c_str());
  log::info("stopped");
  return 0;
}

}  // namespace hub::cli
