#include "courses/views.hpp"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "app.hpp"
#include "auth/auth.hpp"
#include "gitpuller/credentials.hpp"
#include "gitpuller/mirror_cache.hpp"
#include "util/crypto.hpp"
#include "util/log.hpp"

namespace hub::courses {
namespace {

using nlohmann::json;

json opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

std::string date_in_days(int days) {
  std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

bool error_after_success(const gitpuller::CredentialInfo& info) {
  if (!info.last_error) return false;
  if (!info.last_used) return true;
  return info.last_error_at.value_or("") > *info.last_used;
}

}  // namespace

void require_teacher(const Identity& who) {
  if (!who.admin && !who.instructor) throw http::HttpError(403, "this is for instructors and admins");
}

std::string credential_id(const std::string& prefix) { return crypto::sha256_hex(prefix).substr(0, 16); }

std::optional<std::string> credential_problem(const gitpuller::CredentialInfo& info) {
  if (info.expired) return "expired on " + info.expires.value_or("?");
  if (error_after_success(info)) {
    // The engine records "rejected by the server: DETAIL"; other errors as they are.
    std::string error = info.last_error.value_or("");
    if (error.rfind("rejected by the server", 0) == 0) return "was " + error;
    return "was rejected by the server: " + error;
  }
  return std::nullopt;
}

json credential_json(const gitpuller::CredentialInfo& info) {
  std::string status = "ok";
  if (info.expired) status = "expired";
  else if (error_after_success(info)) status = "rejected";
  else if (info.expires && *info.expires <= date_in_days(14)) status = "expiring";
  else if (!info.last_used) status = "unused";
  return {{"id", credential_id(info.prefix)},
          {"prefix", info.prefix},
          {"username", info.username},
          {"last4", info.last4},
          {"expires", opt(info.expires)},
          {"expired", info.expired},
          {"created", info.created},
          {"last_used", opt(info.last_used)},
          {"last_error", opt(info.last_error)},
          {"last_error_at", opt(info.last_error_at)},
          {"status", status},
          {"problem", opt(credential_problem(info))}};
}

json credential_alerts(App& app) {
  json out = json::array();
  try {
    for (const auto& info : app.credentials().list())
      if (auto problem = credential_problem(info))
        out.push_back({{"id", credential_id(info.prefix)}, {"prefix", info.prefix}, {"problem", *problem}});
  } catch (const std::exception& e) {
    out.push_back({{"id", ""}, {"prefix", "(the credential store)"}, {"problem", std::string("cannot be read: ") + e.what()}});
  }
  return out;
}

std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

json mirror_json(const std::optional<gitpuller::MirrorStats>& stats) {
  if (!stats) return {{"state", "empty"}, {"upstream_fetches", 0}, {"branches", json::array()}};
  std::string state = "ready";
  if (stats->branches.empty()) state = "empty";
  if (stats->last_error_at && (!stats->last_fetch || *stats->last_error_at > *stats->last_fetch)) state = "error";
  return {{"state", state},
          {"upstream_fetches", stats->upstream_fetches},
          {"last_fetch", opt(stats->last_fetch)},
          {"last_check", opt(stats->last_check)},
          {"last_error", opt(stats->last_error)},
          {"last_error_at", opt(stats->last_error_at)},
          {"size_bytes", stats->size_bytes},
          {"size", human_size(stats->size_bytes)},
          {"default_branch", opt(stats->default_branch)},
          {"branches", stats->branches}};
}

std::string hub_root_for(App& app, const http::Request& req) {
  std::string host = req.header("Host").value_or("");
  bool ok = !host.empty() && host.size() < 256;
  for (unsigned char c : host)
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')) ok = false;
  if (!ok) {
    std::string root = app.public_url;
    if (root.empty() || root.back() != '/') root += '/';
    return root;
  }
  bool https = req.secure || req.header("X-Forwarded-Proto").value_or("") == "https";
  return (https ? "https://" : "http://") + host + app.url("/");
}

}  // namespace hub::courses
