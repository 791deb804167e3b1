#pragma once
// Idle keep-alive connections from the hub to user servers, for reuse by the
// next proxied request to the same server.
//
// Connections are kept as plain socket descriptors, so a request on any
// connection strand can adopt one into a socket bound to its own executor.
// A descriptor that became readable while idle (the server closed it, or sent
// something unasked) is discarded on take().  Thread-safe.
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace hub::proxy {

class BackendPool {
 public:
  explicit BackendPool(std::size_t max_idle_per_port = 32) : max_idle_(max_idle_per_port) {}
  ~BackendPool();
  BackendPool(const BackendPool&) = delete;
  BackendPool& operator=(const BackendPool&) = delete;

  // A healthy idle connection to 127.0.0.1:port, owned by the caller now.
  std::optional<int> take(int port);
  // Hands a connection back for reuse; closed when the port has enough.
  void give(int port, int fd);
  // Closes every idle connection to `port` (its server stopped).
  void drop(int port);
  std::size_t idle_count() const;

 private:
  std::size_t max_idle_;
  mutable std::mutex mutex_;
  std::map<int, std::vector<int>> idle_;
};

}  // namespace hub::proxy
