#include "http/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "http/raw_connection.hpp"
#include "util/log.hpp"

namespace hub::http {

namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

enum class ListenerKind { plain, tls, redirect };

class Session;

std::string format_ms(Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fms", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(App& a, ServerLimits l) : app(a), limits(l), ioc(a.io()) {}

  App& app;
  ServerLimits limits;
  net::io_context& ioc;  // context 0: listeners, signals, the hub's timers, and its share of connections
  // One more context per further I/O thread (run()).  Each context is run by
  // exactly one thread, so a connection's handlers never run concurrently and
  // never migrate: no strand, no hand-off between threads per operation.
  std::vector<std::unique_ptr<net::io_context>> extra_contexts;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> extra_work;
  std::atomic<std::size_t> next_context{0};
  std::vector<std::shared_ptr<void>> listeners;
  std::vector<std::function<void()>> close_listeners;
  std::unique_ptr<ssl::context> tls_ctx;
  std::optional<net::signal_set> signals;
  std::function<void()> on_reload;

  std::mutex mutex;
  std::map<Session*, std::weak_ptr<Session>> sessions;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::optional<net::steady_timer> grace_timer;

  void register_session(Session* s, std::weak_ptr<Session> w) {
    std::lock_guard lock(mutex);
    sessions.emplace(s, std::move(w));
  }
  void unregister_session(Session* s) {
    bool last = false;
    {
      std::lock_guard lock(mutex);
      sessions.erase(s);
      last = sessions.empty();
    }
    if (last && stopping) net::post(ioc, [self = shared_from_this()] { self->stop_contexts(); });
  }
  void shutdown(std::chrono::seconds grace);

  // The executor a new connection lives on: the I/O contexts in turn.
  // extra_contexts is filled by run() before any thread runs, and never changes after.
  net::io_context::executor_type next_executor() {
    std::size_t n = extra_contexts.size() + 1;
    std::size_t i = next_context.fetch_add(1, std::memory_order_relaxed) % n;
    return i == 0 ? ioc.get_executor() : extra_contexts[i - 1]->get_executor();
  }
  void stop_contexts() {
    ioc.stop();
    for (auto& c : extra_contexts) c->stop();
  }
};

namespace {

// A Server-Sent Events response; see EventStream in handler.hpp.
class SseStream;

class Session : public RawConnection, public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Server::Impl> server, tcp::socket&& socket, ListenerKind kind, int https_port)
      : server_(std::move(server)),
        stream_(kind == ListenerKind::tls ? FlexStream(beast::tcp_stream(std::move(socket)), *server_->tls_ctx)
                                          : FlexStream(beast::tcp_stream(std::move(socket)))),
        kind_(kind),
        https_port_(https_port) {
    ++server_->connections;
    beast::error_code ec;
    auto ep = stream_.tcp().socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }

  ~Session() override {
    --server_->connections;
    server_->unregister_session(this);
  }

