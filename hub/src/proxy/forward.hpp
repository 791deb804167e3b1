#pragma once
// One proxied exchange: a client request whose header has been parsed goes
// to a user server on 127.0.0.1, and the response comes back — bodies
// streamed both ways in 64 KiB pieces (never held whole), WebSocket upgrades
// relayed byte for byte in both directions until either side closes.
//
// (Body limits are set to the largest value rather than boost::none: in
// Boost 1.74 an empty optional limit rejects every body with a length.)
//
// Runs entirely on the client stream's executor (the connection's strand):
// the upstream socket is created on it, so no handler of one exchange runs
// concurrently with another.  The `owner` keeps the client connection alive
// until `done` has run.  Include only from proxy sources (Beast).
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "proxy/backend_pool.hpp"
#include "proxy/backend_pool_io.hpp"
#include "proxy/headers.hpp"

namespace hub::proxy {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// How to reach the TCP layer of a client stream type (for timeouts and
// closing).  Specialise for other stream types before instantiating forward().
template <class Stream>
struct ClientTcp;
//   get(s):   the tcp_stream under it;
//   plain(s): true when bytes on that socket are the client's bytes (no TLS),
//             so a WebSocket relay may use the socket directly.
template <>
struct ClientTcp<beast::tcp_stream> {
  static beast::tcp_stream& get(beast::tcp_stream& s) { return s; }
  static bool plain(beast::tcp_stream&) { return true; }
};

struct ForwardOptions {
  int port = 0;
  UpstreamContext upstream;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds response_timeout{300};  // until the response header arrives
  std::chrono::seconds io_timeout{120};        // per body piece, either direction
  std::chrono::seconds websocket_idle{900};    // no byte either way: closed
  std::function<void()> on_activity;           // at most once a second per exchange
};

struct ForwardResult {
  int status = 0;           // the status the client got (or should get, when !responded)
  bool responded = false;   // a response header reached the client
  bool keep_alive = false;  // the client connection may carry another request
  bool upgraded = false;    // a WebSocket was relayed (and has ended)
  std::string error;        // what went wrong, for the log; "" on success
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
};

template <class ClientStream>
class Exchange : public std::enable_shared_from_this<Exchange<ClientStream>> {
 public:
  using Done = std::function<void(ForwardResult)>;
  static constexpr std::size_t kBodyPiece = 64 * 1024;
  static constexpr std::size_t kSplicePiece = 16 * 1024;
  static constexpr std::size_t kFirstRead = 16 * 1024;
  static constexpr int kReadsPerWake = 8;  // plain relay: full pieces read in one turn before yielding
  static constexpr auto kWatchdogTick = std::chrono::seconds(1);  // relay: activity and idleness

  Exchange(std::shared_ptr<void> owner, ClientStream& client, beast::flat_buffer& client_buffer,
           http::request_parser<http::empty_body>& parser, BackendPool& pool, ForwardOptions options, Done done)
      : owner_(std::move(owner)),
        client_(client),
        client_buffer_(client_buffer),
        parser_(parser),
        pool_(pool),
        options_(std::move(options)),
        done_(std::move(done)),
        upstream_(client.get_executor()),
        watchdog_(client.get_executor()) {}

  void start() {
    const auto& req = parser_.get();
    websocket_ = beast::websocket::is_upgrade(req);
    has_body_ = !parser_.is_done();
    head_ = req.method() == http::verb::head;
    client_version_ = req.version();
    client_keep_alive_ = parser_.keep_alive();
    expect_continue_ = has_body_ && beast::iequals(req[http::field::expect], "100-continue");
    make_upstream_request(req, up_req_.base(), options_.upstream, websocket_);
    if (parser_.chunked()) up_req_.chunked(true);
    activity(true);
    // Requests without a body may go on an idle connection of this thread
    // (one that fails before answering is retried once on a fresh one).
    if (!has_body_ && !websocket_) {
      if (auto idle = take_idle(pool_, upstream_.get_executor(), options_.port, options_.upstream.token)) {
        upstream_.socket() = std::move(*idle);
        reused_ = true;
        return send_request();
      }
    }
    connect();
  }

 private:
  using Self = Exchange<ClientStream>;
  beast::tcp_stream& client_tcp() { return ClientTcp<ClientStream>::get(client_); }

