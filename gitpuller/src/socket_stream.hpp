#pragma once
// Private: the TCP stream libgit2 uses for http:// and (under TLS) https://.
//
// libgit2 1.5's own socket stream leaves Nagle's algorithm on and has no
// timeouts.  With Nagle, every smart-HTTP POST (headers and body written
// separately) waits for the server's delayed ACK: about 40 ms per request.
// Without timeouts, an upstream that stops answering blocks a sync forever.
// This stream sets TCP_NODELAY, bounds connecting and each wait for data,
// and never raises SIGPIPE.
#include <chrono>

namespace gitpuller::detail {

// Registers the stream for GIT_STREAM_STANDARD; process-wide, call once.
void register_socket_stream(std::chrono::milliseconds connect_timeout, std::chrono::milliseconds idle_timeout);

}  // namespace gitpuller::detail
