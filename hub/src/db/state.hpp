#pragma once
// The hub's state folder P/state (mode 0700): the SQLite database, the
// cookie secret, the pid file.  Used by `serve` and by the CLI commands that
// touch accounts (they work with or without a running hub: SQLite in WAL
// mode lets both write).
#include <memory>
#include <string>

namespace common {
class Database;
}

namespace hub::db {

// Creates P/state with mode 0700 when missing (and P itself), and tightens
// the mode of an existing one.  Returns the path.  Throws std::runtime_error.
std::string prepare_state_dir(const std::string& prefix);

// P/state/cookie_secret: 32 random bytes (hex), created once with mode 0600
// and reused forever after, so restarts keep sessions valid.
std::string load_cookie_secret(const std::string& state_dir);

// Opens P/state/hub.sqlite (creating state dir and file) and migrates it.
std::unique_ptr<common::Database> open_hub_database(const std::string& prefix);

}  // namespace hub::db
