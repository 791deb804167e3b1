#pragma once
// The hub's database schema, as one ordered list of migrations
// (hub/src/db/migrations.cpp).  Migration i (1-based) brings the schema
// from version i-1 to i; PRAGMA user_version records the version reached.
//
// Rules for every module that adds tables:
//  * Append a new entry at the END of the list; never edit or reorder an
//    entry that has landed on main (databases in the field already ran it).
//  * One entry per change, named "<module>: what it does".
//  * Plain SQL; several statements per entry are fine.
//  * A rebase that conflicts in the list: keep both entries, in the order
//    they landed on main.
#include <string>
#include <vector>

namespace common {
class Database;
}

namespace hub::db {

struct Migration {
  const char* name;
  const char* sql;
};

const std::vector<Migration>& migrations();

// Applies the migrations the database has not seen, each in its own
// transaction.  Safe when several processes start at once (BEGIN IMMEDIATE,
// then re-check the version).  Throws std::runtime_error when the database
// is newer than this binary.
void migrate(common::Database& db);

}  // namespace hub::db
