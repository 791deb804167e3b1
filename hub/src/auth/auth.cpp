#include "auth/auth.hpp"

#include <algorithm>

#include "app.hpp"
#include "common/sqlite.hpp"
#include "common/time_util.hpp"
#include "util/crypto.hpp"
#include "util/log.hpp"

namespace hub {
namespace {

constexpr auto kCacheTtl = std::chrono::seconds(10);
constexpr std::size_t kCacheMax = 20000;

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
  return true;
}

bool contains(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace

Auth::Auth(App& app, std::string cookie_secret) : app_(app), secret_(std::move(cookie_secret)) {}

std::optional<std::string> Auth::session_key(const http::Request& req) const {
  auto cookie = req.cookie(kSessionCookie);
  if (!cookie) return std::nullopt;
  auto dot = cookie->find('.');
  if (dot == std::string::npos) return std::nullopt;
  std::string token = cookie->substr(0, dot);
  std::string sig = cookie->substr(dot + 1);
  if (!crypto::constant_time_equals(sig, crypto::hmac_sha256_b64(secret_, "session|" + token))) return std::nullopt;
  return crypto::sha256_hex(token);
}

std::optional<std::string> Auth::token_of(const http::Request& req) const {
  if (auto h = req.header("Authorization")) {
    std::string_view v = *h;
    for (std::string_view scheme : {"token ", "bearer "}) {
      if (starts_with_ci(v, scheme)) {
        std::string t(v.substr(scheme.size()));
        while (!t.empty() && t.front() == ' ') t.erase(t.begin());
        while (!t.empty() && t.back() == ' ') t.pop_back();
        return t;
      }
    }
    return std::string();  // an Authorization header we do not understand: no fallback to cookies
  }
  if (auto q = req.query_param("token")) return *q;
  return std::nullopt;
}

std::optional<Auth::Cached> Auth::lookup_cached_entry(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  if (it->second.expires < std::chrono::steady_clock::now()) {
    cache_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

std::optional<Identity> Auth::lookup_cached(const std::string& key) {
  auto hit = lookup_cached_entry(key);
  if (!hit) return std::nullopt;
  return std::move(hit->identity);
}

bool Auth::allowed_by_config(std::string_view name, bool admin) const {
  auto cfg = app_.config();
  if (contains(cfg->users_banned, name)) return false;
  if (!cfg->users_allowed.empty() && !admin && !contains(cfg->users_allowed, name) && !contains(cfg->users_admin, name))
    return false;
  return true;
}

std::optional<Identity> Auth::post_checks(std::optional<Identity> who, http::Request& req) {
  if (!who) return who;
  if (!allowed_by_config(who->name, who->admin)) return std::nullopt;
  req.log_user = who->name;
  return who;
}

std::optional<Identity> Auth::identify(http::Request& req) {
  std::string key;
  auto token = token_of(req);
  std::optional<std::string> session;
  if (token) {
    if (token->empty()) return std::nullopt;
    key = "t:" + crypto::sha256_hex(*token);
  } else {
    session = session_key(req);
    if (!session) return std::nullopt;
    key = "s:" + *session;
  }
  if (auto hit = lookup_cached(key)) return post_checks(std::move(hit), req);

  auto& db = app_.db();
  std::optional<Identity> who;
  if (token) {
    if (auto t = accounts::find_token(db, *token)) {
      auto u = accounts::find_user_by_id(db, t->user_id);
      if (!u || u->status != "active") return std::nullopt;
      who = Identity{u->id, u->name, u->admin, u->instructor, Identity::Via::token, "", t->id};
      accounts::touch_token(db, t->id);
      accounts::touch_activity(db, u->id);
    } else {
      // A running server's own token (JUPYTERHUB_API_TOKEN in its
      // environment): it speaks for its user, never with admin or
      // instructor rights, whoever the user is — code in a notebook must
      // not be able to administer the hub through it.
      auto st = db.prepare(
          "SELECT u.id, u.name, u.status FROM servers s JOIN users u ON u.name = s.user WHERE s.token = ?");
      st.bind(1, *token);
      if (!st.step() || st.column_text(2) != "active") return std::nullopt;
      who = Identity{st.column_int64(0), st.column_text(1), false, false, Identity::Via::server_token, "", 0};
    }
  } else {
    double now = common::unix_seconds();
    auto st = db.prepare(
        "SELECT u.id, u.name, u.admin, u.instructor, u.status FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.id = ? AND s.expires > ?");
    st.bind(1, *session).bind(2, now);
    if (!st.step()) return std::nullopt;
    if (st.column_text(4) != "active") return std::nullopt;
    who = Identity{st.column_int64(0), st.column_text(1), st.column_int64(2) != 0, st.column_int64(3) != 0,
                   Identity::Via::cookie, *session, 0};
    // End the SELECT's read transaction first: writing while it is open
    // would upgrade it, and in WAL mode an upgrade from a snapshot another
    // connection has written past fails at once (SQLITE_BUSY_SNAPSHOT, no
    // busy wait) — a 500 for a student whose sync was recorded meanwhile.
    st.reset();
    db.prepare("UPDATE sessions SET last_seen = ? WHERE id = ?").bind(1, now).bind(2, *session).run();
    accounts::touch_activity(db, who->user_id);
  }
  {
    std::lock_guard lock(mutex_);
    if (cache_.size() > kCacheMax) cache_.clear();
    auto now = std::chrono::steady_clock::now();
    cache_[key] = Cached{*who, now + kCacheTtl, now};
  }
  return post_checks(std::move(who), req);
}

namespace {

// In front of the shared cache, per I/O thread: credentials exactly as they
// arrived (the token, or the whole signed cookie) that the shared cache
// vouched for, so a request with a known credential costs no hashing, no
// signature check and no shared lock.  An entry lives no longer than the
// shared entry it copies, and dies with any forget_user()/end_session()
// (the generation).  Bounded; emptied when full.
struct FrontEntry {
  const Auth* owner;
  std::uint64_t generation;
  Identity identity;
  std::chrono::steady_clock::time_point expires;
};
constexpr std::size_t kFrontMax = 4096;

std::unordered_map<std::string, FrontEntry>& front_cache() {
  thread_local std::unordered_map<std::string, FrontEntry> cache;
  return cache;
}

}  // namespace

void Auth::identify_async(std::shared_ptr<http::Request> req, std::function<void(std::optional<Identity>)> done) {
  std::string raw;
  auto token = token_of(*req);
  if (token) {
    if (token->empty()) return done(std::nullopt);
    raw = "t:" + *token;
  } else if (auto cookie = req->cookie(kSessionCookie)) {
    raw = "c:" + *cookie;
  } else {
    return done(std::nullopt);
  }
  auto now = std::chrono::steady_clock::now();
  auto generation = generation_.load(std::memory_order_acquire);
  auto& front = front_cache();
  if (auto it = front.find(raw); it != front.end()) {
    const auto& e = it->second;
    if (e.owner == this && e.generation == generation && e.expires > now) return done(post_checks(e.identity, *req));
    front.erase(it);
  }
  std::optional<std::string> key;
  if (token) key = "t:" + crypto::sha256_hex(*token);
  else if (auto s = session_key(*req)) key = "s:" + *s;
  if (!key) return done(std::nullopt);
  if (auto hit = lookup_cached_entry(*key)) {
    if (front.size() >= kFrontMax) front.clear();
    front.insert_or_assign(std::move(raw), FrontEntry{this, generation, hit->identity, hit->expires});
    return done(post_checks(std::move(hit->identity), *req));
  }
  app_.pool().post([this, req, done = std::move(done)] { done(identify(*req)); });
}

Identity Auth::require_page_user(http::Request& req) {
  auto who = identify(req);
  if (!who) throw http::HttpError::redirect(login_url_for(req));
  if (req.is_unsafe_method() && who->via == Identity::Via::cookie) check_xsrf(req);
  return *who;
}

Identity Auth::require_api_user(http::Request& req) {
  auto who = identify(req);
  if (!who) {
    http::HttpError e(401, "authentication required: send 'Authorization: token <token>' or log in");
    throw e;
  }
  if (who->via == Identity::Via::cookie) check_xsrf(req);
  return *who;
}

void Auth::require_admin(const Identity& who) {
  if (!who.admin) throw http::HttpError(403, "this requires an admin");
}

void Auth::check_xsrf(const http::Request& req) const {
  auto cookie = req.cookie(kXsrfCookie);
  std::optional<std::string> sent;
  if (auto h = req.header("X-XSRFToken")) sent = *h;
  else if (auto h2 = req.header("X-CSRFToken")) sent = *h2;
  if (!sent) {
    auto type = req.header("Content-Type").value_or("");
    if (type.find("application/x-www-form-urlencoded") != std::string::npos) sent = req.form_field("_xsrf");
  }
  if (!sent) sent = req.query_param("_xsrf");
  if (!sent || sent->empty()) throw http::HttpError(403, "'_xsrf' argument missing from the request (XSRF check)");
  if (!cookie || cookie->empty()) throw http::HttpError(403, "'_xsrf' cookie missing (XSRF check); reload the page");
  if (!crypto::constant_time_equals(*cookie, *sent))
    throw http::HttpError(403, "XSRF cookie does not match the '_xsrf' argument; reload the page");
}

std::string Auth::xsrf_token(const http::Request& req, http::Response& res) const {
  auto existing = req.cookie(kXsrfCookie);
  if (existing && existing->size() >= 16 && existing->size() <= 128 &&
      existing->find_first_not_of("0123456789abcdefABCDEF") == std::string::npos)
    return *existing;
  std::string token = crypto::random_hex(16);
  res.set_cookie(kXsrfCookie, token, cookie_options(req, false));
  return token;
}

http::CookieOptions Auth::cookie_options(const http::Request& req, bool http_only) const {
  http::CookieOptions o;
  o.path = app_.url("/");
  o.http_only = http_only;
  o.secure = req.secure;
  o.same_site = "Lax";
  return o;
}

void Auth::start_session(common::Database& db, std::int64_t user_id, const http::Request& req, http::Response& res) {
  std::string token = crypto::base64url(crypto::random_bytes(32));
  double now = common::unix_seconds();
  double expires = now + std::chrono::duration<double>(kSessionLifetime).count();
  db.prepare("INSERT INTO sessions (id, user_id, created, last_seen, expires) VALUES (?, ?, ?, ?, ?)")
      .bind(1, crypto::sha256_hex(token))
      .bind(2, user_id)
      .bind(3, now)
      .bind(4, now)
      .bind(5, expires)
      .run();
  // Expired sessions are swept as new ones are made.
  db.prepare("DELETE FROM sessions WHERE expires < ?").bind(1, now).run();
  auto options = cookie_options(req, true);
  options.max_age_seconds = std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count();
  res.set_cookie(kSessionCookie, token + "." + crypto::hmac_sha256_b64(secret_, "session|" + token), options);
}

void Auth::end_session(common::Database& db, const http::Request& req, http::Response& res) {
  if (auto key = session_key(req)) {
    db.prepare("DELETE FROM sessions WHERE id = ?").bind(1, *key).run();
    std::lock_guard lock(mutex_);
    cache_.erase("s:" + *key);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  res.clear_cookie(kSessionCookie, cookie_options(req, true));
}

void Auth::forget_user(std::int64_t user_id) {
  std::lock_guard lock(mutex_);
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.identity.user_id == user_id; });
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::string Auth::safe_next(std::string_view next) const {
  std::string home = app_.url("/hub/home");
  if (next.empty() || next.front() != '/') return home;
  if (next.size() > 1 && (next[1] == '/' || next[1] == '\\')) return home;
  for (unsigned char c : next)
    if (c < 0x20 || c == 0x7f || c == '\\') return home;
  // Must stay under base_url.
  std::string base = app_.url("/");
  if (std::string(next).rfind(base, 0) != 0 && std::string(next) + "/" != base) return home;
  return std::string(next);
}

std::string Auth::login_url_for(const http::Request& req) const {
  return app_.url("/hub/login") + "?next=" + http::url_encode(req.target);
}

void Auth::apply_config_admins(common::Database& db) {
  auto cfg = app_.config();
  for (const auto& raw : cfg->users_admin) {
    std::string name;
    try {
      name = accounts::normalize_username(raw);
    } catch (const accounts::AccountError& e) {
      log::warning("users.admin: ignoring '" + raw + "': " + e.what());
      continue;
    }
    if (auto u = accounts::find_user(db, name)) {
      if (!u->admin || u->status != "active") {
        accounts::set_admin(db, u->id, true);
        accounts::set_status(db, u->id, "active");
        forget_user(u->id);
      }
    } else {
      accounts::NewUser nu;
      nu.name = name;
      nu.admin = true;
      accounts::create_user(db, nu);
      log::info("users.admin: created admin user " + name + " (no password yet)");
    }
  }
}

}  // namespace hub
