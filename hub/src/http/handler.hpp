#pragma once
// How a route answers.  Three kinds of handler, chosen per route:
//
//  * SyncHandler — `Response(Request&)`, run on the hub's worker pool, so it
//    may block (SQLite, files).  The common case: API and page handlers.
//    Throwing HttpError answers with that error; any other exception is a 500
//    (logged, message hidden from the client).
//
//  * AsyncHandler — `void(std::shared_ptr<Request>, Reply)`, run on the
//    connection's strand (an I/O thread): it must not block.  It answers by
//    calling the Reply exactly once, from any thread, at any later time — or
//    by turning the response into a Server-Sent Events stream with
//    Reply::start_event_stream().
//
//  * TakeoverHandler — `void(std::shared_ptr<RawConnection>)`, run on the
//    connection's strand as soon as the request HEADER has been parsed (the
//    body is unread).  The handler owns the socket until it calls
//    RawConnection::finish().  For the reverse proxy (streaming bodies both
//    ways, WebSocket upgrades).  See raw_connection.hpp.
//
// Reply and EventStream contain no Beast types; RawConnection does, in its
// own header.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "http/message.hpp"

namespace hub::http {

class RawConnection;

// A Server-Sent Events response in progress.  Thread-safe: every member may
// be called from any thread.  Events are written in the order sent; the
// server pings with a ": ping" comment line while idle so proxies and
// browsers keep the stream open, and notices a client that went away (by
// read EOF or a failed/timed-out write).
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Queues "data: <json>\n\n".  Returns false (and drops the event) once the
  // stream is closed.
  virtual bool send(const nlohmann::json& data) = 0;
  // Queues "event: <name>\ndata: <json>\n\n".
  virtual bool send_event(std::string_view event, const nlohmann::json& data) = 0;
  // Ends the response after the queued events are written.
  virtual void close() = 0;
  // True once closed by either side.
  virtual bool closed() const = 0;
  // Registers a callback run once when the stream closes (client gone,
  // write timeout, server shutdown, or close()).  Runs immediately on the
  // caller's thread when already closed; otherwise on an I/O thread: keep it
  // short and non-blocking (post blocking work to the pool).
  virtual void on_close(std::function<void()> callback) = 0;
};

struct EventStreamOptions {
  std::chrono::seconds ping_interval{15};
  // Extra response headers (e.g. Set-Cookie).
  Headers headers;
};

// The answer channel of an AsyncHandler.  Copyable; all copies refer to the
// same request.  Thread-safe.  The first call of operator() or
// start_event_stream() wins; later calls are ignored.  If the Reply is
// destroyed without an answer, the client gets a 500.
class Reply {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void send(Response response) = 0;
    virtual std::shared_ptr<EventStream> start_event_stream(EventStreamOptions options) = 0;
  };

  explicit Reply(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}
  void operator()(Response response) const { sink_->send(std::move(response)); }
  // Sends "200 OK, text/event-stream" and returns the stream to push to.
  std::shared_ptr<EventStream> start_event_stream(EventStreamOptions options = {}) const {
    return sink_->start_event_stream(std::move(options));
  }

 private:
  std::shared_ptr<Sink> sink_;
};

using SyncHandler = std::function<Response(Request&)>;
using AsyncHandler = std::function<void(std::shared_ptr<Request>, Reply)>;
using TakeoverHandler = std::function<void(std::shared_ptr<RawConnection>)>;

}  // namespace hub::http
