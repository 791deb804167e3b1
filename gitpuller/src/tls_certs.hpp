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
// which calls ensure_ca_certificates() for https URLs; code that uses
// libgit2's network functions directly must call it first.
namespace gitpuller::detail {

// Ends the deferral window (call right after git_libgit2_init()).
void stop_deferring_ca_certificates();

// Loads the deferred CA bundle once; thread-safe, cheap after the first call.
// Returns false when loading failed (https will then fail to verify).
bool ensure_ca_certificates();

// Replaces the CA certificates to load (SSL_CERT_FILE / SSL_CERT_DIR): they
// are loaded instead of the default, also only when first needed.
void use_ca_certificates(const char* file, const char* dir);

}  // namespace gitpuller::detail
