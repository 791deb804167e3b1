#pragma once
// Accounts in the hub's database: users, passwords, API tokens, login
// rate limiting, bulk import.  Functions take the connection to use, so the
// hub (App::db() on a worker thread) and the CLI (its own connection) share
// them.  They block on SQLite (and hash_password/verify_password on CPU):
// never call them on an I/O thread.
//
// Errors a user can fix throw AccountError (an http::HttpError carrying the
// status the API answers with and a message fit to show); SQLite failures
// throw common::SqliteError.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"
#include "hub/config.hpp"

namespace common {
class Database;
}

namespace hub::accounts {

class AccountError : public http::HttpError {
 public:
  using http::HttpError::HttpError;
};

// Usernames (documented in README "Usernames"): surrounding whitespace is
// trimmed and ASCII letters are lowercased; the result must be 1-64
// characters of a-z 0-9 . _ - @, starting with a letter or digit.  Anything
// else (spaces inside, '/', control characters, non-ASCII letters) is
// refused with AccountError 400 rather than guessed at: names become Unix
// accounts (jupyter-<name>) and URL segments, and look-alike Unicode would
// allow impersonation.
std::string normalize_username(std::string_view raw);
constexpr std::size_t kMaxUsernameLength = 64;

// The password rules of the config: minimum length, not one of the embedded
// common passwords (case-insensitive), at most 1024 bytes.  Throws
// AccountError 400 saying which rule failed.
void check_password_policy(std::string_view password, const HubConfig& config);
bool is_common_password(std::string_view password);

// argon2id (t=2, m=19 MiB, p=1, random 16-byte salt), PHC string format.
// CPU- and memory-heavy (~tens of ms): run on App::cpu_pool().
std::string hash_password(std::string_view password);
bool verify_password(std::string_view encoded_hash, std::string_view password);

struct User {
  std::int64_t id = 0;
  std::string name;
  bool admin = false;
  bool instructor = false;
  bool has_password = false;
  std::string status = "active";  // "active" | "pending"
  double created = 0;
  std::optional<double> last_activity;
};

std::optional<User> find_user(common::Database& db, std::string_view name);
std::optional<User> find_user_by_id(common::Database& db, std::int64_t id);
std::optional<std::string> password_hash_of(common::Database& db, std::int64_t user_id);

struct NewUser {
  std::string name;  // already normalised
  bool admin = false;
  bool instructor = false;
  std::optional<std::string> password_hash;
  std::string status = "active";
};
// Throws AccountError 409 when the name is taken.
User create_user(common::Database& db, const NewUser& user);

struct UserQuery {
  std::string search;       // substring of the name ("" = all)
  std::string status;       // "" | "active" | "pending"
  std::int64_t offset = 0;
  std::int64_t limit = -1;  // -1: no limit
};
std::vector<User> list_users(common::Database& db, const UserQuery& query = {});
std::int64_t count_users(common::Database& db, const UserQuery& query = {});

void set_password_hash(common::Database& db, std::int64_t user_id, const std::string& hash);
void set_admin(common::Database& db, std::int64_t user_id, bool admin);
void set_instructor(common::Database& db, std::int64_t user_id, bool instructor);
void set_status(common::Database& db, std::int64_t user_id, std::string_view status);
void touch_activity(common::Database& db, std::int64_t user_id);
// Deletes the user and (by cascade) their sessions and tokens.  False when absent.
bool delete_user(common::Database& db, std::int64_t user_id);
// Removes every session of a user (logout everywhere).
void revoke_sessions(common::Database& db, std::int64_t user_id);

// API tokens: 32 random bytes as hex; only the SHA-256 is stored.
struct Token {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string prefix;
  std::string note;
  double created = 0;
  std::optional<double> expires_at;
  std::optional<double> last_activity;
};
struct NewToken {
  Token token;
  std::string secret;  // shown once, never stored
};
NewToken create_token(common::Database& db, std::int64_t user_id, std::string note,
                      std::optional<std::int64_t> expires_in_seconds);
// The live (unexpired) token with this secret, or nullopt.
std::optional<Token> find_token(common::Database& db, std::string_view secret);
std::vector<Token> list_tokens(common::Database& db, std::int64_t user_id);
std::optional<Token> get_token(common::Database& db, std::int64_t user_id, std::int64_t token_id);
bool delete_token(common::Database& db, std::int64_t user_id, std::int64_t token_id);
void touch_token(common::Database& db, std::int64_t token_id);

// Failed-login counters, persisted so a restart does not reset them.  Keys:
// "user:<name>" and "addr:<ip>".  A key is locked for `lockout_seconds`
// once it collected `max_failures` failures within that many seconds.
struct LoginLimits {
  int max_failures;
  int lockout_seconds;
};
LoginLimits user_limits(const HubConfig& config);
// Per client address: ten times the per-user allowance (a class behind one
// NAT shares an address).
LoginLimits address_limits(const HubConfig& config);
// Seconds left of a lockout, or 0.
double locked_for(common::Database& db, const std::string& key, double now);
void record_failure(common::Database& db, const std::string& key, const LoginLimits& limits, double now);
void clear_failures(common::Database& db, const std::string& key);

// A list of users to add, from a CSV file or the admin page's paste box:
// one user per line, "name[,password[,admin]]", comma- or tab-separated,
// fields may be double-quoted ("" inside quotes is a quote).  A first line
// whose first field is "name" or "username" is a header.  Blank lines and
// lines starting with '#' are skipped.  admin: true/yes/1/admin (any case),
// false/no/0/empty.
struct ImportRow {
  int line = 0;
  std::string name;  // normalised
  std::optional<std::string> password;
  bool admin = false;
};
struct ImportPlan {
  std::vector<ImportRow> rows;
  std::vector<std::string> errors;  // "line 3: ...": nothing is imported while there are errors
};
ImportPlan parse_user_list(std::string_view text, const HubConfig& config);

struct ImportResult {
  std::vector<std::string> created;
  std::vector<std::string> existing;  // already there: left unchanged
};
// Applies a plan without errors in one transaction (all or nothing).
// Passwords are hashed here: call on a worker thread, not an I/O thread.
ImportResult import_users(common::Database& db, const ImportPlan& plan);

}  // namespace hub::accounts
