#pragma once
// The take-over hook: a route registered with Router::add_takeover() gets the
// connection itself right after the request header was parsed, to do its own
// streaming I/O (the reverse proxy: request and response bodies of any size
// both ways, WebSocket upgrades; anything else that must not be buffered).
//
// Includes Boost.Beast: include this header only from the .cpp files that
// need it (compile time).
//
// Contract for a TakeoverHandler(std::shared_ptr<RawConnection> c):
//  * It runs on the connection's executor (its I/O thread: each connection
//    stays on one thread, and its handlers never run concurrently);
//    c->stream().get_executor() is that executor, so completion handlers of
//    operations on the stream, and of sockets created on it, run there.
//    Post results of blocking work back with net::post(c->stream().get_executor(), ...).
//  * The request header is parsed: c->request() (hub view, with the route's
//    params/rest filled) and c->parser() (Beast's header-only parser; build a
//    body parser from it with http::request_parser<Body>(std::move(c->parser())),
//    or read the raw bytes).  Bytes already received past the header are in
//    c->buffer(): consume them before reading the socket.
//  * No timeout is armed when the handler starts: arm your own with
//    c->stream().tcp().expires_after(...) before each operation.  Beast keeps
//    separate read and write timers; expires_after() only changes the timer
//    of a direction with no operation pending (so a long pending read with
//    expires_never() survives an expires_after() armed for a write).
//  * The handler owns the socket until it calls exactly one of
//      - c->finish(keep_alive, status): the exchange is complete (request body
//        consumed, response fully written).  With keep_alive the hub reads
//        the next request on this connection, else it closes it.
//      - c->respond(response): answer with an ordinary hub response (401,
//        403, 502 page...).  The connection is closed afterwards when the
//        request body was not consumed.
//    Keep a shared_ptr to c in every pending handler (the usual
//    shared_from_this discipline); the connection dies with the last one.
//  * c->on_shutdown(fn): fn runs on the connection's executor when the hub stops gracefully
//    (close your upstream side and the client stream there).  Otherwise the
//    socket is closed for you at the end of the shutdown grace period.
//  * One request log line is written at finish() with the status you pass;
//    after c->log_failures_only() only when that status is 101 or >= 400
//    (routes that carry much traffic, like the proxy).
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "http/handler.hpp"

namespace hub {
class App;
}

namespace hub::http {

namespace beast = boost::beast;
namespace net = boost::asio;

// A TCP stream, optionally under TLS, chosen at run time: one non-template
// type for the hub's code, usable with every Beast/Asio algorithm
// (http::async_read, net::async_write, ...).  Handlers complete on the
// stream's executor (the connection's I/O thread).
class FlexStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  using tls_stream = beast::ssl_stream<beast::tcp_stream>;

  explicit FlexStream(beast::tcp_stream&& plain) : plain_(std::in_place, std::move(plain)) {}
  FlexStream(beast::tcp_stream&& plain, net::ssl::context& ctx) : tls_(std::in_place, std::move(plain), ctx) {}

  executor_type get_executor() { return tcp().get_executor(); }
  beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  bool is_tls() const { return tls_.has_value(); }
  tls_stream* tls() { return tls_ ? &*tls_ : nullptr; }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<ReadHandler>(handler));
    return plain_->async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<WriteHandler>(handler));
    return plain_->async_write_some(buffers, std::forward<WriteHandler>(handler));
  }

 private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<tls_stream> tls_;
};

class RawConnection {
 public:
  virtual ~RawConnection() = default;
  virtual FlexStream& stream() = 0;
  virtual beast::flat_buffer& buffer() = 0;
  virtual beast::http::request_parser<beast::http::empty_body>& parser() = 0;
  virtual Request& request() = 0;
  // The same request, shared: stays valid after finish()/respond().
  virtual std::shared_ptr<Request> shared_request() = 0;
  virtual App& app() = 0;
  virtual void finish(bool keep_alive, int status_for_log) = 0;
  virtual void respond(Response response) = 0;
  virtual void on_shutdown(std::function<void()> callback) = 0;
  // This request's log line is written only for status 101 or >= 400.
  virtual void log_failures_only() = 0;
};

}  // namespace hub::http
