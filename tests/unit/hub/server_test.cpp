// The HTTP server on loopback, driven by raw sockets: routing, event
// streams, the take-over hook, deadlines and graceful shutdown.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "http/raw_connection.hpp"
#include "http/server.hpp"

namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
using hub::http::Request;
using hub::http::Response;

// A connected client socket with blocking helpers bounded by a deadline.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& s) { REQUIRE(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size())); }
  // Reads until `done(received)` or EOF or the deadline; returns what arrived.
  std::string read_until(const std::function<bool(const std::string&)>& done, std::chrono::seconds limit = 30s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done(buffer_) && !eof_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) eof_ = true;
      else buffer_.append(tmp, static_cast<std::size_t>(n));
    }
    return buffer_;
  }
  std::string read_response() {
    return read_until([](const std::string& s) {
      auto end = s.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      auto cl = s.find("Content-Length: ");
      if (cl == std::string::npos || cl > end) return true;
      return s.size() >= end + 4 + std::stoul(s.substr(cl + 16));
    });
  }
  void consume() { buffer_.clear(); }
  bool eof() const { return eof_; }

 private:
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

// An App and a Server on 127.0.0.1:0, running on two threads.
struct Harness {
  explicit Harness(hub::http::ServerLimits limits = {}) {
    prefix = std::filesystem::temp_directory_path() / ("server_test_" + std::to_string(::getpid()));
    app = std::make_unique<hub::App>(prefix.string(), std::make_shared<hub::HubConfig>());
    server = std::make_unique<hub::http::Server>(*app, limits);
  }
  void start() {
    port = server->listen_http("127.0.0.1", 0);
    runner = std::thread([this] { server->run(2); });
  }
  ~Harness() {
    if (runner.joinable()) {
      server->shutdown(1s);
      runner.join();
    }
    server.reset();
    app.reset();
    std::filesystem::remove_all(prefix);
  }
  std::filesystem::path prefix;
  std::unique_ptr<hub::App> app;
  std::unique_ptr<hub::http::Server> server;
  std::thread runner;
  int port = 0;
};

}  // namespace

TEST_CASE("routes match literal segments, parameters, a trailing star and report 405") {
  hub::http::Router r;
  r.add("GET", "/hub/api/users/{name}", [](Request&) { return Response::no_content(); });
  r.add("GET", "/hub/api/users/{name}/tokens/{id}", [](Request&) { return Response::no_content(); });
  r.add("GET,POST", "/hub/api/users", [](Request&) { return Response::no_content(); });
  r.add_takeover("*", "/user/{name}/*", [](std::shared_ptr<hub::http::RawConnection>) {});
  r.add("GET", "/user/{name}/git-pull", [](Request&) { return Response::no_content(); });

  auto m = r.match("GET", "/hub/api/users/al%20ice/tokens/a7");
  REQUIRE(m.route);
  CHECK(m.route->pattern == "/hub/api/users/{name}/tokens/{id}");
  CHECK(m.params == std::vector<std::string>{"al ice", "a7"});
  CHECK(r.match("HEAD", "/hub/api/users/").route);  // trailing slash, HEAD served by GET
  auto star = r.match("PUT", "/user/bob/api/contents/a%2Fb");
  REQUIRE(star.route);
  CHECK(star.params == std::vector<std::string>{"bob"});
  CHECK(star.rest == "api/contents/a%2Fb");
  CHECK(r.match("GET", "/user/bob").route->pattern == "/user/{name}/*");
  CHECK(r.match("GET", "/user/bob/git-pull").route->pattern == "/user/{name}/git-pull");
  auto wrong = r.match("DELETE", "/hub/api/users");
  CHECK_FALSE(wrong.route);
  CHECK(wrong.method_not_allowed);
  CHECK(wrong.allowed == "GET, POST");
  CHECK_FALSE(r.match("GET", "/hub/api/nothing").route);
}

