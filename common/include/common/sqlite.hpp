#pragma once
// A thin, exception-based layer over SQLite3.
//
// Database owns one connection.  SQLite connections are not to be shared
// between threads without care: give each thread its own Database, or guard
// one with a mutex.  Every failure throws SqliteError with SQLite's message.
//
//   common::Database db("state/hub.sqlite");
//   auto st = db.prepare("SELECT id FROM users WHERE name = ?");
//   st.bind(1, name);
//   while (st.step()) use(st.column_int64(0));
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/c_handle.hpp"

namespace common {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }  // SQLite's extended result code
 private:
  int code_;
};

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  // Parameters are 1-based, as in SQLite.
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, bool value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind_null(int index);
  Statement& bind_blob(int index, const void* data, std::size_t size);
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // true while a row is available; false when done.
  bool step();
  // Runs to completion, for statements without result rows.
  void run();
  void reset();

  bool column_is_null(int col) const;
  std::int64_t column_int64(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  std::optional<std::string> column_optional_text(int col) const;

 private:
  sqlite3* db_;
  CHandle<sqlite3_stmt, sqlite3_finalize> stmt_;
};

class Database {
 public:
  // Opens (creating when missing) a database file in WAL mode with a busy
  // timeout, foreign keys on.  ":memory:" works for tests.
  explicit Database(const std::string& path, int busy_timeout_ms = 10000);

  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  std::int64_t last_insert_rowid() const;
  int changes() const;
  // PRAGMA user_version, used for schema migrations.
  int user_version();
  void set_user_version(int v);

  // Runs fn inside BEGIN IMMEDIATE ... COMMIT; rolls back on exception.
  void transaction(const std::function<void()>& fn);

  sqlite3* raw() const { return db_.get(); }

 private:
  CHandle<sqlite3, sqlite3_close_v2> db_;
};

}  // namespace common
