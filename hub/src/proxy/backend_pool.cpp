#include "proxy/backend_pool.hpp"

#include <sys/socket.h>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>

#include <cerrno>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "proxy/backend_pool_io.hpp"

namespace hub::proxy {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class IdleStore;

// Every live store, for drop() and ~BackendPool (which act on all contexts).
// Never destroyed: stores may outlive static destruction order.
std::mutex& registry_mutex() {
  static auto* m = new std::mutex;
  return *m;
}
std::vector<IdleStore*>& registry() {
  static auto* r = new std::vector<IdleStore*>;
  return *r;
}

// The idle connections of one execution context.  Its own thread takes and
// gives; drop() may come from any thread, hence the (uncontended) mutex.
class IdleStore : public net::execution_context::service {
 public:
  static inline net::execution_context::id id;

  explicit IdleStore(net::execution_context& ctx) : net::execution_context::service(ctx) {
    std::lock_guard lock(registry_mutex());
    registry().push_back(this);
  }
  ~IdleStore() override { unregister(); }

  std::optional<tcp::socket> take(const std::shared_ptr<BackendPool::State>& pool, int port, std::string_view key) {
    std::lock_guard lock(mutex_);
    auto it = slots_.find({pool.get(), port});
    if (it == slots_.end()) return std::nullopt;
    auto& idle = it->second.idle;
    while (!idle.empty()) {
      Entry e = std::move(idle.back());
      idle.pop_back();
      --pool->idle;
      if (e.key != key) continue;  // a server that used this port before: closed here
      char byte;
      ssize_t n = ::recv(e.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::move(e.socket);
      // EOF, an error, or bytes nobody asked for: not reusable.
    }
    return std::nullopt;
  }

  void give(const std::shared_ptr<BackendPool::State>& pool, tcp::socket&& socket, int port, std::string_view key) {
    {
      std::lock_guard lock(mutex_);
      auto& slot = slots_[{pool.get(), port}];
      if (!slot.pool) slot.pool = pool;
      if (slot.idle.size() < pool->max_idle) {
        slot.idle.push_back(Entry{std::move(socket), std::string(key)});
        ++pool->idle;
        return;
      }
    }
    boost::system::error_code ignored;
    socket.close(ignored);
  }

  // port < 0: every port of that pool.
  void drop(const BackendPool::State* pool, int port) {
    std::lock_guard lock(mutex_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      if (it->first.first == pool && (port < 0 || it->first.second == port)) {
        it->second.pool->idle -= it->second.idle.size();
        it = slots_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  void shutdown() override {
    unregister();
    std::lock_guard lock(mutex_);
    for (auto& [k, slot] : slots_) slot.pool->idle -= slot.idle.size();
    slots_.clear();
  }

  void unregister() {
    std::lock_guard lock(registry_mutex());
    std::erase(registry(), this);
  }

  struct Entry {
    tcp::socket socket;
    std::string key;
  };
  struct Slot {
    std::shared_ptr<BackendPool::State> pool;  // keeps the counter alive
    std::vector<Entry> idle;
  };
  std::mutex mutex_;
  std::map<std::pair<const BackendPool::State*, int>, Slot> slots_;
};

IdleStore& store_of(const net::any_io_executor& ex) {
  return net::use_service<IdleStore>(net::query(ex, net::execution::context));
}

}  // namespace

BackendPool::BackendPool(std::size_t max_idle_per_server) : state_(std::make_shared<State>()) {
  state_->max_idle = max_idle_per_server;
}

BackendPool::~BackendPool() {
  std::lock_guard lock(registry_mutex());
  for (auto* store : registry()) store->drop(state_.get(), -1);
}

void BackendPool::drop(int port) {
  std::lock_guard lock(registry_mutex());
  for (auto* store : registry()) store->drop(state_.get(), port);
}

std::size_t BackendPool::idle_count() const { return state_->idle.load(); }

std::optional<tcp::socket> take_idle(BackendPool& pool, const net::any_io_executor& ex, int port,
                                     std::string_view server_key) {
  return store_of(ex).take(pool.state(), port, server_key);
}

void give_idle(BackendPool& pool, tcp::socket&& socket, int port, std::string_view server_key) {
  auto ex = socket.get_executor();
  store_of(ex).give(pool.state(), std::move(socket), port, server_key);
}

}  // namespace hub::proxy