  void start() {
    server_->register_session(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->kind_ == ListenerKind::tls) {
        self->stream_.tcp().expires_after(self->server_->limits.header_timeout);
        self->stream_.tls()->async_handshake(
            ssl::stream_base::server, [self](beast::error_code ec) {
              if (ec) return self->do_close();
              self->do_read_header();
            });
      } else {
        self->do_read_header();
      }
    });
  }

  // Called on the strand when the server stops.
  void on_server_shutdown();

  // RawConnection
  FlexStream& stream() override { return stream_; }
  beast::flat_buffer& buffer() override { return buffer_; }
  bhttp::request_parser<bhttp::empty_body>& parser() override { return *header_parser_; }
  Request& request() override { return *req_; }
  std::shared_ptr<Request> shared_request() override { return req_; }
  App& app() override { return server_->app; }
  void finish(bool keep_alive, int status_for_log) override {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), keep_alive, status_for_log] {
      if (self->state_ != State::takeover) return;
      self->takeover_shutdown_.clear();
      self->log_request(status_for_log);
      if (keep_alive && !self->server_->stopping) self->do_read_header();
      else self->do_close();
    });
  }
  void respond(Response response) override {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), r = std::move(response)]() mutable {
      if (self->state_ != State::takeover) return;
      self->takeover_shutdown_.clear();
      if (!self->header_parser_ || !self->header_parser_->is_done()) self->close_after_ = true;
      self->write_response(std::move(r));
    });
  }
  void log_failures_only() override { quiet_success_ = true; }
  void on_shutdown(std::function<void()> callback) override {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), cb = std::move(callback)]() mutable {
      self->takeover_shutdown_.push_back(std::move(cb));
    });
  }

  // Reply plumbing (called on the strand).
  void write_response(Response r);
  std::shared_ptr<EventStream> start_events(EventStreamOptions options);
  void events_closed();

  net::any_io_executor executor() { return stream_.get_executor(); }
  const ServerLimits& limits() const { return server_->limits; }
  bool server_stopping() const { return server_->stopping; }
  App& hub_app() { return server_->app; }
  std::shared_ptr<Request> current_request() { return req_; }

 private:
  enum class State { reading, busy, events, takeover, closed };

  void do_read_header();
  void on_header(beast::error_code ec);
  void read_body(const Route& route);
  void dispatch(const Route& route);
  void reply_error_and_close(int status, std::string_view message);
  void on_write(beast::error_code ec, bool keep_alive, int status);
  void log_request(int status);
  void do_close();
  friend class SseStream;

  std::shared_ptr<Server::Impl> server_;
  FlexStream stream_;
  ListenerKind kind_;
  int https_port_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  std::shared_ptr<Request> req_;
  Clock::time_point started_;
  State state_ = State::reading;
  bool first_request_ = true;
  bool close_after_ = false;
  bool logged_ = false;
  bool quiet_success_ = false;  // log_failures_only()
  std::weak_ptr<SseStream> events_;
  std::vector<std::function<void()>> takeover_shutdown_;
};

class SseStream : public EventStream, public std::enable_shared_from_this<SseStream> {
 public:
  SseStream(std::shared_ptr<Session> session, EventStreamOptions options)
      : session_(std::move(session)), options_(std::move(options)), ping_(session_->executor()) {}

  bool send(const nlohmann::json& data) override {
    return enqueue("data: " + data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n");
  }
  bool send_event(std::string_view event, const nlohmann::json& data) override {
    std::string name;
    for (char c : event)
      if (c != '\r' && c != '\n') name += c;
    return enqueue("event: " + name + "\ndata: " +
                   data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n");
  }
  void close() override {
    net::post(session_->executor(), [self = shared_from_this()] {
      self->finishing_ = true;
      self->pump();
    });
  }
  bool closed() const override {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  void on_close(std::function<void()> callback) override {
    {
      std::lock_guard lock(mutex_);
      if (!closed_) {
        callbacks_.push_back(std::move(callback));
        return;
      }
    }
    callback();
  }

  // On the strand: write the header, watch for the client leaving, ping.
  void begin() {
    auto& s = *session_;
    s.stream_.tcp().expires_never();
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n";
    for (const auto& [k, v] : options_.headers.items()) head += k + ": " + v + "\r\n";
    head += "\r\n";
    queue_.push_front(std::move(head));
    queued_bytes_ += queue_.front().size();
    watch_client();
    schedule_ping();
    pump();
  }

  // On the strand.
  void shut() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
      callbacks.swap(callbacks_);
    }
    ping_.cancel();
    session_->events_closed();
    for (auto& cb : callbacks) {
      try {
        cb();
      } catch (const std::exception& e) {
        log::error(std::string("event stream close callback failed: ") + e.what());
      }
    }
  }

 private:
  bool enqueue(std::string frame) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return false;
    }
    net::post(session_->executor(), [self = shared_from_this(), f = std::move(frame)]() mutable {
      if (self->closed()) return;
      self->queued_bytes_ += f.size();
      self->queue_.push_back(std::move(f));
      // A client that stopped reading must not make the hub hold unbounded data.
      if (self->queued_bytes_ > kMaxQueuedBytes) return self->shut();
      self->pump();
    });
    return true;
  }

  void pump() {
    if (writing_ || closed()) return;
    if (queue_.empty()) {
      if (finishing_) shut();
      return;
    }
    writing_ = true;
    session_->stream_.tcp().expires_after(session_->limits().write_timeout);
    net::async_write(session_->stream_, net::buffer(queue_.front()),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       if (ec) return self->shut();
                       self->queued_bytes_ -= self->queue_.front().size();
                       self->queue_.pop_front();
                       self->pump();
                     });
  }

  void watch_client() {
    session_->stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || self->closed()) return self->shut();
      self->watch_client();  // a client may send bytes; they are ignored
    });
  }

  void schedule_ping() {
    ping_.expires_after(options_.ping_interval);
    ping_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed()) return;
      if (self->queue_.empty()) {
        self->queue_.push_back(": ping\n\n");
        self->queued_bytes_ += 8;
        self->pump();
      }
      self->schedule_ping();
    });
  }

  static constexpr std::size_t kMaxQueuedBytes = 8 * 1024 * 1024;
  std::shared_ptr<Session> session_;
  EventStreamOptions options_;
  net::steady_timer ping_;
  mutable std::mutex mutex_;
  bool closed_ = false;
  std::vector<std::function<void()>> callbacks_;
  // Strand-only.
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool finishing_ = false;
  std::array<char, 512> scratch_{};
};

