#pragma once
// Private: loading the CA certificates for https:// only when needed.
//
// Debian's libgit2 1.5 is built with mbedTLS and parses the whole system CA
// bundle inside git_libgit2_init(): about 13 ms of CPU in every process,
// half of what a `coursehub pull` that finds nothing new costs, and paid by
// every sync worker even for http://, file:// or --from-mirror.  This module
// interposes mbedtls_x509_crt_parse_file (exported from the executable, so
// libgit2's call binds to it): the one call made during git_libgit2_init is
// recorded instead of run, and ensure_ca_certificates() loads the same file
// through libgit2's public option before the first https:// connection.
// With a libgit2 built on another TLS library nothing is intercepted.
//
// Every network operation of the engine goes through TransferSession,
// which calls ensure_ca_certificates() for https URLs.  For http:// URLs it
// opens a PlainHttpScope instead, and the socket stream calls
// before_connection() for every connection it makes: a connection to the
// URL's own host and port is plain, any other one (a redirect to https://,
// a proxy) loads the bundle first, before libgit2 can wrap it in TLS.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gitpuller::detail {

// Ends the deferral window (call right after git_libgit2_init()).
void stop_deferring_ca_certificates();

// Loads the deferred CA bundle once; thread-safe, cheap after the first call.
// Returns false when loading failed (https will then fail to verify).
bool ensure_ca_certificates();

// Replaces the CA certificates to load (SSL_CERT_FILE / SSL_CERT_DIR): they
// are loaded instead of the default, also only when first needed.
void use_ca_certificates(const char* file, const char* dir);

// While alive, connections made by this thread to the host and port of the
// http:// URL given are known to be plain TCP.  Scopes nest; an URL that does
// not parse registers nothing (every connection then loads the bundle).
class PlainHttpScope {
 public:
  explicit PlainHttpScope(std::string_view http_url);
  ~PlainHttpScope();
  PlainHttpScope(const PlainHttpScope&) = delete;
  PlainHttpScope& operator=(const PlainHttpScope&) = delete;

 private:
  bool registered_ = false;
};

// Called by the socket stream before each new connection (host and port as
// libgit2 gives them): loads the bundle unless the endpoint is a plain one
// registered on this thread.
void before_connection(const char* host, const char* port);

// "http://Host:8080/x" -> {"host", "8080"}; {"", ""} when it does not parse.
std::pair<std::string, std::string> http_endpoint(std::string_view http_url);

}  // namespace gitpuller::detail