TEST_CASE("a synchronous route runs on the worker pool and keep-alive serves the next request") {
  Harness h;
  std::atomic<bool> on_worker{false};
  h.app->router().add("POST", "/echo/{word}", [&](Request& req) {
    on_worker = hub::WorkerPool::on_worker_thread();
    return Response::text(200, req.params[0] + ":" + req.body);
  });
  h.start();
  Client c(h.port);
  c.send("POST /echo/hi%21 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  auto r = c.read_response();
  CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(r.find("hi!:hello") != std::string::npos);
  CHECK(on_worker);
  c.consume();
  c.send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(c.read_response().rfind("HTTP/1.1 404", 0) == 0);
  c.consume();
  c.send("GET /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r405 = c.read_response();
  CHECK(r405.rfind("HTTP/1.1 405", 0) == 0);
  CHECK(r405.find("Allow: POST") != std::string::npos);
}

TEST_CASE("an event stream delivers events pushed from other threads, pings, and notices the client leaving") {
  Harness h;
  std::mutex m;
  std::condition_variable cv;
  bool closed = false;
  std::shared_ptr<hub::http::EventStream> kept;
  h.app->router().add_async("GET", "/events", [&](std::shared_ptr<Request>, hub::http::Reply reply) {
    hub::http::EventStreamOptions o;
    o.ping_interval = 1s;
    auto stream = reply.start_event_stream(o);
    stream->on_close([&] {
      std::lock_guard lock(m);
      closed = true;
      cv.notify_all();
    });
    {
      std::lock_guard lock(m);
      kept = stream;
    }
    std::thread([stream] {
      for (int i = 0; i < 3; ++i) stream->send({{"phase", "syncing"}, {"n", i}});
      stream->send_event("done", {{"phase", "finished"}});
    }).detach();
  });
  h.start();
  Client c(h.port);
  c.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  auto got = c.read_until([](const std::string& s) { return s.find(": ping") != std::string::npos; });
  CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(got.find("Content-Type: text/event-stream") != std::string::npos);
  auto a = got.find("data: {\"n\":0,\"phase\":\"syncing\"}\n\n");
  auto b = got.find("data: {\"n\":2,\"phase\":\"syncing\"}\n\n");
  auto d = got.find("event: done\ndata: {\"phase\":\"finished\"}\n\n");
  CHECK(a != std::string::npos);
  CHECK(b != std::string::npos);
  CHECK(d != std::string::npos);
  CHECK(a < b);
  CHECK(b < d);
  c.close();
  std::unique_lock lock(m);
  REQUIRE(cv.wait_for(lock, 30s, [&] { return closed; }));
  CHECK(kept->closed());
  CHECK_FALSE(kept->send({{"late", true}}));
}

TEST_CASE("a take-over route owns the socket, reads the body itself and hands the connection back") {
  Harness h;
  std::atomic<bool> on_io{false};
  h.app->router().add_takeover("*", "/user/{name}/*", [&](std::shared_ptr<hub::http::RawConnection> c) {
    on_io = !hub::WorkerPool::on_worker_thread();
    auto body = std::make_shared<bhttp::request_parser<bhttp::string_body>>(std::move(c->parser()));
    c->stream().tcp().expires_after(10s);
    bhttp::async_read(c->stream(), c->buffer(), *body, [c, body](boost::beast::error_code ec, std::size_t) {
      if (ec) return c->finish(false, 400);
      auto res = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::status::ok, 11);
      res->body() = c->request().params[0] + " " + c->request().rest + " " + body->get().body();
      res->prepare_payload();
      bhttp::async_write(c->stream(), *res, [c, res](boost::beast::error_code ec, std::size_t) {
        c->finish(!ec, 200);
      });
    });
  });
  h.app->router().add("GET", "/after", [](Request&) { return Response::text(200, "hub again"); });
  h.app->router().add_takeover("GET", "/deny", [](std::shared_ptr<hub::http::RawConnection> c) {
    c->respond(Response::json_error(403, "not yours"));
  });
  h.start();
  Client c(h.port);
  c.send("PUT /user/ann/files/x.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\npayload");
  auto r = c.read_response();
  CHECK(r.find("ann files/x.txt payload") != std::string::npos);
  CHECK(on_io);
  c.consume();
  c.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(c.read_response().find("hub again") != std::string::npos);
  c.consume();
  c.send("GET /deny HTTP/1.1\r\nHost: x\r\n\r\n");
  auto denied = c.read_response();
  CHECK(denied.rfind("HTTP/1.1 403", 0) == 0);
  CHECK(denied.find("not yours") != std::string::npos);
}

TEST_CASE("a client that never finishes its header is disconnected at the header deadline") {
  hub::http::ServerLimits limits;
  limits.header_timeout = 1s;
  Harness h(limits);
  h.start();
  Client slow(h.port);
  slow.send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  slow.read_until([](const std::string&) { return false; }, 30s);
  CHECK(slow.eof());
  Client fine(h.port);
  fine.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(fine.read_response().rfind("HTTP/1.1 404", 0) == 0);
}

TEST_CASE("shutdown lets a request in flight finish and closes its connection") {
  Harness h;
  std::promise<void> entered, release;
  auto release_future = release.get_future().share();
  h.app->router().add("GET", "/slow", [&, release_future](Request&) {
    entered.set_value();
    release_future.wait();
    return Response::text(200, "finished");
  });
  h.start();
  Client c(h.port);
  c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  entered.get_future().wait();
  h.server->shutdown(30s);
  release.set_value();
  auto r = c.read_response();
  CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(r.find("finished") != std::string::npos);
  CHECK(r.find("Connection: close") != std::string::npos);
  h.runner.join();  // run() returned: the server stopped by itself
}