// A stream handed out after the answer was already given: closed from birth.
class ClosedStream : public EventStream {
 public:
  bool send(const nlohmann::json&) override { return false; }
  bool send_event(std::string_view, const nlohmann::json&) override { return false; }
  void close() override {}
  bool closed() const override { return true; }
  void on_close(std::function<void()> callback) override { callback(); }
};

class SessionReply : public Reply::Sink {
 public:
  explicit SessionReply(std::shared_ptr<Session> s) : session_(std::move(s)) {}
  ~SessionReply() override {
    if (!used_.exchange(true)) {
      log::error("an async handler dropped its reply without answering");
      auto s = session_;
      net::post(s->executor(), [s] {
        s->write_response(Response::json_error(500, "internal error: no response"));
      });
    }
  }
  void send(Response response) override {
    if (used_.exchange(true)) return;
    auto s = session_;
    net::post(s->executor(), [s, r = std::move(response)]() mutable { s->write_response(std::move(r)); });
  }
  std::shared_ptr<EventStream> start_event_stream(EventStreamOptions options) override {
    if (used_.exchange(true)) return std::make_shared<ClosedStream>();
    return session_->start_events(std::move(options));
  }

 private:
  std::shared_ptr<Session> session_;
  std::atomic<bool> used_{false};
};

