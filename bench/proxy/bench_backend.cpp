// The small backend and the WebSocket load generator of bench/proxy.
//
//   bench_backend serve [--port N] [--ServerApp.port=N ...]
//       Answers every GET with 200 and a 1 KiB body (keep-alive), and echoes
//       every WebSocket message.  Prints "listening PORT" once bound.  Other
//       --ServerApp.* arguments are ignored, so the hub's spawner can run it
//       as a user server (spawner.cmd) and it answers the readiness probe.
//
//   bench_backend ws-load --port P --path /x --conns N --seconds S --size B [--window W] [--header "K: V"]...
//       N WebSocket connections, each sending a B-byte message and waiting
//       for its echo, in a loop, for S seconds.  With --window W (default 1)
//       each connection keeps W messages in flight: a new one goes out as
//       each echo comes back (a kernel streaming output is like this), so the
//       rate is bound by throughput rather than by one round trip.
//       Latency is from a message's send to its echo.  Prints one JSON line:
//       {"messages":..,"seconds":..,"rate":..,"p50_us":..,"p99_us":..,"errors":..}
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

const std::string kBody(1024, 'x');

class WsEcho : public std::enable_shared_from_this<WsEcho> {
 public:
  explicit WsEcho(beast::tcp_stream&& s) : ws_(std::move(s)) {}
  void run(http::request<http::string_body> req) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->read();
    });
  }

 private:
  void read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->ws_.text(self->ws_.got_text());
      self->ws_.async_write(self->buf_.data(), [self](beast::error_code ec, std::size_t) {
        if (ec) return;
        self->buf_.consume(self->buf_.size());
        self->read();
      });
    });
  }
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buf_;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  explicit HttpSession(tcp::socket s) : stream_(std::move(s)) {}
  void read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(120));
    http::async_read(stream_, buf_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (websocket::is_upgrade(self->req_)) {
        std::make_shared<WsEcho>(std::move(self->stream_))->run(std::move(self->req_));
        return;
      }
      auto res = std::make_shared<http::response<http::string_body>>(http::status::ok, self->req_.version());
      res->set(http::field::content_type, "text/plain");
      res->body() = kBody;
      res->keep_alive(self->req_.keep_alive());
      res->prepare_payload();
      http::async_write(self->stream_, *res, [self, res](beast::error_code ec, std::size_t) {
        if (ec || !res->keep_alive()) return;
        self->read();
      });
    });
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
};

void accept(tcp::acceptor& a) {
  a.async_accept([&a](beast::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true), ec);
      std::make_shared<HttpSession>(std::move(s))->read();
    }
    accept(a);
  });
}

int serve(int port) {
  net::io_context io(1);
  tcp::acceptor a(io, tcp::endpoint(net::ip::address_v4::loopback(), static_cast<unsigned short>(port)));
  std::cout << "listening " << a.local_endpoint().port() << std::endl;
  accept(a);
  io.run();
  return 0;
}

struct LoadResult {
  std::atomic<long> messages{0};
  std::atomic<long> errors{0};
};

class WsClient : public std::enable_shared_from_this<WsClient> {
 public:
  WsClient(net::io_context& io, int port, std::string path, std::vector<std::string> headers, std::size_t size,
           int window, std::chrono::steady_clock::time_point measure_from, std::chrono::steady_clock::time_point until,
           LoadResult& result, std::vector<long>& latencies)
      : ws_(io), port_(port), path_(std::move(path)), headers_(std::move(headers)), msg_(size, 'm'),
        window_(window), from_(measure_from), until_(until), result_(result), latencies_(latencies) {}

  void start() {
    beast::get_lowest_layer(ws_).async_connect(
        tcp::endpoint(net::ip::address_v4::loopback(), static_cast<unsigned short>(port_)),
        [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->fail();
          beast::get_lowest_layer(self->ws_).expires_never();
          self->ws_.set_option(websocket::stream_base::decorator([h = self->headers_](websocket::request_type& r) {
            for (const auto& line : h) {
              auto colon = line.find(':');
              if (colon == std::string::npos) continue;
              auto value = line.substr(colon + 1);
              while (!value.empty() && value.front() == ' ') value.erase(0, 1);
              r.set(line.substr(0, colon), value);
            }
          }));
          self->ws_.async_handshake("127.0.0.1", self->path_, [self](beast::error_code ec) {
            if (ec) return self->fail();
            if (self->window_ > 1) {
              self->pipelined_write();
              self->pipelined_read();
            } else {
              self->send();
            }
          });
        });
  }

