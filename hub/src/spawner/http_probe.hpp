#pragma once
// A minimal blocking HTTP/1.1 GET to 127.0.0.1, for readiness and adoption
// checks of user servers.  Not for I/O threads.
#include <chrono>
#include <string>

namespace hub::spawner {

struct ProbeResult {
  int status = 0;      // 0: no connection or no complete status line
  std::string body;    // at most 64 KiB
};

// GET `path` on 127.0.0.1:`port` with "Authorization: token <token>" (when
// non-empty) and Connection: close.  Never throws.
ProbeResult http_get(int port, const std::string& path, const std::string& token,
                     std::chrono::milliseconds timeout);

}  // namespace hub::spawner