void Session::do_read_header() {
  if (server_->stopping) return do_close();
  state_ = State::reading;
  req_.reset();
  body_parser_.reset();
  header_parser_.emplace();
  header_parser_->header_limit(static_cast<std::uint32_t>(server_->limits.header_limit));
  // Each route has its own body limit, applied once the route is known.
  header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // (boost::none misbehaves in Beast 1.74)
  logged_ = false;
  quiet_success_ = false;
  close_after_ = false;
  stream_.tcp().expires_after(first_request_ ? server_->limits.header_timeout : server_->limits.keep_alive_timeout);
  bhttp::async_read_header(stream_, buffer_, *header_parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(beast::error_code ec) {
  started_ = Clock::now();
  first_request_ = false;
  if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted ||
      ec == beast::error::timeout || ec == net::error::connection_reset)
    return do_close();
  req_ = std::make_shared<Request>();
  req_->remote_addr = remote_;
  req_->secure = stream_.is_tls();
  if (ec == bhttp::error::header_limit) return reply_error_and_close(431, "request header too large");
  if (ec == bhttp::error::body_limit) return reply_error_and_close(413, "request body too large");
  if (ec) {
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category())
      return reply_error_and_close(400, "malformed HTTP request");
    return do_close();
  }

  const auto& msg = header_parser_->get();
  Request& req = *req_;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.version = msg.version();
  req.keep_alive = msg.keep_alive();
  for (const auto& f : msg) req.headers.add(std::string(f.name_string()), std::string(f.value()));
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);

  if (kind_ == ListenerKind::redirect) {
    std::string host = req.header("Host").value_or("localhost");
    if (host.size() && host.front() == '[') {
      host = host.substr(0, host.find(']') + 1);
    } else if (auto colon = host.find(':'); colon != std::string::npos) {
      host = host.substr(0, colon);
    }
    std::string port = https_port_ == 443 ? "" : ":" + std::to_string(https_port_);
    close_after_ = true;
    return write_response(Response::redirect("https://" + host + port + req.target, 301));
  }

  if (req.path.empty() || req.path.front() != '/') return reply_error_and_close(400, "malformed request target");

  auto config = server_->app.config();
  apply_trusted_forwarding(req, config->http_trusted_proxies);
  std::string base = config->base_url.empty() ? "/" : config->base_url;
  if (base.back() != '/') base += '/';
  if (base != "/") {
    if (req.path + "/" == base) {
      req.local_path = "/";
      return write_response(Response::redirect(base));
    }
    if (req.path.rfind(base, 0) != 0) {
      req.local_path = req.path;
      return write_response(server_->app.error_response(req, 404, "not found"));
    }
    req.local_path = "/" + req.path.substr(base.size());
  } else {
    req.local_path = req.path;
  }

  auto match = server_->app.router().match(req.method, req.local_path);
  if (!match.route) {
    if (match.method_not_allowed) {
      auto r = server_->app.error_response(req, 405, "method " + req.method + " not allowed here");
      r.headers.set("Allow", match.allowed);
      return write_response(std::move(r));
    }
    return write_response(server_->app.error_response(req, 404, "not found"));
  }
  req.params = std::move(match.params);
  req.rest = std::move(match.rest);

  if (auto* takeover = std::get_if<TakeoverHandler>(&match.route->handler)) {
    state_ = State::takeover;
    stream_.tcp().expires_never();
    try {
      (*takeover)(shared_from_this());
    } catch (const std::exception& e) {
      log::error(std::string("take-over handler failed: ") + e.what());
      close_after_ = true;
      takeover_shutdown_.clear();
      state_ = State::busy;
      write_response(Response::json_error(500, "internal error"));
    }
    return;
  }
  read_body(*match.route);
}

void Session::read_body(const Route& route) {
  state_ = State::busy;
  auto length = header_parser_->content_length();
  bool chunked = header_parser_->chunked();
  if (length && *length > route.options.body_limit)
    return reply_error_and_close(413, "request body too large (limit " + std::to_string(route.options.body_limit) + " bytes)");
  if (header_parser_->is_done() || (!chunked && (!length || *length == 0))) return dispatch(route);

  auto start_read = [self = shared_from_this(), &route] {
    self->body_parser_.emplace(std::move(*self->header_parser_));
    self->body_parser_->body_limit(route.options.body_limit);
    self->stream_.tcp().expires_after(route.options.body_timeout);
    bhttp::async_read(self->stream_, self->buffer_, *self->body_parser_,
                      [self, &route](beast::error_code ec, std::size_t) {
                        if (ec == bhttp::error::body_limit)
                          return self->reply_error_and_close(
                              413, "request body too large (limit " + std::to_string(route.options.body_limit) + " bytes)");
                        if (ec == beast::error::timeout) return self->reply_error_and_close(408, "request body timed out");
                        if (ec) {
                          if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category())
                            return self->reply_error_and_close(400, "malformed request body");
                          return self->do_close();
                        }
                        self->req_->body = std::move(self->body_parser_->get().body());
                        self->dispatch(route);
                      });
  };
  auto expect = req_->header("Expect");
  if (expect && beast::iequals(*expect, "100-continue")) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.tcp().expires_after(server_->limits.write_timeout);
    net::async_write(stream_, net::buffer(kContinue),
                     [self = shared_from_this(), start_read](beast::error_code ec, std::size_t) {
                       if (ec) return self->do_close();
                       start_read();
                     });
    return;
  }
  start_read();
}

