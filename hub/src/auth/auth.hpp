#pragma once
// Who is asking: sessions (signed cookie -> server-side session row), API
// tokens, XSRF, and the "current user or 401/redirect" helpers that every
// route uses.
//
//   Response handler(Request& req) {                 // a SyncHandler (worker thread)
//     auto me = app.auth().require_api_user(req);     // 401 / 403 (XSRF) or the user
//     if (!me.admin && me.name != req.params[0]) throw HttpError(403, "...");
//     ...
//   }
//
// Pages use require_page_user() (redirects to the login page with next=),
// the API require_api_user() (JSON 401; cookie-authenticated calls must
// carry the XSRF token, on every method, as JupyterHub 4 does).  Forms that
// need no login (login, signup) call check_xsrf() themselves.
//
// Thread-safety: all members are thread-safe.  identify() and the require_*
// helpers block on SQLite on a cache miss: call them on worker threads
// (SyncHandler).  On an I/O thread (take-over handlers) use identify_async().
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/accounts.hpp"
#include "http/message.hpp"

namespace common {
class Database;
}

namespace hub {

class App;

struct Identity {
  // server_token: a running server's own token, for its single-user
  // extensions (never admin or instructor, whoever the user is).
  enum class Via { cookie, token, server_token };
  std::int64_t user_id = 0;
  std::string name;
  bool admin = false;
  bool instructor = false;
  Via via = Via::cookie;
  std::string session_id;     // Via::cookie: the session row's id
  std::int64_t token_id = 0;  // Via::token
};

class Auth {
 public:
  static constexpr const char* kSessionCookie = "coursehub-session";
  static constexpr const char* kXsrfCookie = "_xsrf";
  static constexpr std::chrono::hours kSessionLifetime{24 * 14};

  Auth(App& app, std::string cookie_secret);

  // The user behind the request: an "Authorization: token|bearer T" header
  // (or ?token=T) holding an API token or a running server's own token,
  // else the session cookie.  nullopt when there is none, it
  // is invalid or expired, or the user is banned, not in users.allowed, or
  // awaiting approval.  Sets req.log_user.  Worker threads only.
  std::optional<Identity> identify(http::Request& req);
  // Same, for I/O threads: `done` runs inline on a cache hit, else later on
  // a worker thread (post back to your connection's executor).  A credential
  // seen before on this thread is recognised without hashing or locking.
  void identify_async(std::shared_ptr<http::Request> req, std::function<void(std::optional<Identity>)> done);

  // Pages: the user, or HttpError::redirect to /hub/login?next=<this page>.
  // Checks XSRF on unsafe methods.
  Identity require_page_user(http::Request& req);
  // API: the user, or HttpError 401 (no/invalid credentials) or 403
  // (cookie without a matching XSRF token).
  Identity require_api_user(http::Request& req);
  // HttpError 403 unless admin.
  static void require_admin(const Identity& who);

  // HttpError 403 unless the request carries the _xsrf cookie's value in
  // the _xsrf form field, the _xsrf query parameter, or an X-XSRFToken
  // (or X-CSRFToken) header.
  void check_xsrf(const http::Request& req) const;
  // The XSRF token to embed in a page: the client's cookie, or a new token
  // whose cookie is added to `res`.
  std::string xsrf_token(const http::Request& req, http::Response& res) const;

  // Cookie attributes for this hub: Path=base_url, SameSite=Lax, Secure over TLS.
  http::CookieOptions cookie_options(const http::Request& req, bool http_only) const;

  // Creates a server-side session and sets the signed cookie on `res`.
  void start_session(common::Database& db, std::int64_t user_id, const http::Request& req, http::Response& res);
  // Deletes the request's session row and clears the cookie.
  void end_session(common::Database& db, const http::Request& req, http::Response& res);
  // Drops cached identities of a user; call after anything that changes who
  // they are or whether they may log in (password reset revokes sessions,
  // deletion, admin flag, approval).
  void forget_user(std::int64_t user_id);

  // `next` when it is a path on this hub ("/..." not "//" nor "/\"), else
  // the hub's home page.
  std::string safe_next(std::string_view next) const;
  // /hub/login?next=<the request's own target>
  std::string login_url_for(const http::Request& req) const;

  // Users listed in users.admin exist and are admins (run at start and after
  // reload, on a worker thread).  Names that are not valid are logged and skipped.
  void apply_config_admins(common::Database& db);

  // May this name log in under the current users.allowed/users.banned?
  bool allowed_by_config(std::string_view name, bool admin) const;

 private:
  struct Cached {
    Identity identity;
    std::chrono::steady_clock::time_point expires;
    std::chrono::steady_clock::time_point last_touch;
  };
  std::optional<std::string> session_key(const http::Request& req) const;
  std::optional<std::string> token_of(const http::Request& req) const;
  std::optional<Identity> lookup_cached(const std::string& key);
  std::optional<Cached> lookup_cached_entry(const std::string& key);
  std::optional<Identity> post_checks(std::optional<Identity> who, http::Request& req);

  App& app_;
  std::string secret_;
  std::mutex mutex_;
  std::unordered_map<std::string, Cached> cache_;
  // Bumped by every invalidation (forget_user, end_session): the I/O
  // threads' front caches (identify_async) drop entries made before.
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace hub