  void activity(bool force = false) {
    if (!options_.on_activity) return;
    auto now = std::chrono::steady_clock::now();
    if (force || now - last_activity_note_ >= std::chrono::seconds(1)) {
      last_activity_note_ = now;
      options_.on_activity();
    }
  }

  void connect() {
    reused_ = false;
    upstream_.expires_after(options_.connect_timeout);
    upstream_.async_connect(tcp::endpoint(net::ip::address_v4::loopback(), static_cast<unsigned short>(options_.port)),
                            [self = this->shared_from_this()](beast::error_code ec) {
                              if (ec) return self->fail_early(502, "connect: " + ec.message());
                              self->upstream_.socket().set_option(tcp::no_delay(true), ec);
                              self->send_request();
                            });
  }

  void send_request() {
    serializer_.emplace(up_req_);
    if (!has_body_) {
      up_req_.body().data = nullptr;
      up_req_.body().more = false;
      upstream_.expires_after(options_.io_timeout);
      http::async_write(upstream_, *serializer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return self->upstream_failed_early(ec, "write request");
        self->read_response_header();
      });
      return;
    }
    if (expect_continue_) {
      client_tcp().expires_after(options_.io_timeout);
      net::async_write(client_, net::buffer(kContinue, sizeof kContinue - 1),
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec) return self->fail_early(0, "write 100 Continue: " + ec.message(), true);
                         self->write_request_header();
                       });
      return;
    }
    write_request_header();
  }

  // The header goes out together with the first piece of the body.
  void write_request_header() {
    body_parser_.emplace(std::move(parser_));
    body_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    up_piece_.reset(new char[kBodyPiece]);
    relay_request_body();
  }

  void relay_request_body() {
    if (body_parser_->is_done()) {
      up_req_.body().data = nullptr;
      up_req_.body().more = false;
      upstream_.expires_after(options_.io_timeout);
      http::async_write(upstream_, *serializer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return self->fail_early(502, "finish request body: " + ec.message(), true);
        self->read_response_header();
      });
      return;
    }
    body_parser_->get().body().data = up_piece_.get();
    body_parser_->get().body().size = kBodyPiece;
    client_tcp().expires_after(options_.io_timeout);
    http::async_read(client_, client_buffer_, *body_parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec == http::error::need_buffer) ec = {};
                       if (ec) return self->fail_early(400, "read request body: " + ec.message(), true);
                       auto n = kBodyPiece - self->body_parser_->get().body().size;
                       bool last = self->body_parser_->is_done();
                       self->result_.bytes_up += n;
                       self->activity();
                       self->up_req_.body().data = self->up_piece_.get();
                       self->up_req_.body().size = n;
                       self->up_req_.body().more = !last;
                       self->upstream_.expires_after(self->options_.io_timeout);
                       http::async_write(self->upstream_, *self->serializer_,
                                         [self, last](beast::error_code ec, std::size_t) {
                                           if (ec == http::error::need_buffer) ec = {};
                                           if (ec) return self->fail_early(502, "write request body: " + ec.message(), true);
                                           if (last) return self->read_response_header();
                                           self->relay_request_body();
                                         });
                     });
  }

  void read_response_header() {
    res_parser_.emplace();
    res_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    res_parser_->header_limit(64 * 1024);
    if (head_) res_parser_->skip(true);
    // Room for a header and a small body in one read (an empty flat_buffer reads 512 bytes at a time).
    if (up_buffer_.capacity() == 0) up_buffer_.reserve(kFirstRead);
    upstream_.expires_after(options_.response_timeout);
    http::async_read_header(upstream_, up_buffer_, *res_parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->upstream_failed_early(ec, "read response header");
                              auto code = self->res_parser_->get().result_int();
                              if (code >= 100 && code < 200 && code != 101) return self->read_response_header();
                              self->on_response_header();
                            });
  }

  // A reused keep-alive connection the server closed meanwhile: retry once
  // on a fresh one (only for requests without a body, which can be resent).
  void upstream_failed_early(beast::error_code ec, const char* what) {
    bool stale = ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
                 ec == net::error::broken_pipe || ec == http::error::partial_message;
    if (reused_ && !has_body_ && stale && !retried_) {
      retried_ = true;
      beast::error_code ignored;
      upstream_.socket().close(ignored);
      return connect();
    }
    bool timeout = ec == beast::error::timeout;
    fail_early(timeout ? 504 : 502, std::string(what) + ": " + ec.message(), has_body_);
  }

  void on_response_header() {
    auto& r = res_parser_->get();
    result_.status = r.result_int();
    activity();
    if (websocket_ && r.result() == http::status::switching_protocols) return accept_upgrade();
    make_client_response(r.base(), res_.base());
    bool until_close = !res_parser_->is_done() && !res_parser_->content_length() && !res_parser_->chunked();
    if (!res_parser_->is_done() && !res_parser_->content_length()) {
      if (client_version_ >= 11) res_.chunked(true);
      else client_keep_alive_ = false;
    }
    if (until_close) upstream_keep_alive_ = false;
    if (websocket_) client_keep_alive_ = false;  // a refused upgrade: do not guess what follows
    res_.keep_alive(client_keep_alive_);
    res_serializer_.emplace(res_);
    // A small answer of known length needs a small piece, not 64 KiB.
    auto length = res_parser_->content_length();
    down_size_ = length && *length < kBodyPiece ? std::max<std::size_t>(static_cast<std::size_t>(*length), 1) : kBodyPiece;
    down_piece_.reset(new char[down_size_]);
    relay_response_body();
  }

  // The header goes out with the first piece of the body (a small answer is
  // one write), then piece after piece.
  void relay_response_body() {
    if (res_parser_->is_done()) {
      res_.body().data = nullptr;
      res_.body().more = false;
      return write_response_piece(true);
    }
    res_parser_->get().body().data = down_piece_.get();
    res_parser_->get().body().size = down_size_;
    upstream_.expires_after(options_.io_timeout);
    http::async_read(upstream_, up_buffer_, *res_parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec == http::error::need_buffer) ec = {};
                       if (ec) {
                         if (!self->result_.responded)
                           return self->fail_early(ec == beast::error::timeout ? 504 : 502,
                                                   "read response body: " + ec.message(), self->has_body_);
                         return self->fail_late("read response body: " + ec.message());
                       }
                       auto n = self->down_size_ - self->res_parser_->get().body().size;
                       bool last = self->res_parser_->is_done();
                       self->result_.bytes_down += n;
                       self->activity();
                       self->res_.body().data = self->down_piece_.get();
                       self->res_.body().size = n;
                       self->res_.body().more = !last;
                       self->write_response_piece(last);
                     });
  }

  void write_response_piece(bool last) {
    if (last) release_upstream();
    result_.responded = true;  // from here on the client may have part of an answer
    client_tcp().expires_after(options_.io_timeout);
    http::async_write(client_, *res_serializer_, [self = this->shared_from_this(), last](beast::error_code ec, std::size_t) {
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return self->fail_late("write response: " + ec.message());
      if (last) return self->complete();
      self->relay_response_body();
    });
  }

  // The whole response is read: the upstream connection can serve another
  // request now, while the last piece is still on its way to the client.
  void release_upstream() {
    if (released_) return;
    released_ = true;
    if (upstream_keep_alive_ && res_parser_->keep_alive() && res_parser_->is_done() && up_buffer_.size() == 0) {
      upstream_.expires_never();
      give_idle(pool_, std::move(upstream_.socket()), options_.port, options_.upstream.token);
    }
  }

  void complete() {
    release_upstream();
    result_.keep_alive = client_keep_alive_;
    finish();
  }

  // --- WebSocket ---

  void accept_upgrade() {
    upgrade_res_.emplace();
    make_client_response(res_parser_->get().base(), upgrade_res_->base());
    client_tcp().expires_after(options_.io_timeout);
    http::async_write(client_, *upgrade_res_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail_late("write 101: " + ec.message());
      self->result_.responded = true;
      self->result_.upgraded = true;
      self->start_splice();
    });
  }

  void start_splice() {
    client_plain_ = ClientTcp<ClientStream>::plain(client_);
    client_tcp().expires_never();
    upstream_.expires_never();
    if (client_plain_) {
      // The plain relay reads and writes without the reactor when it can:
      // synchronous calls must answer would_block rather than wait.
      beast::error_code ec;
      client_tcp().socket().non_blocking(true, ec);
      if (!ec) upstream_.socket().non_blocking(true, ec);
      if (ec) client_plain_ = false;
    }
    last_byte_ = std::chrono::steady_clock::now();
    arm_watchdog();
    up_piece_.reset(new char[kSplicePiece]);
    down_piece_.reset(new char[kSplicePiece]);
    splices_ = 2;
    // Bytes that arrived with the headers go first.
    auto self = this->shared_from_this();
    if (client_buffer_.size() > 0) {
      net::async_write(upstream_, client_buffer_.data(), [self](beast::error_code ec, std::size_t n) {
        self->client_buffer_.consume(n);
        self->result_.bytes_up += n;
        if (ec) return self->splice_ended();
        self->pump_up();
      });
    } else {
      pump_up();
    }
    if (up_buffer_.size() > 0) {
      net::async_write(client_, up_buffer_.data(), [self](beast::error_code ec, std::size_t n) {
        self->up_buffer_.consume(n);
        self->up_buffer_.shrink_to_fit();
        self->result_.bytes_down += n;
        if (ec) return self->splice_ended();
        self->pump_down();
      });
    } else {
      up_buffer_.shrink_to_fit();  // the relay has its own pieces: no memory held per WebSocket
      pump_down();
    }
  }

  // The relay loops use the sockets themselves where they can.  Bytes are
  // only counted per piece; the watchdog turns a changed count into
  // "activity" and "last byte" (no clock read per message).
  void pump_up() {
    if (client_plain_) return relay_plain(true);
    client_.async_read_some(net::buffer(up_piece_.get(), kSplicePiece),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->splice_ended();
                              self->result_.bytes_up += n;
                              net::async_write(self->upstream_.socket(), net::buffer(self->up_piece_.get(), n),
                                               [self](beast::error_code ec, std::size_t) {
                                                 if (ec) return self->splice_ended();
                                                 self->pump_up();
                                               });
                            });
  }

  void pump_down() {
    if (client_plain_) return relay_plain(false);
    upstream_.socket().async_read_some(
        net::buffer(down_piece_.get(), kSplicePiece),
        [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) return self->splice_ended();
          self->result_.bytes_down += n;
          net::async_write(self->client_, net::buffer(self->down_piece_.get(), n),
                           [self](beast::error_code ec, std::size_t) {
                             if (ec) return self->splice_ended();
                             self->pump_down();
                           });
        });
  }

  // A plain relay direction (`up`: client → server).  A piece costs one
  // recv and one send, plus, when the socket was empty, the wait for the
  // next (a recv that finds nothing, then the reactor's wake-up).  The send
  // is made at once, without the reactor; only what the peer cannot take
  // yet waits for it (async_write).  Full pieces are read on in the same
  // turn, a few at a time, so a busy stream needs fewer wake-ups.
  void relay_plain(bool up) {
    auto& from = up ? client_tcp().socket() : upstream_.socket();
    char* piece = up ? up_piece_.get() : down_piece_.get();
    from.async_read_some(net::buffer(piece, kSplicePiece),
                         [self = this->shared_from_this(), up](beast::error_code ec, std::size_t n) {
                           if (ec) return self->splice_ended();
                           self->relay_plain_pieces(up, n);
                         });
  }

  void relay_plain_pieces(bool up, std::size_t n) {
    auto& from = up ? client_tcp().socket() : upstream_.socket();
    auto& to = up ? upstream_.socket() : client_tcp().socket();
    char* piece = up ? up_piece_.get() : down_piece_.get();
    auto& bytes = up ? result_.bytes_up : result_.bytes_down;
    for (int reads = 1;; ++reads) {
      bytes += n;
      beast::error_code ec;
      std::size_t sent = to.write_some(net::buffer(piece, n), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) {
        sent = 0;
        ec = {};
      }
      if (ec) return splice_ended();
      if (sent < n) {
        net::async_write(to, net::buffer(piece + sent, n - sent),
                         [self = this->shared_from_this(), up](beast::error_code ec, std::size_t) {
                           if (ec) return self->splice_ended();
                           self->relay_plain(up);
                         });
        return;
      }
      // A piece that was not full emptied the socket: wait for the next.
      if (n < kSplicePiece || reads >= kReadsPerWake) break;
      n = from.read_some(net::buffer(piece, kSplicePiece), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) break;
      if (ec) return splice_ended();
    }
    relay_plain(up);
  }

  // Every tick: bytes moved since the last one count as activity; none for
  // websocket_idle closes the relay.
  void arm_watchdog() {
    watchdog_.expires_after(kWatchdogTick);
    watchdog_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->splices_ == 0) return;
      auto moved = self->result_.bytes_up + self->result_.bytes_down;
      auto now = std::chrono::steady_clock::now();
      if (moved != self->bytes_at_tick_) {
        self->bytes_at_tick_ = moved;
        self->last_byte_ = now;
        self->activity(true);
      } else if (now - self->last_byte_ > self->options_.websocket_idle) {
        self->close_both();
        return;
      }
      self->arm_watchdog();
    });
  }

  void close_both() {
    beast::error_code ignored;
    upstream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    upstream_.socket().close(ignored);
    client_tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    client_tcp().socket().close(ignored);
  }

  // Either direction ended: the WebSocket is over, both sides are closed.
  void splice_ended() {
    if (splices_ == 2) close_both();
    if (--splices_ > 0) return;
    watchdog_.cancel();
    if (result_.bytes_up + result_.bytes_down != bytes_at_tick_) activity(true);
    result_.keep_alive = false;
    finish();
  }

  // --- endings ---

  // Nothing was sent to the client yet: it gets an error response from the
  // caller.  `body_touched`: the request body may be partly consumed, so the
  // connection cannot carry another request.
  void fail_early(int status, std::string what, bool body_touched = false) {
    beast::error_code ignored;
    upstream_.socket().close(ignored);
    result_.status = status;
    result_.error = std::move(what);
    result_.keep_alive = client_keep_alive_ && !body_touched && !has_body_;
    finish();
  }

  // The response was under way: all the client can be told is a closed connection.
  void fail_late(std::string what) {
    beast::error_code ignored;
    upstream_.socket().close(ignored);
    result_.error = std::move(what);
    result_.keep_alive = false;
    finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    auto done = std::move(done_);
    if (done) done(std::move(result_));
  }

  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

  std::shared_ptr<void> owner_;
  ClientStream& client_;
  beast::flat_buffer& client_buffer_;
  http::request_parser<http::empty_body>& parser_;
  BackendPool& pool_;
  ForwardOptions options_;
  Done done_;
  beast::tcp_stream upstream_;
  net::steady_timer watchdog_;
  beast::flat_buffer up_buffer_;

  http::request<http::buffer_body> up_req_;
  std::optional<http::request_serializer<http::buffer_body>> serializer_;
  std::optional<http::request_parser<http::buffer_body>> body_parser_;
  std::optional<http::response_parser<http::buffer_body>> res_parser_;
  http::response<http::buffer_body> res_;
  std::optional<http::response_serializer<http::buffer_body>> res_serializer_;
  std::optional<http::response<http::empty_body>> upgrade_res_;
  std::unique_ptr<char[]> up_piece_;
  std::unique_ptr<char[]> down_piece_;

  ForwardResult result_;
  bool websocket_ = false;
  bool has_body_ = false;
  bool head_ = false;
  bool expect_continue_ = false;
  bool client_keep_alive_ = false;
  bool upstream_keep_alive_ = true;
  bool reused_ = false;
  bool retried_ = false;
  bool finished_ = false;
  bool released_ = false;
  bool client_plain_ = false;
  unsigned client_version_ = 11;
  int splices_ = 0;
  std::size_t down_size_ = kBodyPiece;
  std::uint64_t bytes_at_tick_ = 0;  // relay bytes both ways at the last watchdog tick
  std::chrono::steady_clock::time_point last_activity_note_{};
  std::chrono::steady_clock::time_point last_byte_{};
};

// Forwards the request whose header `parser` holds (bytes read past it are
// in `client_buffer`) and relays the response; `done` runs once, on the
// client's executor, with the outcome.  When !result.responded the caller
// answers the client (502/504...).
template <class ClientStream>
void forward(std::shared_ptr<void> owner, ClientStream& client, beast::flat_buffer& client_buffer,
             http::request_parser<http::empty_body>& parser, BackendPool& pool, ForwardOptions options,
             std::function<void(ForwardResult)> done) {
  std::make_shared<Exchange<ClientStream>>(std::move(owner), client, client_buffer, parser, pool, std::move(options),
                                           std::move(done))
      ->start();
}

}  // namespace hub::proxy