void Session::dispatch(const Route& route) {
  state_ = State::busy;
  auto self = shared_from_this();
  if (auto* sync = std::get_if<SyncHandler>(&route.handler)) {
    server_->app.pool().post([self, handler = *sync] {
      Response r;
      Request& req = *self->req_;
      try {
        r = handler(req);
      } catch (const HttpError& e) {
        r = self->hub_app().error_response(req, e);
      } catch (const std::exception& e) {
        log::error("handler for " + req.method + " " + req.local_path + " failed: " + e.what());
        r = self->hub_app().error_response(req, 500, "internal error");
      }
      net::post(self->executor(), [self, r = std::move(r)]() mutable { self->write_response(std::move(r)); });
    });
    return;
  }
  const auto& async = std::get<AsyncHandler>(route.handler);
  auto reply = Reply(std::make_shared<SessionReply>(self));
  try {
    async(req_, reply);
  } catch (const HttpError& e) {
    reply(server_->app.error_response(*req_, e));
  } catch (const std::exception& e) {
    log::error("handler for " + req_->method + " " + req_->local_path + " failed: " + e.what());
    reply(server_->app.error_response(*req_, 500, "internal error"));
  }
}

void Session::reply_error_and_close(int status, std::string_view message) {
  close_after_ = true;
  state_ = State::busy;
  if (!req_) {
    req_ = std::make_shared<Request>();
    req_->remote_addr = remote_;
  }
  write_response(server_->app.error_response(*req_, status, message));
}

void Session::write_response(Response r) {
  if (state_ == State::closed || state_ == State::events) return;
  state_ = State::busy;
  auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
  res->result(static_cast<unsigned>(r.status));
  res->version(req_ ? req_->version : 11);
  for (const auto& [k, v] : r.headers.items()) res->insert(k, v);
  if (!r.headers.has("Content-Type") && !r.body.empty()) res->set(bhttp::field::content_type, "text/plain; charset=utf-8");
  if (!r.headers.has("X-Content-Type-Options")) res->set("X-Content-Type-Options", "nosniff");
  bool keep_alive = req_ && req_->keep_alive && !close_after_ && !server_->stopping && kind_ != ListenerKind::redirect;
  res->keep_alive(keep_alive);
  bool head = req_ && req_->method == "HEAD";
  res->body() = std::move(r.body);
  res->prepare_payload();
  if (head) res->body().clear();  // Content-Length keeps the GET size
  int status = r.status;
  stream_.tcp().expires_after(server_->limits.write_timeout);
  bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive, status](beast::error_code ec, std::size_t) {
    self->on_write(ec, keep_alive, status);
  });
}

void Session::on_write(beast::error_code ec, bool keep_alive, int status) {
  log_request(status);
  if (ec || !keep_alive) return do_close();
  do_read_header();
}

std::shared_ptr<EventStream> Session::start_events(EventStreamOptions options) {
  auto stream = std::make_shared<SseStream>(shared_from_this(), std::move(options));
  net::post(executor(), [self = shared_from_this(), stream] {
    if (self->state_ == State::closed) return stream->shut();
    self->state_ = State::events;
    self->events_ = stream;
    if (self->server_->stopping) {
      stream->begin();
      stream->close();
      return;
    }
    stream->begin();
  });
  return stream;
}

void Session::events_closed() {
  log_request(200);
  do_close();
}

