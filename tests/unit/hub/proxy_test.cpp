// The proxy engine between a real client and a real backend on loopback:
// header rewriting, bodies streamed both ways, keep-alive reuse of backend
// connections, WebSocket relay.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/backend_pool.hpp"
#include "proxy/forward.hpp"
#include "proxy/headers.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

const std::string kToken = "server-token-123";

// A user server stand-in: answers on loopback with what it saw.
class Backend {
 public:
  Backend() : acceptor_(io_, tcp::endpoint(net::ip::address_v4::loopback(), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~Backend() {
    stopping_ = true;
    beast::error_code ec;
    tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
    for (auto& t : sessions_) t.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void accept_loop() {
    for (;;) {
      tcp::socket s(io_);
      acceptor_.accept(s);
      if (stopping_) return;
      ++connections_;
      sessions_.emplace_back([this, s = std::move(s)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(tcp::socket s) {
    beast::flat_buffer buf;
    beast::error_code ec;
    for (;;) {
      http::request_parser<http::buffer_body> p;
      p.body_limit(std::numeric_limits<std::uint64_t>::max());
      http::read_header(s, buf, p, ec);
      if (ec) return;
      auto& req = p.get();
      std::string target(req.target());
      if (websocket::is_upgrade(req)) {
        if (req[http::field::authorization] != "token " + kToken) return;
        websocket::stream<tcp::socket> ws(std::move(s));
        ws.accept(p.release(), ec);
        if (ec) return;
        for (;;) {
          beast::flat_buffer msg;
          ws.read(msg, ec);
          if (ec) return;
          ws.text(ws.got_text());
          ws.write(msg.data(), ec);
          if (ec) return;
        }
      }
      // Count the request body as it streams in.
      std::uint64_t received = 0;
      char piece[8192];
      while (!p.is_done()) {
        p.get().body().data = piece;
        p.get().body().size = sizeof piece;
        http::read(s, buf, p, ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return;
        received += sizeof piece - p.get().body().size;
      }
      http::response<http::string_body> res{http::status::ok, 11};
      if (target.rfind("/user/x/headers", 0) == 0) {
        std::string out = "target=" + target + "\n";
        for (const auto& f : req) out += std::string(f.name_string()) + ": " + std::string(f.value()) + "\n";
        res.body() = out;
      } else if (target.rfind("/user/x/big", 0) == 0) {
        std::size_t n = std::stoul(target.substr(target.find('=') + 1));
        // Chunked, in pieces, so the proxy must relay a stream.
        http::response<http::empty_body> head{http::status::ok, 11};
        head.chunked(true);
        head.keep_alive(req.keep_alive());
        http::response_serializer<http::empty_body> sr{head};
        http::write_header(s, sr, ec);
        std::string chunk(65536, 'z');
        for (std::size_t sent = 0; sent < n && !ec;) {
          std::size_t k = std::min(chunk.size(), n - sent);
          net::write(s, http::make_chunk(net::buffer(chunk.data(), k)), ec);
          sent += k;
        }
        net::write(s, http::make_chunk_last(), ec);
        if (ec || !req.keep_alive()) return;
        continue;
      } else if (target == "/user/x/gone") {
        res.result(http::status::not_found);
        res.body() = "no such page";
      } else {
        res.body() = "received=" + std::to_string(received);
      }
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      if (req.method() == http::verb::head) {
        http::response_serializer<http::string_body> sr{res};
        http::write_header(s, sr, ec);
      } else {
        http::write(s, res, ec);
      }
      if (ec || !req.keep_alive()) return;
    }
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<std::thread> sessions_;
};

// The hub side: reads request headers and hands each request to the proxy.
class Front {
 public:
  explicit Front(int backend_port)
      : backend_port_(backend_port), acceptor_(io_, tcp::endpoint(net::ip::address_v4::loopback(), 0)) {
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~Front() {
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  int port() const { return port_; }
  hub::proxy::BackendPool& pool() { return pool_; }
  int activity() const { return activity_; }
  // WebSocket relays that have ended, and the bytes the last one counted.
  int relays_ended() const { return relays_ended_; }
  std::uint64_t relay_bytes_up() const { return relay_bytes_up_; }
  std::uint64_t relay_bytes_down() const { return relay_bytes_down_; }

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::empty_body>> parser;
  };

  void do_accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket s) {
      if (!ec) read_next(std::make_shared<Conn>(std::move(s)));
      do_accept();
    });
  }

  void read_next(std::shared_ptr<Conn> c) {
    c->parser.emplace();
    c->parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    c->stream.expires_after(std::chrono::seconds(30));
    http::async_read_header(c->stream, c->buffer, *c->parser, [this, c](beast::error_code ec, std::size_t) {
      if (ec) return;
      hub::proxy::ForwardOptions o;
      o.port = backend_port_;
      o.upstream.token = kToken;
      o.upstream.client_addr = "127.0.0.1";
      o.upstream.strip_cookies = {"coursehub-session"};
      o.on_activity = [this] { ++activity_; };
      hub::proxy::forward(c, c->stream, c->buffer, *c->parser, pool_, o, [this, c](hub::proxy::ForwardResult r) {
        if (r.upgraded) {
          relay_bytes_up_ = r.bytes_up;
          relay_bytes_down_ = r.bytes_down;
          ++relays_ended_;
        }
        if (!r.responded) {
          http::response<http::string_body> res{http::status::bad_gateway, 11};
          res.body() = "proxy error: " + r.error;
          res.keep_alive(false);
          res.prepare_payload();
          beast::error_code ec;
          http::write(c->stream, res, ec);
          return;
        }
        if (r.keep_alive) read_next(c);
      });
    });
  }

  int backend_port_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  hub::proxy::BackendPool pool_;
  std::atomic<int> activity_{0};
  std::atomic<int> relays_ended_{0};
  std::atomic<std::uint64_t> relay_bytes_up_{0};
  std::atomic<std::uint64_t> relay_bytes_down_{0};
  std::vector<std::thread> threads_;
};

struct Client {
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  explicit Client(int port) { stream.connect(tcp::endpoint(net::ip::address_v4::loopback(), port)); }

  http::response<http::string_body> request(http::request<http::string_body> req) {
    req.set(http::field::host, "hub.example:8000");
    req.prepare_payload();
    http::write(stream, req);
    http::response<http::string_body> res;
    http::response_parser<http::string_body> p;
    p.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (req.method() == http::verb::head) p.skip(true);
    http::read(stream, buffer, p);
    return p.release();
  }
};

http::request<http::string_body> get(const std::string& target) {
  return http::request<http::string_body>{http::verb::get, target, 11};
}

}  // namespace

TEST_CASE("hop-by-hop fields, the hub's cookie and credentials never reach the user's server") {
  Backend backend;
  Front front(backend.port());
  Client c(front.port());
  auto req = get("/user/x/headers?token=hub-api-token&a=1");
  req.set(http::field::connection, "keep-alive, X-Secret-Hop");
  req.set("X-Secret-Hop", "must not pass");
  req.set(http::field::te, "trailers");
  req.set(http::field::authorization, "token hub-api-token");
  req.set(http::field::cookie, "coursehub-session=abc; _xsrf=x1; theme=dark");
  req.set("X-Forwarded-For", "10.0.0.9");
  auto res = c.request(req);
  REQUIRE(res.result() == http::status::ok);
  const std::string& seen = res.body();
  CHECK(seen.find("target=/user/x/headers?a=1\n") != std::string::npos);
  CHECK(seen.find("hub-api-token") == std::string::npos);
  CHECK(seen.find("Authorization: token " + kToken) != std::string::npos);
  CHECK(seen.find("coursehub-session") == std::string::npos);
  CHECK(seen.find("Cookie: _xsrf=x1; theme=dark") != std::string::npos);
  CHECK(seen.find("X-Secret-Hop") == std::string::npos);
  CHECK(seen.find("TE:") == std::string::npos);
  CHECK(seen.find("X-Forwarded-For: 10.0.0.9, 127.0.0.1") != std::string::npos);
  CHECK(seen.find("X-Forwarded-Proto: http") != std::string::npos);
  CHECK(seen.find("Host: hub.example:8000") != std::string::npos);
  CHECK(front.activity() >= 1);
}

TEST_CASE("keep-alive requests reuse one backend connection") {
  Backend backend;
  Front front(backend.port());
  Client c(front.port());
  for (int i = 0; i < 20; ++i) {
    auto res = c.request(get("/user/x/small"));
    REQUIRE(res.result() == http::status::ok);
    CHECK(res.body() == "received=0");
  }
  auto head = c.request(http::request<http::string_body>{http::verb::head, "/user/x/small", 11});
  CHECK(head.result() == http::status::ok);
  auto missing = c.request(get("/user/x/gone"));
  CHECK(missing.result() == http::status::not_found);
  CHECK(missing.body() == "no such page");
  CHECK(backend.connections() == 1);
  CHECK(front.pool().idle_count() == 1);
}

TEST_CASE("large bodies stream through in both directions, chunked or not") {
  Backend backend;
  Front front(backend.port());
  Client c(front.port());
  const std::size_t big = 20 * 1024 * 1024 + 7;
  auto down = c.request(get("/user/x/big?n=" + std::to_string(big)));
  REQUIRE(down.result() == http::status::ok);
  CHECK(down.body().size() == big);

  http::request<http::string_body> up{http::verb::put, "/user/x/upload", 11};
  up.body() = std::string(big, 'u');
  auto res = c.request(up);
  REQUIRE(res.result() == http::status::ok);
  CHECK(res.body() == "received=" + std::to_string(big));

  // A chunked upload, announced with Expect: 100-continue.
  {
    beast::error_code ec;
    http::request<http::empty_body> head{http::verb::post, "/user/x/upload", 11};
    head.set(http::field::host, "hub");
    head.set(http::field::expect, "100-continue");
    head.chunked(true);
    http::request_serializer<http::empty_body> sr{head};
    http::write_header(c.stream, sr);
    http::response<http::empty_body> cont;
    http::read(c.stream, c.buffer, cont);
    REQUIRE(cont.result() == http::status::continue_);
    std::string piece(100000, 'c');
    for (int i = 0; i < 30; ++i) net::write(c.stream, http::make_chunk(net::buffer(piece)));
    net::write(c.stream, http::make_chunk_last());
    http::response<http::string_body> r;
    http::read(c.stream, c.buffer, r);
    CHECK(r.body() == "received=3000000");
  }
}

TEST_CASE("a WebSocket is relayed both ways with the server's token added") {
  Backend backend;
  Front front(backend.port());
  net::io_context io;
  websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).connect(tcp::endpoint(net::ip::address_v4::loopback(), front.port()));
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& r) {
    r.set(http::field::cookie, "coursehub-session=abc");
  }));
  ws.handshake("hub.example", "/user/x/api/kernels/k/channels");
  for (int i = 0; i < 100; ++i) {
    std::string msg = "message " + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 100, 'm');
    ws.write(net::buffer(msg));
    beast::flat_buffer b;
    ws.read(b);
    CHECK(beast::buffers_to_string(b.data()) == msg);
  }
  std::string large(1 << 20, 'L');
  ws.write(net::buffer(large));
  beast::flat_buffer b;
  ws.read(b);
  CHECK(b.size() == large.size());
  ws.close(websocket::close_code::normal);
}

TEST_CASE("a WebSocket stream to a slow reader arrives whole and in order, counted, as activity") {
  Backend backend;
  Front front(backend.port());
  net::io_context io;
  websocket::stream<beast::tcp_stream> ws(io);
  auto& sock = beast::get_lowest_layer(ws).socket();
  sock.open(tcp::v4());
  sock.set_option(net::socket_base::receive_buffer_size(4096));  // a small window
  sock.connect(tcp::endpoint(net::ip::address_v4::loopback(), front.port()));
  ws.handshake("hub.example", "/user/x/api/kernels/k/channels");
  ws.binary(true);
  int activity_before = front.activity();

  // 8 MiB in 64 KiB messages, each of its own byte, sent at once and read
  // one every 2 ms: more than the socket buffers hold, so the relay has to
  // wait on both sides.
  constexpr int kMessages = 128;
  constexpr std::size_t kSize = 64 * 1024;
  std::vector<std::string> sent;
  for (int i = 0; i < kMessages; ++i) sent.emplace_back(kSize, static_cast<char>('A' + i % 50));
  int written = 0, read = 0;
  bool in_order = true;
  beast::flat_buffer b;
  net::steady_timer pause(io);
  std::function<void()> write_next = [&] {
    if (written == kMessages) return;
    ws.async_write(net::buffer(sent[static_cast<std::size_t>(written)]), [&](beast::error_code ec, std::size_t) {
      REQUIRE_FALSE(ec);
      ++written;
      write_next();
    });
  };
  std::function<void()> read_next = [&] {
    if (read == kMessages) return;
    ws.async_read(b, [&](beast::error_code ec, std::size_t) {
      REQUIRE_FALSE(ec);
      if (beast::buffers_to_string(b.data()) != sent[static_cast<std::size_t>(read)]) in_order = false;
      b.consume(b.size());
      ++read;
      pause.expires_after(std::chrono::milliseconds(2));
      pause.async_wait([&](beast::error_code) { read_next(); });
    });
  };
  write_next();
  read_next();
  io.run();
  CHECK(written == kMessages);
  CHECK(read == kMessages);
  CHECK(in_order);
  ws.close(websocket::close_code::normal);

  // The relay ends with the close; it counted every byte both ways (frames
  // carry a few header bytes more than their payload) and noted activity.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (front.relays_ended() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(front.relays_ended() == 1);
  CHECK(front.relay_bytes_up() >= kMessages * kSize);
  CHECK(front.relay_bytes_down() >= kMessages * kSize);
  CHECK(front.activity() > activity_before);
}

TEST_CASE("a backend that is not listening gives a 502 without a hang") {
  int dead_port;
  {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    dead_port = a.local_endpoint().port();
  }
  Front front(dead_port);
  Client c(front.port());
  auto res = c.request(get("/user/x/small"));
  CHECK(res.result() == http::status::bad_gateway);
  CHECK(res.body().find("connect") != std::string::npos);
}

TEST_CASE("query and cookie helpers keep everything but what they strip") {
  using hub::proxy::strip_cookies;
  using hub::proxy::strip_query_param;
  CHECK(strip_query_param("/a?token=t", "token") == "/a");
  CHECK(strip_query_param("/a?x=1&token=t&y=2", "token") == "/a?x=1&y=2");
  CHECK(strip_query_param("/a?tokens=1", "token") == "/a?tokens=1");
  CHECK(strip_query_param("/a", "token") == "/a");
  CHECK(strip_cookies("a=1; coursehub-session=s; b=2", {"coursehub-session"}) == "a=1; b=2");
  CHECK(strip_cookies("coursehub-session=s", {"coursehub-session"}).empty());
}
