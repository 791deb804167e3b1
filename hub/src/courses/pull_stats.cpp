#include "courses/pull_stats.hpp"

#include "common/sqlite.hpp"

namespace hub::courses {
namespace {

// The newest attempt, and the newest success, per (user, folder) among the
// rows matching `where` (one bound parameter; an indexed column).  A folder
// that held two repositories over time shows the newest.
template <class Value>
std::vector<FolderState> folders(common::Database& db, const std::string& where, const Value& value) {
  std::vector<FolderState> out;
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  {
    auto st = db.prepare(
        "SELECT user_name, target, repo, repo_key, branch, outcome, error_code, error_message, started FROM ("
        "  SELECT p.*, ROW_NUMBER() OVER (PARTITION BY user_name, target ORDER BY id DESC) AS newest"
        "  FROM pulls p WHERE " + where + ") WHERE newest = 1 ORDER BY user_name, target");
    st.bind(1, value);
    while (st.step()) {
      FolderState f;
      f.user = st.column_text(0);
      f.target = st.column_text(1);
      f.repo = st.column_text(2);
      f.repo_key = st.column_text(3);
      f.branch = st.column_text(4);
      f.last_outcome = st.column_text(5);
      f.error_code = st.column_optional_text(6);
      f.error_message = st.column_optional_text(7);
      f.attempted_at = st.column_double(8);
      index[{f.user, f.target}] = out.size();
      out.push_back(std::move(f));
    }
  }
  auto st = db.prepare(
      "SELECT user_name, target, repo_key, upstream_commit, branch, COALESCE(finished, started), outcome FROM ("
      "  SELECT p.*, ROW_NUMBER() OVER (PARTITION BY user_name, target, repo_key ORDER BY id DESC) AS newest"
      "  FROM pulls p WHERE " + where + " AND outcome NOT IN ('running', 'error')) WHERE newest = 1");
  st.bind(1, value);
  while (st.step()) {
    auto it = index.find({st.column_text(0), st.column_text(1)});
    if (it == index.end()) continue;
    FolderState& f = out[it->second];
    if (st.column_text(2) != f.repo_key) continue;  // an older repository of that folder
    f.commit = st.column_optional_text(3);
    f.success_branch = st.column_text(4);
    f.synced_at = st.column_double(5);
    f.synced_outcome = st.column_text(6);
  }
  return out;
}

}  // namespace

std::vector<FolderState> folders_of_repo(common::Database& db, const std::string& repo_key) {
  return folders(db, "p.repo_key = ?", repo_key);
}

std::vector<FolderState> folders_of_user(common::Database& db, std::int64_t user_id) {
  return folders(db, "p.user_id = ?", user_id);
}

std::vector<Failure> recent_failures(common::Database& db, const std::string& repo_key, int limit) {
  auto st = db.prepare(
      "SELECT user_name, target, branch, COALESCE(error_code, 'unknown'), COALESCE(error_message, ''), started "
      "FROM pulls WHERE repo_key = ? AND outcome = 'error' ORDER BY id DESC LIMIT ?");
  st.bind(1, repo_key).bind(2, limit);
  std::vector<Failure> out;
  while (st.step())
    out.push_back({st.column_text(0), st.column_text(1), st.column_text(2), st.column_text(3), st.column_text(4),
                   st.column_double(5)});
  return out;
}

std::map<std::string, std::int64_t> failure_counts(common::Database& db, const std::string& repo_key, double since) {
  auto st = db.prepare(
      "SELECT COALESCE(error_code, 'unknown'), COUNT(*) FROM pulls WHERE repo_key = ? AND outcome = 'error' "
      "AND started >= ? GROUP BY 1 ORDER BY 1");
  st.bind(1, repo_key).bind(2, since);
  std::map<std::string, std::int64_t> out;
  while (st.step()) out[st.column_text(0)] = st.column_int64(1);
  return out;
}

}  // namespace hub::courses