void Session::log_request(int status) {
  if (logged_ || !req_) return;
  logged_ = true;
  if (quiet_success_ && status != 101 && status < 400) return;
  std::string who = req_->log_user.empty() ? "" : req_->log_user;
  log::info(std::to_string(status) + " " + req_->method + " " + log::redact_target(req_->target) + " (" + who + "@" +
            req_->remote_addr + ") " + format_ms(Clock::now() - started_));
}

void Session::do_close() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  takeover_shutdown_.clear();
  if (auto* tls = stream_.tls(); tls && !server_->stopping) {
    // Say close_notify, but do not wait long for the peer's (idle clients never answer).
    stream_.tcp().expires_after(std::chrono::seconds(1));
    tls->async_shutdown([self = shared_from_this()](beast::error_code) { self->stream_.tcp().close(); });
    return;
  }
  beast::error_code ec;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.tcp().close();
}

void Session::on_server_shutdown() {
  switch (state_) {
    case State::reading:
      do_close();
      break;
    case State::events:
      if (auto s = events_.lock()) s->close();
      break;
    case State::takeover: {
      auto callbacks = std::move(takeover_shutdown_);
      takeover_shutdown_.clear();
      if (callbacks.empty()) {
        log_request(499);
        state_ = State::busy;
        do_close();
      }
      for (auto& cb : callbacks) {
        try {
          cb();
        } catch (const std::exception& e) {
          log::error(std::string("take-over shutdown callback failed: ") + e.what());
        }
      }
      break;
    }
    case State::busy:  // keep-alive is refused after the response
    case State::closed:
      break;
  }
}

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(std::shared_ptr<Server::Impl> server, tcp::endpoint endpoint, ListenerKind kind, int https_port)
      : server_(std::move(server)), acceptor_(server_->ioc), kind_(kind), https_port_(https_port), retry_(server_->ioc) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor_.set_option(net::ip::v6_only(false), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                               std::to_string(endpoint.port()) + ": " + ec.message());
  }

  int port() const { return acceptor_.local_endpoint().port(); }

  void start() { do_accept(); }
  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->retry_.cancel();
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(server_->next_executor(),
                           [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open() || server_->stopping) return;
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning.
      log::warning("accept failed: " + ec.message());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e) self->do_accept();
      });
      return;
    }
    if (server_->connections >= server_->limits.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      // Responses and relayed bytes go out as they are written: no Nagle delay.
      beast::error_code nodelay_ec;
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      std::make_shared<Session>(server_, std::move(socket), kind_, https_port_)->start();
    }
    do_accept();
  }

  std::shared_ptr<Server::Impl> server_;
  tcp::acceptor acceptor_;
  ListenerKind kind_;
  int https_port_;
  net::steady_timer retry_;
};

tcp::endpoint make_endpoint(const std::string& address, int port) {
  if (port < 0 || port > 65535) throw std::runtime_error("invalid port " + std::to_string(port));
  beast::error_code ec;
  auto addr = address.empty() ? net::ip::address(net::ip::address_v6::any()) : net::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("invalid listen address '" + address + "': " + ec.message());
  return {addr, static_cast<unsigned short>(port)};
}

}  // namespace

void Server::Impl::shutdown(std::chrono::seconds grace) {
  if (stopping.exchange(true)) return;
  log::info("shutting down: no new connections; finishing requests in flight");
  for (auto& close : close_listeners) close();
  if (signals) {
    beast::error_code ec;
    signals->cancel(ec);
  }
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mutex);
    for (auto& [p, w] : sessions)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) net::post(s->executor(), [s] { s->on_server_shutdown(); });
  if (live.empty()) {
    net::post(ioc, [self = shared_from_this()] { self->stop_contexts(); });
    return;
  }
  grace_timer.emplace(ioc);
  grace_timer->expires_after(grace);
  grace_timer->async_wait([this](beast::error_code ec) {
    if (ec) return;
    log::warning("shutdown grace period over; closing the remaining connections");
    stop_contexts();
  });
}

