#include "auth/accounts.hpp"

#include <argon2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <unordered_set>

#include "common/sqlite.hpp"
#include "common/time_util.hpp"
#include "util/crypto.hpp"

namespace hub::accounts {
namespace {

constexpr std::uint32_t kArgonTime = 2;
constexpr std::uint32_t kArgonMemoryKiB = 19 * 1024;
constexpr std::uint32_t kArgonLanes = 1;
constexpr std::size_t kSaltLength = 16;
constexpr std::size_t kHashLength = 32;
constexpr std::size_t kMaxPasswordLength = 1024;

const char* const kCommonPasswords[] = {
#include "auth/common_passwords.inc"
};

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

double now_seconds() { return common::unix_seconds(); }

User read_user(common::Statement& st) {
  User u;
  u.id = st.column_int64(0);
  u.name = st.column_text(1);
  u.admin = st.column_int64(2) != 0;
  u.instructor = st.column_int64(3) != 0;
  u.has_password = !st.column_is_null(4);
  u.status = st.column_text(5);
  u.created = st.column_double(6);
  if (!st.column_is_null(7)) u.last_activity = st.column_double(7);
  return u;
}

constexpr const char* kUserColumns =
    "id, name, admin, instructor, CASE WHEN password_hash IS NULL THEN NULL ELSE 1 END, status, created, last_activity";

Token read_token(common::Statement& st) {
  Token t;
  t.id = st.column_int64(0);
  t.user_id = st.column_int64(1);
  t.prefix = st.column_text(2);
  t.note = st.column_text(3);
  t.created = st.column_double(4);
  if (!st.column_is_null(5)) t.expires_at = st.column_double(5);
  if (!st.column_is_null(6)) t.last_activity = st.column_double(6);
  return t;
}

constexpr const char* kTokenColumns = "id, user_id, prefix, note, created, expires_at, last_activity";

std::string where_clause(const UserQuery& q) {
  std::string w = " WHERE 1=1";
  if (!q.search.empty()) w += " AND instr(name, ?1) > 0";
  if (!q.status.empty()) w += " AND status = ?2";
  return w;
}

void bind_query(common::Statement& st, const UserQuery& q) {
  if (!q.search.empty()) st.bind(1, lower_ascii(q.search));
  if (!q.status.empty()) st.bind(2, q.status);
}

// One CSV/TSV line into fields; quotes per RFC 4180.
std::vector<std::string> split_fields(std::string_view line, std::string* error) {
  std::vector<std::string> fields;
  std::string cur;
  bool quoted = false, was_quoted = false;
  char sep = line.find('\t') != std::string_view::npos && line.find(',') == std::string_view::npos ? '\t' : ',';
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"' && cur.find_first_not_of(" \t") == std::string::npos) {
      cur.clear();
      quoted = was_quoted = true;
    } else if (c == sep) {
      fields.push_back(was_quoted ? cur : std::string(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) *error = "unterminated quote";
  fields.push_back(cur);
  return fields;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::string normalize_username(std::string_view raw) {
  std::string name = trim(raw);
  if (name.empty()) throw AccountError(400, "a username is required");
  for (unsigned char c : name) {
    if (c >= 0x80)
      throw AccountError(400, "usernames must use only ASCII letters a-z, digits and . _ - @ (no accented or non-Latin letters)");
  }
  if (name.size() > kMaxUsernameLength)
    throw AccountError(400, "usernames are at most " + std::to_string(kMaxUsernameLength) + " characters");
  name = lower_ascii(name);
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '@';
    if (ok) continue;
    std::string what = c == ' '   ? "spaces"
                       : c == '/' ? "'/'"
                       : c < 0x20 || c == 0x7f ? "control characters"
                                                : std::string("'") + static_cast<char>(c) + "'";
    throw AccountError(400, "usernames may contain only letters a-z, digits and . _ - @ (" + what + " is not allowed)");
  }
  if (!std::isalnum(static_cast<unsigned char>(name.front())))
    throw AccountError(400, "usernames must start with a letter or a digit");
  return name;
}

bool is_common_password(std::string_view password) {
  static const std::unordered_set<std::string_view> kSet(std::begin(kCommonPasswords), std::end(kCommonPasswords));
  return kSet.count(lower_ascii(password)) > 0;
}

void check_password_policy(std::string_view password, const HubConfig& config) {
  std::size_t min_length = static_cast<std::size_t>(std::max(1, config.native_minimum_password_length));
  if (password.size() < min_length)
    throw AccountError(400, "passwords must be at least " + std::to_string(min_length) + " characters");
  if (password.size() > kMaxPasswordLength)
    throw AccountError(400, "passwords must be at most " + std::to_string(kMaxPasswordLength) + " characters");
  if (config.native_check_common_password && is_common_password(password))
    throw AccountError(400, "this password is one of the most common passwords; choose another");
}

std::string hash_password(std::string_view password) {
  std::string salt = crypto::random_bytes(kSaltLength);
  std::size_t len = argon2_encodedlen(kArgonTime, kArgonMemoryKiB, kArgonLanes, kSaltLength, kHashLength, Argon2_id);
  std::string encoded(len, '\0');
  int rc = argon2id_hash_encoded(kArgonTime, kArgonMemoryKiB, kArgonLanes, password.data(), password.size(),
                                 salt.data(), salt.size(), kHashLength, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) throw std::runtime_error(std::string("password hashing failed: ") + argon2_error_message(rc));
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

bool verify_password(std::string_view encoded_hash, std::string_view password) {
  std::string h(encoded_hash);
  return argon2id_verify(h.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::optional<User> find_user(common::Database& db, std::string_view name) {
  auto st = db.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE name = ?");
  st.bind(1, name);
  if (!st.step()) return std::nullopt;
  return read_user(st);
}

std::optional<User> find_user_by_id(common::Database& db, std::int64_t id) {
  auto st = db.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_user(st);
}

std::optional<std::string> password_hash_of(common::Database& db, std::int64_t user_id) {
  auto st = db.prepare("SELECT password_hash FROM users WHERE id = ?");
  st.bind(1, user_id);
  if (!st.step()) return std::nullopt;
  return st.column_optional_text(0);
}

User create_user(common::Database& db, const NewUser& user) {
  auto st = db.prepare(
      "INSERT INTO users (name, admin, instructor, password_hash, status, created) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT(name) DO NOTHING");
  st.bind(1, user.name).bind(2, user.admin).bind(3, user.instructor).bind(4, user.password_hash);
  st.bind(5, user.status).bind(6, now_seconds());
  st.run();
  if (db.changes() == 0) throw AccountError(409, "user " + user.name + " already exists");
  return *find_user_by_id(db, db.last_insert_rowid());
}

std::vector<User> list_users(common::Database& db, const UserQuery& query) {
  std::string sql = std::string("SELECT ") + kUserColumns + " FROM users" + where_clause(query) +
                    " ORDER BY name LIMIT ?3 OFFSET ?4";
  auto st = db.prepare(sql);
  bind_query(st, query);
  st.bind(3, query.limit).bind(4, std::max<std::int64_t>(0, query.offset));
  std::vector<User> out;
  while (st.step()) out.push_back(read_user(st));
  return out;
}

std::int64_t count_users(common::Database& db, const UserQuery& query) {
  auto st = db.prepare("SELECT count(*) FROM users" + where_clause(query));
  bind_query(st, query);
  st.step();
  return st.column_int64(0);
}

void set_password_hash(common::Database& db, std::int64_t user_id, const std::string& hash) {
  auto st = db.prepare("UPDATE users SET password_hash = ? WHERE id = ?");
  st.bind(1, hash).bind(2, user_id).run();
}

void set_admin(common::Database& db, std::int64_t user_id, bool admin) {
  db.prepare("UPDATE users SET admin = ? WHERE id = ?").bind(1, admin).bind(2, user_id).run();
}

void set_instructor(common::Database& db, std::int64_t user_id, bool instructor) {
  db.prepare("UPDATE users SET instructor = ? WHERE id = ?").bind(1, instructor).bind(2, user_id).run();
}

void set_status(common::Database& db, std::int64_t user_id, std::string_view status) {
  db.prepare("UPDATE users SET status = ? WHERE id = ?").bind(1, status).bind(2, user_id).run();
}

void touch_activity(common::Database& db, std::int64_t user_id) {
  db.prepare("UPDATE users SET last_activity = ? WHERE id = ?").bind(1, now_seconds()).bind(2, user_id).run();
}

bool delete_user(common::Database& db, std::int64_t user_id) {
  db.prepare("DELETE FROM users WHERE id = ?").bind(1, user_id).run();
  return db.changes() > 0;
}

void revoke_sessions(common::Database& db, std::int64_t user_id) {
  db.prepare("DELETE FROM sessions WHERE user_id = ?").bind(1, user_id).run();
}

NewToken create_token(common::Database& db, std::int64_t user_id, std::string note,
                      std::optional<std::int64_t> expires_in_seconds) {
  if (expires_in_seconds && *expires_in_seconds <= 0) throw AccountError(400, "expires_in must be a positive number of seconds");
  if (note.size() > 1000) throw AccountError(400, "token notes are at most 1000 characters");
  NewToken out;
  out.secret = crypto::random_hex(32);
  double now = now_seconds();
  std::optional<double> expires;
  if (expires_in_seconds) expires = now + static_cast<double>(*expires_in_seconds);
  auto st = db.prepare("INSERT INTO api_tokens (user_id, hash, prefix, note, created, expires_at) VALUES (?, ?, ?, ?, ?, ?)");
  st.bind(1, user_id).bind(2, crypto::sha256_hex(out.secret)).bind(3, out.secret.substr(0, 4)).bind(4, note);
  st.bind(5, now).bind(6, expires);
  st.run();
  out.token = *get_token(db, user_id, db.last_insert_rowid());
  return out;
}

std::optional<Token> find_token(common::Database& db, std::string_view secret) {
  auto st = db.prepare(std::string("SELECT ") + kTokenColumns +
                       " FROM api_tokens WHERE hash = ? AND (expires_at IS NULL OR expires_at > ?)");
  st.bind(1, crypto::sha256_hex(secret)).bind(2, now_seconds());
  if (!st.step()) return std::nullopt;
  return read_token(st);
}

std::vector<Token> list_tokens(common::Database& db, std::int64_t user_id) {
  auto st = db.prepare(std::string("SELECT ") + kTokenColumns + " FROM api_tokens WHERE user_id = ? ORDER BY id");
  st.bind(1, user_id);
  std::vector<Token> out;
  while (st.step()) out.push_back(read_token(st));
  return out;
}

std::optional<Token> get_token(common::Database& db, std::int64_t user_id, std::int64_t token_id) {
  auto st = db.prepare(std::string("SELECT ") + kTokenColumns + " FROM api_tokens WHERE user_id = ? AND id = ?");
  st.bind(1, user_id).bind(2, token_id);
  if (!st.step()) return std::nullopt;
  return read_token(st);
}

bool delete_token(common::Database& db, std::int64_t user_id, std::int64_t token_id) {
  db.prepare("DELETE FROM api_tokens WHERE user_id = ? AND id = ?").bind(1, user_id).bind(2, token_id).run();
  return db.changes() > 0;
}

void touch_token(common::Database& db, std::int64_t token_id) {
  db.prepare("UPDATE api_tokens SET last_activity = ? WHERE id = ?").bind(1, now_seconds()).bind(2, token_id).run();
}

LoginLimits user_limits(const HubConfig& config) {
  return {std::max(1, config.login_max_failures), std::max(1, config.login_lockout_seconds)};
}

LoginLimits address_limits(const HubConfig& config) {
  auto l = user_limits(config);
  l.max_failures *= 10;
  return l;
}

double locked_for(common::Database& db, const std::string& key, double now) {
  auto st = db.prepare("SELECT locked_until FROM login_failures WHERE key = ?");
  st.bind(1, key);
  if (!st.step()) return 0;
  double until = st.column_double(0);
  return until > now ? until - now : 0;
}

void record_failure(common::Database& db, const std::string& key, const LoginLimits& limits, double now) {
  db.transaction([&] {
    auto st = db.prepare("SELECT failures, window_start FROM login_failures WHERE key = ?");
    st.bind(1, key);
    int failures = 0;
    double window_start = now;
    if (st.step()) {
      failures = static_cast<int>(st.column_int64(0));
      window_start = st.column_double(1);
      if (now - window_start > limits.lockout_seconds) {
        failures = 0;
        window_start = now;
      }
    }
    ++failures;
    double locked_until = 0;
    if (failures >= limits.max_failures) {
      locked_until = now + limits.lockout_seconds;
      failures = 0;
      window_start = now;
    }
    auto up = db.prepare(
        "INSERT INTO login_failures (key, failures, window_start, locked_until) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT(key) DO UPDATE SET failures = ?2, window_start = ?3, "
        "locked_until = max(locked_until, ?4)");
    up.bind(1, key).bind(2, failures).bind(3, window_start).bind(4, locked_until).run();
  });
}

void clear_failures(common::Database& db, const std::string& key) {
  db.prepare("DELETE FROM login_failures WHERE key = ?").bind(1, key).run();
}

ImportPlan parse_user_list(std::string_view text, const HubConfig& config) {
  ImportPlan plan;
  std::unordered_set<std::string> seen;
  int line_no = 0;
  bool first_content = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    std::string error;
    auto fields = split_fields(line, &error);
    std::string where = "line " + std::to_string(line_no) + ": ";
    if (!error.empty()) {
      plan.errors.push_back(where + error);
      continue;
    }
    for (auto& f : fields) f = trim(f);
    if (first_content) {
      first_content = false;
      std::string h = lower_ascii(fields[0]);
      if (h == "name" || h == "username") continue;
    }
    if (fields.size() > 3) {
      plan.errors.push_back(where + "expected name[,password[,admin]], got " + std::to_string(fields.size()) + " fields");
      continue;
    }
    ImportRow row;
    row.line = line_no;
    try {
      row.name = normalize_username(fields[0]);
    } catch (const AccountError& e) {
      plan.errors.push_back(where + e.what());
      continue;
    }
    if (!seen.insert(row.name).second) {
      plan.errors.push_back(where + "user " + row.name + " is listed twice");
      continue;
    }
    if (fields.size() >= 2 && !fields[1].empty()) {
      try {
        check_password_policy(fields[1], config);
      } catch (const AccountError& e) {
        plan.errors.push_back(where + "password of " + row.name + ": " + e.what());
        continue;
      }
      row.password = fields[1];
    }
    if (fields.size() == 3) {
      std::string a = lower_ascii(fields[2]);
      if (a == "true" || a == "yes" || a == "1" || a == "admin" || a == "y") {
        row.admin = true;
      } else if (!(a.empty() || a == "false" || a == "no" || a == "0" || a == "n")) {
        plan.errors.push_back(where + "admin flag must be true/false, yes/no or 1/0 (got '" + fields[2] + "')");
        continue;
      }
    }
    plan.rows.push_back(std::move(row));
  }
  return plan;
}

ImportResult import_users(common::Database& db, const ImportPlan& plan) {
  if (!plan.errors.empty()) throw AccountError(400, "the user list has errors; nothing was imported");
  // Hash first, outside the write transaction, so the database is locked briefly.
  std::vector<std::optional<std::string>> hashes;
  for (const auto& row : plan.rows) {
    if (row.password && !find_user(db, row.name)) hashes.push_back(hash_password(*row.password));
    else hashes.emplace_back();
  }
  ImportResult result;
  db.transaction([&] {
    result = {};
    for (std::size_t i = 0; i < plan.rows.size(); ++i) {
      const auto& row = plan.rows[i];
      if (find_user(db, row.name)) {
        result.existing.push_back(row.name);
        continue;
      }
      NewUser u;
      u.name = row.name;
      u.admin = row.admin;
      u.password_hash = hashes[i];
      create_user(db, u);
      result.created.push_back(row.name);
    }
  });
  return result;
}

}  // namespace hub::accounts
