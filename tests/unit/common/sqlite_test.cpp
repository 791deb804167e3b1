#include "common/sqlite.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

TEST_CASE("values with SQL metacharacters round-trip through bound parameters") {
  common::Database db(":memory:");
  db.exec("CREATE TABLE t (name TEXT NOT NULL UNIQUE, n INTEGER)");
  const std::string hostile = "x'); DROP TABLE t; --";
  db.prepare("INSERT INTO t (name, n) VALUES (?, ?)").bind(1, hostile).bind(2, 7).run();
  auto st = db.prepare("SELECT name, n FROM t");
  REQUIRE(st.step());
  CHECK(st.column_text(0) == hostile);
  CHECK(st.column_int64(1) == 7);
  CHECK_FALSE(st.step());
}

TEST_CASE("a failing transaction leaves nothing behind") {
  common::Database db(":memory:");
  db.exec("CREATE TABLE t (name TEXT NOT NULL UNIQUE)");
  CHECK_THROWS(db.transaction([&] {
    db.prepare("INSERT INTO t VALUES ('a')").run();
    db.prepare("INSERT INTO t VALUES ('a')").run();  // violates UNIQUE
  }));
  auto st = db.prepare("SELECT count(*) FROM t");
  REQUIRE(st.step());
  CHECK(st.column_int64(0) == 0);
}

TEST_CASE("constraint violations surface as SqliteError with SQLite's code") {
  common::Database db(":memory:");
  db.exec("CREATE TABLE t (name TEXT NOT NULL)");
  try {
    db.prepare("INSERT INTO t VALUES (NULL)").run();
    FAIL("expected an exception");
  } catch (const common::SqliteError& e) {
    CHECK((e.code() & 0xff) == SQLITE_CONSTRAINT);
  }
}
