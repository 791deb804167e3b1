#pragma once
// Which network addresses the engine's connections may reach.
//
// Every TCP connection libgit2 opens for http:// and https:// goes through
// the engine's socket stream (configure_libgit2()), which resolves the host
// name itself and asks the filter about each address before connecting to
// it; refused addresses are skipped, and when none is left the connection
// fails with "refused to connect to HOST".  So the check is made on the
// addresses actually connected to: a name that resolves differently between
// an earlier check and the connection (DNS rebinding), or a redirect to
// another host, is caught too.  The hub uses it for gitpuller.allowed_sources.
#include <functional>
#include <string_view>

struct sockaddr;

namespace gitpuller {

// true: the connection to `address` (for `host`, `port` as in the URL) may be made.
using ConnectFilter = std::function<bool(std::string_view host, std::string_view port, const sockaddr* address)>;

// Installs the process-wide filter (an empty function allows everything, the
// default).  Thread-safe; connections already open are not affected.  The
// filter is called on whatever thread runs a sync: it must be thread-safe
// and must not block.
void set_connect_filter(ConnectFilter filter);

}  // namespace gitpuller
