#include "db/migrations.hpp"

#include <stdexcept>

#include "common/sqlite.hpp"

namespace hub::db {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {"hub: accounts, sessions, API tokens, login failures",
       R"sql(
        CREATE TABLE users (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          admin INTEGER NOT NULL DEFAULT 0,
          instructor INTEGER NOT NULL DEFAULT 0,
          password_hash TEXT,                      -- argon2id encoded; NULL: no password set yet
          status TEXT NOT NULL DEFAULT 'active',   -- 'active' | 'pending' (signed up, awaiting approval)
          created REAL NOT NULL,
          last_activity REAL
        );
        CREATE TABLE sessions (
          id TEXT PRIMARY KEY,                     -- SHA-256 (hex) of the session secret in the cookie
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          created REAL NOT NULL,
          last_seen REAL NOT NULL,
          expires REAL NOT NULL
        );
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE TABLE api_tokens (
          id INTEGER PRIMARY KEY,
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          hash TEXT NOT NULL UNIQUE,               -- SHA-256 (hex) of the token
          prefix TEXT NOT NULL,                    -- first characters, to recognise a token
          note TEXT NOT NULL DEFAULT '',
          created REAL NOT NULL,
          expires_at REAL,
          last_activity REAL
        );
        CREATE INDEX api_tokens_user ON api_tokens(user_id);
        CREATE TABLE login_failures (
          key TEXT PRIMARY KEY,                    -- 'user:<name>' or 'addr:<ip>'
          failures INTEGER NOT NULL,
          window_start REAL NOT NULL,
          locked_until REAL NOT NULL DEFAULT 0
        );
       )sql"},
      {"spawner: user servers (for adoption across hub restarts) and their last exits",
       R"sql(
        CREATE TABLE servers (
          user TEXT PRIMARY KEY,                   -- the hub user's name
          pid INTEGER NOT NULL,
          start_ticks INTEGER NOT NULL,            -- /proc/<pid>/stat start time: pid + this name one process
          boot_id TEXT NOT NULL,
          uid INTEGER NOT NULL,
          port INTEGER NOT NULL,
          token TEXT NOT NULL,                     -- the server's own token (P/state is 0700)
          url_prefix TEXT NOT NULL,
          landing TEXT NOT NULL DEFAULT '',
          unix_user TEXT NOT NULL,
          home TEXT NOT NULL,
          log_path TEXT NOT NULL,
          cgroup TEXT NOT NULL DEFAULT '',
          started REAL NOT NULL,
          ready REAL,
          last_activity REAL
        );
        CREATE TABLE server_exits (
          user TEXT PRIMARY KEY,
          at REAL NOT NULL,
          exit_code INTEGER,
          term_signal INTEGER,
          requested INTEGER NOT NULL,
          reason TEXT NOT NULL,
          log_tail TEXT NOT NULL
        );
       )sql"},
      // One row per git-pull click handled by the hub (hub/src/gitpull/).
      // Written by the git-pull module, read by the courses module (per-course
      // stats, a student's "my synced folders").  A row is inserted with
      // outcome 'running' when the sync starts and completed when it ends; the
      // next hub start turns rows a stopped hub left 'running' into errors
      // with code 'interrupted'.
      //   repo         the clean upstream URL (never carries a credential)
      //   repo_key     gitpuller::repo_key(repo): compare repositories with it
      //                (…/course, …/course.git and …/course/ share one key)
      //   branch       the branch (or tag) asked for; '' = upstream's default
      //   target       the folder, relative to the user's home ('course')
      //   commit_id    HEAD of the folder after a successful sync
      //   upstream_commit  upstream's tip that was synced
      //   outcome      'running' | cloned | up_to_date | fast_forwarded |
      //                merged | switched_branch | reset_with_backup | 'error'
      //   error_code   when outcome = 'error': gitpuller's code (clone, fetch,
      //                merge, branch_exist, auth, target_invalid, ...), or the
      //                hub's: source_refused (not in gitpuller.allowed_sources),
      //                bad_link (never recorded: refused before a sync starts),
      //                interrupted (the hub stopped mid-sync)
      //   error_message  the message the student saw (no secrets)
      //   files_kept   JSON array of paths where the student's version won
      //   backup       the backup folder (relative to home) after a history reset
      //   started, finished  Unix time (seconds, fractional)
      {"gitpull: record of every git-pull sync",
       R"sql(
        CREATE TABLE pulls (
          id INTEGER PRIMARY KEY,
          user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
          user_name TEXT NOT NULL,
          repo TEXT NOT NULL,
          repo_key TEXT NOT NULL,
          branch TEXT NOT NULL DEFAULT '',
          target TEXT NOT NULL,
          commit_id TEXT,
          upstream_commit TEXT,
          outcome TEXT NOT NULL DEFAULT 'running',
          error_code TEXT,
          error_message TEXT,
          files_kept TEXT NOT NULL DEFAULT '[]',
          backup TEXT,
          started REAL NOT NULL,
          finished REAL
        );
        CREATE INDEX pulls_user ON pulls(user_id, started);
        CREATE INDEX pulls_repo ON pulls(repo_key, started);
       )sql"},
      {"courses: course repositories registered by instructors",
       R"sql(
        CREATE TABLE courses (
          id INTEGER PRIMARY KEY,
          title TEXT NOT NULL,
          repo_url TEXT NOT NULL,                  -- clean upstream URL, as links name it
          repo_key TEXT NOT NULL UNIQUE,           -- gitpuller::repo_key: one course per repository
          default_branch TEXT NOT NULL DEFAULT '', -- '' = upstream's default branch
          default_file TEXT NOT NULL DEFAULT '',   -- '' = open the folder
          created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
          created REAL NOT NULL,
          updated REAL NOT NULL
        );
       )sql"},
  };
  return kMigrations;
}

void migrate(common::Database& db) {
  const auto& list = migrations();
  const int latest = static_cast<int>(list.size());
  for (;;) {
    int version = db.user_version();
    if (version > latest)
      throw std::runtime_error("the database has schema version " + std::to_string(version) +
                               ", newer than this coursehub knows (" + std::to_string(latest) + "): upgrade coursehub");
    if (version == latest) return;
    db.transaction([&] {
      // Another process may have migrated between our read and BEGIN IMMEDIATE.
      int now = db.user_version();
      if (now != version) return;
      db.exec(list[static_cast<std::size_t>(version)].sql);
      db.set_user_version(version + 1);
    });
  }
}

}  // namespace hub::db
