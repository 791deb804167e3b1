#pragma once
// Shared pieces of the course and credential pages and APIs: who may use
// them, the JSON shapes of stored credentials and mirror caches, and the
// address links start with.  Worker threads only (they read files and
// SQLite).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "http/message.hpp"

namespace gitpuller {
struct CredentialInfo;
struct MirrorStats;
}  // namespace gitpuller

namespace hub {
class App;
struct Identity;
}  // namespace hub

namespace hub::courses {

// 403 unless the user is an instructor or an admin.
void require_teacher(const Identity& who);

// A stable id for a stored credential, usable in URLs: 16 hex digits of
// the SHA-256 of its prefix.
std::string credential_id(const std::string& prefix);

// Why admins should act on this credential, or nullopt when it is fine:
// expired (its expiry date passed), or rejected by the server after its
// last successful use (the engine records each use on the credential).
std::optional<std::string> credential_problem(const gitpuller::CredentialInfo& info);

// {"id","prefix","username","last4","expires","expired","created",
//  "last_used","last_error","last_error_at","status","problem"}; status is
// "expired", "rejected", "expiring" (within 14 days), "unused" or "ok".
// Never the secret.
nlohmann::json credential_json(const gitpuller::CredentialInfo& info);

// The alerts admins see on their pages: [{"id","prefix","problem"}].
nlohmann::json credential_alerts(App& app);

// {"state": "empty"|"ready"|"error", "upstream_fetches", "last_fetch",
//  "last_check", "last_error", "last_error_at", "size_bytes", "size",
//  "default_branch", "branches"} for a mirror, or {"state":"empty"}.
nlohmann::json mirror_json(const std::optional<gitpuller::MirrorStats>& stats);

// "1.4 MB"
std::string human_size(std::uint64_t bytes);

// The root URL of this hub as the browser reached it, for links:
// scheme (TLS, or X-Forwarded-Proto: https) + Host + base_url.  Falls back
// to the address the hub bound when the Host header is unusable.
std::string hub_root_for(App& app, const http::Request& req);

}  // namespace hub::courses