 private:
  void fail() { ++result_.errors; }
  void send() {
    if (std::chrono::steady_clock::now() >= until_) {
      ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
      return;
    }
    sent_ = std::chrono::steady_clock::now();
    ws_.async_write(net::buffer(msg_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail();
      self->ws_.async_read(self->buf_, [self](beast::error_code ec, std::size_t) {
        if (ec) return self->fail();
        self->buf_.consume(self->buf_.size());
        auto now = std::chrono::steady_clock::now();
        if (now >= self->from_) {
          ++self->result_.messages;
          if (self->latencies_.size() < 2000000)
            self->latencies_.push_back(
                std::chrono::duration_cast<std::chrono::microseconds>(now - self->sent_).count());
        }
        self->send();
      });
    });
  }

  // --window W: one write and one read outstanding at a time (what a
  // websocket::stream allows), up to W messages sent and not yet echoed.
  void pipelined_write() {
    if (writing_ || closing_ || static_cast<int>(in_flight_.size()) >= window_) return;
    auto now = std::chrono::steady_clock::now();
    if (now >= until_) return finish_if_drained();
    writing_ = true;
    in_flight_.push_back(now);
    ws_.async_write(net::buffer(msg_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->fail();
      self->pipelined_write();
    });
  }

  void pipelined_read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (!self->closing_) self->fail();
        return;
      }
      self->buf_.consume(self->buf_.size());
      auto now = std::chrono::steady_clock::now();
      if (self->in_flight_.empty()) return self->fail();  // an echo nobody sent
      auto sent = self->in_flight_.front();
      self->in_flight_.pop_front();
      if (now >= self->from_ && sent >= self->from_ && now < self->until_) {
        ++self->result_.messages;
        if (self->latencies_.size() < 2000000)
          self->latencies_.push_back(std::chrono::duration_cast<std::chrono::microseconds>(now - sent).count());
      }
      self->pipelined_write();
      if (self->closing_) return;
      self->pipelined_read();
    });
  }

  // Past the end: every echo is in, then a clean close.
  void finish_if_drained() {
    if (closing_ || writing_ || !in_flight_.empty()) return;
    closing_ = true;
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<beast::tcp_stream> ws_;
  int port_;
  std::string path_;
  std::vector<std::string> headers_;
  std::string msg_;
  int window_ = 1;
  bool writing_ = false;
  bool closing_ = false;
  std::deque<std::chrono::steady_clock::time_point> in_flight_;
  std::chrono::steady_clock::time_point from_, until_, sent_;
  LoadResult& result_;
  std::vector<long>& latencies_;
  beast::flat_buffer buf_;
};

int ws_load(int port, const std::string& path, int conns, double seconds, std::size_t size, int window,
            const std::vector<std::string>& headers) {
  net::io_context io(1);
  LoadResult result;
  std::vector<long> latencies;
  auto now = std::chrono::steady_clock::now();
  auto warm = now + std::chrono::milliseconds(500);
  auto until = warm + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  for (int i = 0; i < conns; ++i)
    std::make_shared<WsClient>(io, port, path, headers, size, window, warm, until, result, latencies)->start();
  io.run();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) -> long {
    if (latencies.empty()) return 0;
    return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))];
  };
  std::printf("{\"messages\":%ld,\"seconds\":%.3f,\"rate\":%.1f,\"p50_us\":%ld,\"p99_us\":%ld,\"errors\":%ld}\n",
              result.messages.load(), seconds, result.messages.load() / seconds, pct(0.50), pct(0.99),
              result.errors.load());
  return result.errors.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "usage: bench_backend serve|ws-load ...\n";
    return 2;
  }
  std::string mode = args[0];
  int port = 0;
  std::string path = "/";
  int conns = 1;
  double seconds = 5;
  std::size_t size = 64;
  int window = 1;
  std::vector<std::string> headers;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : std::string(); };
    if (a.rfind("--ServerApp.port=", 0) == 0) port = std::stoi(a.substr(17));
    else if (a == "--port") port = std::stoi(next());
    else if (a == "--path") path = next();
    else if (a == "--conns") conns = std::stoi(next());
    else if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--size") size = std::stoul(next());
    else if (a == "--window") window = std::max(1, std::stoi(next()));
    else if (a == "--header") headers.push_back(next());
  }
  if (mode == "serve") return serve(port);
  if (mode == "ws-load") return ws_load(port, path, conns, seconds, size, window, headers);
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
