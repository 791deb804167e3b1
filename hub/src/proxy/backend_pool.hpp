#pragma once
// Idle keep-alive connections from the hub to user servers, for reuse by the
// next proxied request to the same server.
//
// Connections stay with the I/O context they were made on (one store per
// context, an Asio service): a request reuses a connection of its own
// thread, already registered with that thread's reactor, so a reuse costs
// no system call beyond a one-byte MSG_PEEK health check — no moving of
// descriptors between reactors, no lock shared by the I/O threads.  The
// stores close what they hold when their context shuts down.
//
// Each idle connection is filed under (this pool, port, server key); the key
// is the server's per-start token, so a connection to a stopped server is
// never handed to a later server that got the same port.
//
// This header is free of Asio; take/give are in backend_pool_io.hpp.
// Thread-safety: every member may be called from any thread.
#include <atomic>
#include <cstddef>
#include <memory>

namespace hub::proxy {

class BackendPool {
 public:
  explicit BackendPool(std::size_t max_idle_per_server = 32);
  // Closes the idle connections this pool left on the I/O contexts.
  ~BackendPool();
  BackendPool(const BackendPool&) = delete;
  BackendPool& operator=(const BackendPool&) = delete;

  // Closes every idle connection to `port` (its server stopped), on every context.
  void drop(int port);
  // Idle connections held, over all contexts.
  std::size_t idle_count() const;

  struct State {
    std::size_t max_idle;
    std::atomic<std::size_t> idle{0};
  };
  const std::shared_ptr<State>& state() const { return state_; }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace hub::proxy
