#include "socket_stream.hpp"

#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "gitpuller/connect_filter.hpp"
#include "tls_certs.hpp"

namespace gitpuller::detail {
namespace {

std::atomic<int> g_connect_ms{30000};
std::atomic<int> g_idle_ms{120000};

std::mutex g_filter_mutex;
std::shared_ptr<const ConnectFilter> g_filter;

std::shared_ptr<const ConnectFilter> connect_filter() {
  std::lock_guard lock(g_filter_mutex);
  return g_filter;
}

struct TcpStream {
  git_stream base;  // first member: libgit2 hands us back this pointer
  std::string host;
  std::string port;
  int fd = -1;
};

TcpStream* self(git_stream* s) { return reinterpret_cast<TcpStream*>(s); }

void set_error(const std::string& what, int err) {
  git_error_set_str(GIT_ERROR_NET, (what + ": " + std::strerror(err)).c_str());
}

// Waits until `fd` is ready for `events`; false (errno set) on timeout or error.
bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc > 0) return true;
    if (rc == 0) {
      errno = ETIMEDOUT;
      return false;
    }
    if (errno != EINTR) return false;
  }
}

int stream_connect(git_stream* s) {
  TcpStream* st = self(s);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* info = nullptr;
  if (int rc = ::getaddrinfo(st->host.c_str(), st->port.c_str(), &hints, &info); rc != 0) {
    git_error_set_str(GIT_ERROR_NET, ("failed to resolve address for " + st->host + ": " + gai_strerror(rc)).c_str());
    return -1;
  }
  int last_errno = ECONNREFUSED;
  bool refused = false, tried = false;
  auto filter = connect_filter();
  for (addrinfo* p = info; p; p = p->ai_next) {
    if (filter && *filter && !(*filter)(st->host, st->port, p->ai_addr)) {
      refused = true;
      continue;
    }
    tried = true;
    int fd = ::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, p->ai_addr, p->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (wait_for(fd, POLLOUT, g_connect_ms.load())) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        if (err) errno = err;
      } else {
        rc = -1;
      }
    }
    if (rc == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      st->fd = fd;
      ::freeaddrinfo(info);
      return 0;
    }
    last_errno = errno;
    ::close(fd);
  }
  ::freeaddrinfo(info);
  if (refused && !tried) {
    git_error_set_str(GIT_ERROR_NET, ("refused to connect to " + st->host +
                                      ": its address is not one this server may fetch from").c_str());
    return -1;
  }
  set_error("failed to connect to " + st->host + ":" + st->port, last_errno);
  return -1;
}

ssize_t stream_write(git_stream* s, const char* data, size_t len, int flags) {
  TcpStream* st = self(s);
  for (;;) {
    ssize_t n = ::send(st->fd, data, len, flags | MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_for(st->fd, POLLOUT, g_idle_ms.load())) continue;
      set_error("the server stopped accepting data", errno);
      return -1;
    }
    set_error("error sending data", errno);
    return -1;
  }
}

ssize_t stream_read(git_stream* s, void* data, size_t len) {
  TcpStream* st = self(s);
  for (;;) {
    ssize_t n = ::recv(st->fd, data, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_for(st->fd, POLLIN, g_idle_ms.load())) continue;
      set_error("the server stopped answering", errno);
      return -1;
    }
    set_error("error receiving data", errno);
    return -1;
  }
}

int stream_close(git_stream* s) {
  TcpStream* st = self(s);
  if (st->fd >= 0) ::close(st->fd);
  st->fd = -1;
  return 0;
}

void stream_free(git_stream* s) {
  TcpStream* st = self(s);
  if (st->fd >= 0) ::close(st->fd);
  delete st;
}

int stream_new(git_stream** out, const char* host, const char* port) {
  // Before libgit2 may wrap this stream in TLS (which reads the CA bundle).
  before_connection(host, port);
  auto* st = new (std::nothrow) TcpStream();
  if (!st) return -1;
  st->base.version = GIT_STREAM_VERSION;
  st->base.connect = stream_connect;
  st->base.read = stream_read;
  st->base.write = stream_write;
  st->base.close = stream_close;
  st->base.free = stream_free;
  st->host = host ? host : "";
  st->port = port ? port : "80";
  *out = &st->base;
  return 0;
}

}  // namespace

void register_socket_stream(std::chrono::milliseconds connect_timeout, std::chrono::milliseconds idle_timeout) {
  g_connect_ms = static_cast<int>(connect_timeout.count());
  g_idle_ms = static_cast<int>(idle_timeout.count());
  git_stream_registration reg{};
  reg.version = GIT_STREAM_VERSION;
  reg.init = stream_new;
  git_stream_register(GIT_STREAM_STANDARD, &reg);
}

}  // namespace gitpuller::detail

namespace gitpuller {

void set_connect_filter(ConnectFilter filter) {
  auto next = std::make_shared<const ConnectFilter>(std::move(filter));
  std::lock_guard lock(detail::g_filter_mutex);
  detail::g_filter = std::move(next);
}

}  // namespace gitpuller
