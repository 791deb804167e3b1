#pragma once
// What students synced: per-course statistics and a student's own synced
// folders, read from the `pulls` table that the git-pull module writes (one
// row per sync; see hub/src/db/migrations.cpp).  Read-only.  Functions take
// the connection to use and block on SQLite (worker threads).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace common {
class Database;
}

namespace hub::courses {

// One student's folder of one repository: its last successful sync and its
// last attempt (which may have failed after it).
struct FolderState {
  std::string user;
  std::string target;  // folder, relative to the student's home
  std::string repo;    // clean upstream URL of the last attempt
  std::string repo_key;
  std::string branch;  // as the last attempt asked for it ("" = upstream's default)
  // The last successful sync, if any.
  std::optional<std::string> commit;       // upstream commit it brought
  std::optional<std::string> success_branch;  // branch that success asked for
  std::optional<double> synced_at;
  std::optional<std::string> synced_outcome;  // cloned, merged, ...
  // The last attempt.
  std::string last_outcome;  // "running", "error", or a success outcome
  std::optional<std::string> error_code;
  std::optional<std::string> error_message;
  double attempted_at = 0;
};

struct Failure {
  std::string user;
  std::string target;
  std::string branch;
  std::string code;
  std::string message;
  double at = 0;
};

// Every (student, folder) that synced the repository with this key
// (gitpuller::repo_key), by user then folder.
std::vector<FolderState> folders_of_repo(common::Database& db, const std::string& repo_key);
// Every folder this user synced (any repository), by folder.
std::vector<FolderState> folders_of_user(common::Database& db, std::int64_t user_id);
// The newest failed syncs of the repository, newest first.
std::vector<Failure> recent_failures(common::Database& db, const std::string& repo_key, int limit);
// Failed syncs of the repository since `since` (Unix time), by error code.
std::map<std::string, std::int64_t> failure_counts(common::Database& db, const std::string& repo_key, double since);

}  // namespace hub::courses
