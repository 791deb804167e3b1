#include "app.hpp"

#include <boost/asio/io_context.hpp>

#include <map>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "auth/auth.hpp"
#include "common/sqlite.hpp"
#include "gitpuller/credentials.hpp"
#include "gitpuller/mirror_cache.hpp"

namespace hub {

App::App(std::string prefix, std::shared_ptr<const HubConfig> config)
    : prefix_(std::move(prefix)), config_(std::move(config)) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  pool_ = std::make_unique<WorkerPool>("worker", std::max(4u, 2 * cores));
  cpu_pool_ = std::make_unique<WorkerPool>("hash", cores);
  // Run by one thread (http::Server::run), but with the default concurrency
  // hint: with hint 1 Asio queues a post made on the running thread
  // privately until the current handler returns, so it can run after a post
  // made later from another thread (an event stream's frame before its header).
  io_ = std::make_unique<boost::asio::io_context>();
}

App::~App() {
  pool_->stop();
  cpu_pool_->stop();
}

gitpuller::CredentialStore& App::credentials() {
  std::call_once(git_once_, [this] {
    credentials_ = std::make_unique<gitpuller::CredentialStore>(state_dir());
    mirrors_ = std::make_unique<gitpuller::MirrorCache>(state_dir() + "/mirrors", credentials_.get());
  });
  return *credentials_;
}

gitpuller::MirrorCache& App::mirrors() {
  credentials();
  return *mirrors_;
}

std::shared_ptr<const HubConfig> App::config() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

void App::set_config(std::shared_ptr<const HubConfig> config) {
  std::lock_guard lock(config_mutex_);
  config_ = std::move(config);
}

std::string App::url(std::string_view local_path) const {
  std::string base = config()->base_url;
  if (base.empty() || base.back() != '/') base += '/';
  if (!local_path.empty() && local_path.front() == '/') local_path.remove_prefix(1);
  return base + std::string(local_path);
}

common::Database& App::db() {
  if (!WorkerPool::on_worker_thread())
    throw std::logic_error("App::db() called outside a worker thread (never block I/O threads on SQLite)");
  thread_local std::map<std::string, std::unique_ptr<common::Database>> connections;
  auto& slot = connections[db_path()];
  if (!slot) slot = std::make_unique<common::Database>(db_path());
  return *slot;
}

void App::set_auth(std::unique_ptr<Auth> auth) { auth_ = std::move(auth); }

http::Response App::error_response(const http::Request& req, int status, std::string_view message) const {
  if (!req.is_api() && html_error_) return html_error_(req, status, message);
  return http::Response::json_error(status, message);
}

http::Response App::error_response(const http::Request& req, const http::HttpError& error) const {
  http::Response r = error.location() ? http::Response::redirect(*error.location())
                                      : error_response(req, error.status(), error.what());
  for (const auto& [k, v] : error.headers().items()) r.headers.add(k, v);
  return r;
}

}  // namespace hub
