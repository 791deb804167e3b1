#include "tls_certs.hpp"

#include <dlfcn.h>
#include <git2.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

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

// The plain endpoints of the http:// transfers running on this thread.
thread_local std::vector<std::pair<std::string, std::string>> t_plain;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

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

std::pair<std::string, std::string> http_endpoint(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() || lower(url.substr(0, kScheme.size())) != kScheme) return {};
  std::string_view rest = url.substr(kScheme.size());
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return {};
  std::string_view host, port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return {};
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return {};
    if (!after.empty()) port = after.substr(1);
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return {};
  if (port.empty()) port = "80";
  if (!std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) return {};
  return {lower(host), std::string(port)};
}

PlainHttpScope::PlainHttpScope(std::string_view http_url) {
  auto endpoint = http_endpoint(http_url);
  if (endpoint.first.empty()) return;
  t_plain.push_back(std::move(endpoint));
  registered_ = true;
}

PlainHttpScope::~PlainHttpScope() {
  if (registered_ && !t_plain.empty()) t_plain.pop_back();
}

void before_connection(const char* host, const char* port) {
  if (host && port) {
    std::pair<std::string, std::string> endpoint{lower(host), port};
    if (std::find(t_plain.begin(), t_plain.end(), endpoint) != t_plain.end()) return;
  }
  ensure_ca_certificates();
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