Server::Server(App& app, ServerLimits limits) : impl_(std::make_shared<Impl>(app, limits)) {}

Server::~Server() = default;

namespace {
// "" means every interface: IPv6 dual-stack where the machine has IPv6, else IPv4.
std::shared_ptr<Listener> make_listener(const std::shared_ptr<Server::Impl>& impl, const std::string& address,
                                        int port, ListenerKind kind, int https_port) {
  if (address.empty()) {
    try {
      return std::make_shared<Listener>(impl, make_endpoint("", port), kind, https_port);
    } catch (const std::runtime_error&) {
      return std::make_shared<Listener>(impl, make_endpoint("0.0.0.0", port), kind, https_port);
    }
  }
  return std::make_shared<Listener>(impl, make_endpoint(address, port), kind, https_port);
}
}  // namespace

int Server::listen_http(const std::string& address, int port) {
  auto l = make_listener(impl_, address, port, ListenerKind::plain, 0);
  impl_->listeners.push_back(l);
  impl_->close_listeners.push_back([l] { l->close(); });
  l->start();
  return l->port();
}

int Server::listen_https(const std::string& address, int port, const std::string& cert_file,
                         const std::string& key_file) {
  if (!impl_->tls_ctx) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    beast::error_code ec;
    ctx->use_certificate_chain_file(cert_file, ec);
    if (ec) throw std::runtime_error("cannot load the TLS certificate " + cert_file + ": " + ec.message());
    ctx->use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot load the TLS key " + key_file + ": " + ec.message());
    impl_->tls_ctx = std::move(ctx);
  }
  auto l = make_listener(impl_, address, port, ListenerKind::tls, 0);
  impl_->listeners.push_back(l);
  impl_->close_listeners.push_back([l] { l->close(); });
  l->start();
  return l->port();
}

int Server::listen_redirect_to_https(const std::string& address, int port, int https_port) {
  auto l = make_listener(impl_, address, port, ListenerKind::redirect, https_port);
  impl_->listeners.push_back(l);
  impl_->close_listeners.push_back([l] { l->close(); });
  l->start();
  return l->port();
}

void Server::handle_signals(std::function<void()> on_reload) {
  impl_->on_reload = std::move(on_reload);
  impl_->signals.emplace(impl_->ioc, SIGTERM, SIGINT, SIGHUP);
  struct Waiter {
    std::shared_ptr<Impl> impl;
    void operator()(beast::error_code ec, int sig) const {
      if (ec) return;
      if (sig == SIGHUP) {
        log::info("SIGHUP: reloading the configuration");
        auto i = impl;
        impl->app.pool().post([i] {
          if (i->on_reload) i->on_reload();
        });
        impl->signals->async_wait(*this);
        return;
      }
      log::info(sig == SIGTERM ? "SIGTERM received" : "SIGINT received");
      impl->shutdown(std::chrono::seconds(10));
    }
  };
  impl_->signals->async_wait(Waiter{impl_});
}

void Server::run(std::size_t threads) {
  if (threads == 0) threads = 1;
  auto& impl = *impl_;
  for (std::size_t i = 1; i < threads; ++i) {
    // One thread runs it; the default concurrency hint keeps posts from
    // different threads in the order they were made (see App::App).
    impl.extra_contexts.push_back(std::make_unique<net::io_context>());
    impl.extra_work.push_back(net::make_work_guard(*impl.extra_contexts.back()));
  }
  std::vector<std::thread> extra;
  for (auto& ctx : impl.extra_contexts) extra.emplace_back([c = ctx.get()] { c->run(); });
  impl.ioc.run();
  impl.stop_contexts();
  for (auto& t : extra) t.join();
  impl.extra_work.clear();
}

void Server::shutdown(std::chrono::seconds grace) {
  auto impl = impl_;
  net::post(impl->ioc, [impl, grace] { impl->shutdown(grace); });
}

}  // namespace hub::http
