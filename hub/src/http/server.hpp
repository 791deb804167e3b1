#pragma once
// The hub's HTTP(S) server: listeners, connections, request dispatch.
//
// One io_context per I/O thread (the first is App::io()); each connection is
// given to one of them in turn and stays there: its handlers all run on that
// thread, one at a time (what a strand would give, without hand-offs).
// Accepted sockets have TCP_NODELAY.  Every read and write has a deadline (header, body, write,
// keep-alive idle), headers and bodies have size limits, and blocking work
// goes to App::pool() (SyncHandler routes).  One log line per request:
// status, method, target (secrets redacted), user, client, duration.
//
// Thread-safety: listen_*() and handle_signals() before run(); shutdown()
// from any thread.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace hub {
class App;
}

namespace hub::http {

struct ServerLimits {
  std::size_t header_limit = 32 * 1024;              // bytes of request line + fields -> 431
  std::chrono::seconds header_timeout{30};           // to receive a complete header (slow-loris)
  std::chrono::seconds keep_alive_timeout{75};       // idle time between requests
  std::chrono::seconds write_timeout{60};            // to send a whole response
  std::size_t max_connections = 10000;               // beyond this, new ones are closed at once
};

class Server {
 public:
  explicit Server(App& app, ServerLimits limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds address:port (port 0: a free port) and returns the port bound.
  // An empty address means all interfaces.  Throws std::runtime_error with
  // a clear message when binding fails.
  int listen_http(const std::string& address, int port);
  // The same with TLS, from PEM files; throws when they cannot be loaded.
  int listen_https(const std::string& address, int port, const std::string& cert_file,
                   const std::string& key_file);
  // A plain-HTTP listener that redirects every request to https on `https_port`.
  int listen_redirect_to_https(const std::string& address, int port, int https_port);

  // SIGTERM/SIGINT: graceful shutdown.  SIGHUP: `on_reload` on a worker thread.
  void handle_signals(std::function<void()> on_reload);

  // Runs the I/O threads; returns after shutdown.
  void run(std::size_t threads);

  // Stops accepting, lets requests in flight finish (up to `grace`), closes
  // idle connections and event streams at once, then stops the I/O threads.
  void shutdown(std::chrono::seconds grace = std::chrono::seconds(10));

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hub::http
