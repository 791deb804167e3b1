#pragma once
// The Asio side of BackendPool: taking and giving back idle connections on
// the caller's I/O context.  Include only from proxy sources.
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string_view>

#include "proxy/backend_pool.hpp"

namespace hub::proxy {

// A healthy idle connection to 127.0.0.1:port of the server `server_key`,
// made on the execution context of `ex`; the caller owns it now.  Idle
// connections that were closed by the server (or sent something unasked)
// are discarded on the way.
std::optional<boost::asio::ip::tcp::socket> take_idle(BackendPool& pool, const boost::asio::any_io_executor& ex,
                                                      int port, std::string_view server_key);

// Keeps `socket` (open, no operation pending, nothing unread) for reuse on
// its own context; closed instead when that server has enough idle ones.
void give_idle(BackendPool& pool, boost::asio::ip::tcp::socket&& socket, int port, std::string_view server_key);

}  // namespace hub::proxy
