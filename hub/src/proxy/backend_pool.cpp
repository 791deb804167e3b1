#include "proxy/backend_pool.hpp"

#include <poll.h>
#include <unistd.h>

namespace hub::proxy {

BackendPool::~BackendPool() {
  for (auto& [port, fds] : idle_)
    for (int fd : fds) ::close(fd);
}

std::optional<int> BackendPool::take(int port) {
  for (;;) {
    int fd;
    {
      std::lock_guard lock(mutex_);
      auto it = idle_.find(port);
      if (it == idle_.end() || it->second.empty()) return std::nullopt;
      fd = it->second.back();  // most recently used: least likely to have timed out
      it->second.pop_back();
    }
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 0) return fd;
    ::close(fd);
  }
}

void BackendPool::give(int port, int fd) {
  {
    std::lock_guard lock(mutex_);
    auto& fds = idle_[port];
    if (fds.size() < max_idle_) {
      fds.push_back(fd);
      return;
    }
  }
  ::close(fd);
}

void BackendPool::drop(int port) {
  std::vector<int> fds;
  {
    std::lock_guard lock(mutex_);
    auto it = idle_.find(port);
    if (it == idle_.end()) return;
    fds = std::move(it->second);
    idle_.erase(it);
  }
  for (int fd : fds) ::close(fd);
}

std::size_t BackendPool::idle_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [port, fds] : idle_) n += fds.size();
  return n;
}

}  // namespace hub::proxy
