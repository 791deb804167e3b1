#include "tls_certs.hpp"

#include <dlfcn.h>
#include <git2.h>

#include <atomic>
#include <mutex>
#include <string>

namespace gitpuller::detail {
namespace {

std::atomic<bool> g_deferring{true};
std::mutex g_mutex;
std::string g_deferred_path;  // guarded by g_mutex: libgit2's default bundle
std::string g_file;           // guarded by g_mutex: explicit choice, when set
std::string g_dir;
bool g_explicit = false;
bool g_loaded = false;

using ParseFile = int (*)(void*, const char*);

ParseFile real_parse_file() {
  static ParseFile fn = reinterpret_cast<ParseFile>(::dlsym(RTLD_NEXT, "mbedtls_x509_crt_parse_file"));
  return fn;
}

}  // namespace

void stop_deferring_ca_certificates() { g_deferring = false; }

void use_ca_certificates(const char* file, const char* dir) {
  std::lock_guard guard(g_mutex);
  g_file = file ? file : "";
  g_dir = dir ? dir : "";
  g_explicit = !g_file.empty() || !g_dir.empty();
}

bool ensure_ca_certificates() {
  std::lock_guard guard(g_mutex);
  if (g_loaded) return true;
  g_loaded = true;
  if (g_explicit)
    return git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, g_file.empty() ? nullptr : g_file.c_str(),
                            g_dir.empty() ? nullptr : g_dir.c_str()) == 0;
  if (g_deferred_path.empty()) return true;  // nothing was deferred: libgit2 loaded its default
  return git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, g_deferred_path.c_str(), nullptr) == 0;
}

}  // namespace gitpuller::detail

// The interposed mbedTLS function (see the header).
extern "C" __attribute__((visibility("default"))) int mbedtls_x509_crt_parse_file(void* chain, const char* path) {
  using namespace gitpuller::detail;
  if (g_deferring.exchange(false) && path) {
    std::lock_guard guard(g_mutex);
    g_deferred_path = path;
    return 0;
  }
  ParseFile fn = real_parse_file();
  if (!fn) return -0x2900;  // MBEDTLS_ERR_X509_FILE_IO_ERROR
  return fn(chain, path);
}
