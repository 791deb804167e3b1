// Accounts library: username rules, password policy and hashing, user lists
// to import, login counters, sessions revoked with their user.
#include <doctest/doctest.h>

#include <string>

#include "auth/accounts.hpp"
#include "common/sqlite.hpp"
#include "db/migrations.hpp"

using namespace hub::accounts;

namespace {

common::Database migrated() {
  common::Database db(":memory:");
  hub::db::migrate(db);
  return db;
}

std::string error_of(std::string_view raw) {
  try {
    normalize_username(raw);
  } catch (const AccountError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("usernames are trimmed and lowercased, and anything else unusual is refused with a reason") {
  CHECK(normalize_username("  Alice.Smith@Uni ") == "alice.smith@uni");
  CHECK(normalize_username("x") == "x");
  CHECK(error_of("a/b").find("'/'") != std::string::npos);
  CHECK(error_of("a b").find("spaces") != std::string::npos);
  CHECK(error_of("a\x01") .find("control") != std::string::npos);
  CHECK(error_of("jos\xc3\xa9").find("ASCII") != std::string::npos);
  CHECK(error_of(std::string(65, 'a')).find("at most 64") != std::string::npos);
  CHECK(error_of(std::string(64, 'a')).empty());
  CHECK(error_of(".hidden").find("start with") != std::string::npos);
  CHECK(error_of("   ").find("required") != std::string::npos);
}

TEST_CASE("the password policy names the rule that failed, and hashes verify only the right password") {
  hub::HubConfig cfg;
  CHECK_THROWS_WITH_AS(check_password_policy("short", cfg), "passwords must be at least 8 characters", AccountError);
  CHECK_THROWS_AS(check_password_policy("Password1", cfg), AccountError);  // common, any case
  CHECK(is_common_password("QWERTY123"));
  CHECK_NOTHROW(check_password_policy("Tidal-Sparrow-41", cfg));
  cfg.native_check_common_password = false;
  CHECK_NOTHROW(check_password_policy("password1", cfg));
  auto hash = hash_password("Tidal-Sparrow-41");
  CHECK(hash.rfind("$argon2id$", 0) == 0);
  CHECK(hash.find("Tidal") == std::string::npos);
  CHECK(verify_password(hash, "Tidal-Sparrow-41"));
  CHECK_FALSE(verify_password(hash, "tidal-sparrow-41"));
  CHECK(hash_password("Tidal-Sparrow-41") != hash);  // salted
}

TEST_CASE("a pasted class list parses headers, quotes, tabs and admin flags, and reports every bad line") {
  hub::HubConfig cfg;
  auto plan = parse_user_list(
      "username,password,admin\r\n"
      "Ann\n"
      "\n# a comment\n"
      "bob,\"Comma, Inside-9\",yes\n"
      "carl\tTab-Separated-7\n",
      cfg);
  REQUIRE(plan.errors.empty());
  REQUIRE(plan.rows.size() == 3);
  CHECK(plan.rows[0].name == "ann");
  CHECK_FALSE(plan.rows[0].password);
  CHECK(plan.rows[1].password == std::optional<std::string>("Comma, Inside-9"));
  CHECK(plan.rows[1].admin);
  CHECK(plan.rows[2].password == std::optional<std::string>("Tab-Separated-7"));

  auto bad = parse_user_list("ok\nnot ok\nok\nweak,123\nx,Fine-Pass-1,perhaps\n\"open\n", cfg);
  REQUIRE(bad.errors.size() == 5);
  CHECK(bad.errors[0].rfind("line 2:", 0) == 0);
  CHECK(bad.errors[1].find("twice") != std::string::npos);
  CHECK(bad.errors[2].find("line 4") != std::string::npos);
  CHECK(bad.errors[3].find("admin flag") != std::string::npos);
  CHECK(bad.errors[4].find("quote") != std::string::npos);
  auto db = migrated();
  CHECK_THROWS_AS(import_users(db, bad), AccountError);
  CHECK(count_users(db) == 0);
}

TEST_CASE("importing twice adds nobody the second time and keeps existing accounts as they were") {
  hub::HubConfig cfg;
  auto db = migrated();
  NewUser pre;
  pre.name = "bob";
  pre.admin = true;
  create_user(db, pre);
  auto plan = parse_user_list("ann,Ann-Pass-123\nbob,Bob-Pass-123\n", cfg);
  auto first = import_users(db, plan);
  CHECK(first.created == std::vector<std::string>{"ann"});
  CHECK(first.existing == std::vector<std::string>{"bob"});
  CHECK(find_user(db, "bob")->admin);
  CHECK_FALSE(find_user(db, "bob")->has_password);
  auto second = import_users(db, plan);
  CHECK(second.created.empty());
  CHECK(count_users(db) == 2);
}

TEST_CASE("failed logins lock a key after the allowance, and the lock expires") {
  auto db = migrated();
  LoginLimits limits{3, 60};
  double t = 1000;
  record_failure(db, "user:ann", limits, t);
  record_failure(db, "user:ann", limits, t + 1);
  CHECK(locked_for(db, "user:ann", t + 2) == 0);
  record_failure(db, "user:ann", limits, t + 2);
  CHECK(locked_for(db, "user:ann", t + 3) == doctest::Approx(59));
  CHECK(locked_for(db, "user:bob", t + 3) == 0);
  CHECK(locked_for(db, "user:ann", t + 63) == 0);
  // Failures spread wider than the window do not add up.
  record_failure(db, "user:cy", limits, t);
  record_failure(db, "user:cy", limits, t + 100);
  record_failure(db, "user:cy", limits, t + 200);
  CHECK(locked_for(db, "user:cy", t + 201) == 0);
  clear_failures(db, "user:ann");
  CHECK(locked_for(db, "user:ann", t + 3) == 0);
}

TEST_CASE("deleting a user takes their sessions and tokens with them") {
  auto db = migrated();
  NewUser nu;
  nu.name = "dee";
  auto u = create_user(db, nu);
  db.exec("INSERT INTO sessions (id, user_id, created, last_seen, expires) VALUES ('s1', " + std::to_string(u.id) +
          ", 0, 0, 9e18)");
  auto token = create_token(db, u.id, "note", std::nullopt);
  REQUIRE(find_token(db, token.secret));
  CHECK_FALSE(find_token(db, token.secret + "x"));
  CHECK_THROWS_AS(create_user(db, nu), AccountError);
  CHECK(delete_user(db, u.id));
  CHECK_FALSE(find_token(db, token.secret));
  auto st = db.prepare("SELECT count(*) FROM sessions");
  st.step();
  CHECK(st.column_int64(0) == 0);
}
