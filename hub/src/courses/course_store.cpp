#include "courses/course_store.hpp"

#include <charconv>

#include "common/sqlite.hpp"
#include "common/time_util.hpp"
#include "gitpuller/error.hpp"
#include "gitpuller/url.hpp"

namespace hub::courses {
namespace {

constexpr std::size_t kMaxTitle = 200;
constexpr std::size_t kMaxBranch = 250;
constexpr std::size_t kMaxPath = 1000;
constexpr std::size_t kMaxUrl = 2000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

const char* kColumns =
    "c.id, c.title, c.repo_url, c.repo_key, c.default_branch, c.default_file, u.name, c.created, c.updated "
    "FROM courses c LEFT JOIN users u ON u.id = c.created_by";

Course row(const common::Statement& st) {
  Course c;
  c.id = st.column_int64(0);
  c.title = st.column_text(1);
  c.repo_url = st.column_text(2);
  c.repo_key = st.column_text(3);
  c.default_branch = st.column_text(4);
  c.default_file = st.column_text(5);
  c.created_by = st.column_optional_text(6);
  c.created = st.column_double(7);
  c.updated = st.column_double(8);
  return c;
}

gitpuller::RepoUrl check_repo(std::string_view raw) {
  std::string_view url = trim(raw);
  if (url.empty()) throw CourseError(400, "repo: the repository URL is required");
  if (url.size() > kMaxUrl) throw CourseError(400, "repo: the repository URL is too long");
  if (has_control(url) || url.find(' ') != std::string_view::npos)
    throw CourseError(400, "repo: the repository URL must not contain spaces or control characters");
  try {
    return gitpuller::parse_repo_url(url);
  } catch (const gitpuller::SyncError& e) {
    throw CourseError(400, std::string("repo: ") + e.what());
  }
}

void ensure_unique(common::Database& db, const std::string& key, std::int64_t except_id) {
  auto st = db.prepare("SELECT id, title FROM courses WHERE repo_key = ? AND id != ?");
  st.bind(1, key).bind(2, except_id);
  if (st.step())
    throw CourseError(409, "repo: this repository is already registered as the course \"" + st.column_text(1) +
                               "\" (number " + std::to_string(st.column_int64(0)) + ")");
}

}  // namespace

std::string check_title(std::string_view raw) {
  std::string_view title = trim(raw);
  if (title.size() > kMaxTitle) throw CourseError(400, "title: at most 200 characters");
  if (has_control(title)) throw CourseError(400, "title: control characters are not allowed");
  return std::string(title);
}

std::string check_branch(std::string_view raw) {
  std::string_view b = trim(raw);
  if (b.empty()) return "";
  auto bad = [](const std::string& why) { return CourseError(400, "branch: " + why); };
  if (b.size() > kMaxBranch) throw bad("at most 250 characters");
  if (has_control(b) || b.find(' ') != std::string_view::npos) throw bad("spaces and control characters are not allowed");
  if (b.find_first_of("~^:?*[\\") != std::string_view::npos) throw bad("the characters ~ ^ : ? * [ \\ are not allowed");
  if (b.find("..") != std::string_view::npos || b.find("@{") != std::string_view::npos || b.find("//") != std::string_view::npos)
    throw bad("'..', '@{' and '//' are not allowed");
  if (b.front() == '-' || b.front() == '/' || b.back() == '/' || b.back() == '.')
    throw bad("must not start with '-' or '/' nor end with '/' or '.'");
  if (b.size() >= 5 && b.substr(b.size() - 5) == ".lock") throw bad("must not end with '.lock'");
  if (b == "@") throw bad("'@' alone is not a branch");
  return std::string(b);
}

std::string check_repo_path(std::string_view raw, const char* field) {
  std::string_view p = trim(raw);
  if (p.empty()) return "";
  auto bad = [field](const std::string& why) { return CourseError(400, std::string(field) + ": " + why); };
  if (p.size() > kMaxPath) throw bad("at most 1000 characters");
  if (has_control(p)) throw bad("control characters are not allowed");
  if (p.front() == '/' || p.front() == '\\') throw bad("must be a relative path (no leading '/')");
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  std::size_t start = 0;
  while (start <= p.size()) {
    auto end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    auto part = p.substr(start, end - start);
    if (part.empty()) throw bad("empty path components ('//') are not allowed");
    if (part == "." || part == "..") throw bad("'.' and '..' are not allowed");
    start = end + 1;
  }
  return std::string(p);
}

std::vector<Course> list_courses(common::Database& db) {
  auto st = db.prepare(std::string("SELECT ") + kColumns + " ORDER BY c.title COLLATE NOCASE, c.id");
  std::vector<Course> out;
  while (st.step()) out.push_back(row(st));
  return out;
}

std::optional<Course> find_course(common::Database& db, std::int64_t id) {
  auto st = db.prepare(std::string("SELECT ") + kColumns + " WHERE c.id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return row(st);
}

std::optional<Course> find_course_by_repo(common::Database& db, std::string_view repo_url) {
  auto st = db.prepare(std::string("SELECT ") + kColumns + " WHERE c.repo_key = ?");
  st.bind(1, gitpuller::repo_key(repo_url));
  if (!st.step()) return std::nullopt;
  return row(st);
}

Course course_or_404(common::Database& db, std::string_view id) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  if (ec == std::errc() && p == id.data() + id.size() && n > 0)
    if (auto c = find_course(db, n)) return *c;
  throw CourseError(404, "no such course");
}

Course create_course(common::Database& db, const CourseInput& input, const std::string& created_by) {
  if (!input.repo) throw CourseError(400, "repo: the repository URL is required");
  auto url = check_repo(*input.repo);
  std::string title = check_title(input.title.value_or(""));
  if (title.empty()) title = gitpuller::default_folder_name(url.clean);
  std::string branch = check_branch(input.branch.value_or(""));
  std::string file = check_repo_path(input.file.value_or(""), "file");
  std::int64_t id = 0;
  db.transaction([&] {
    ensure_unique(db, url.key, 0);
    double now = common::unix_seconds();
    auto st = db.prepare(
        "INSERT INTO courses (title, repo_url, repo_key, default_branch, default_file, created_by, created, updated) "
        "VALUES (?, ?, ?, ?, ?, (SELECT id FROM users WHERE name = ?), ?, ?)");
    st.bind(1, title).bind(2, url.clean).bind(3, url.key).bind(4, branch).bind(5, file).bind(6, created_by);
    st.bind(7, now).bind(8, now);
    st.run();
    id = db.last_insert_rowid();
  });
  return *find_course(db, id);
}

Course update_course(common::Database& db, std::int64_t id, const CourseInput& input) {
  auto current = find_course(db, id);
  if (!current) throw CourseError(404, "no such course");
  Course next = *current;
  if (input.repo) {
    auto url = check_repo(*input.repo);
    next.repo_url = url.clean;
    next.repo_key = url.key;
  }
  if (input.title) {
    next.title = check_title(*input.title);
    if (next.title.empty()) next.title = gitpuller::default_folder_name(next.repo_url);
  }
  if (input.branch) next.default_branch = check_branch(*input.branch);
  if (input.file) next.default_file = check_repo_path(*input.file, "file");
  db.transaction([&] {
    ensure_unique(db, next.repo_key, id);
    auto st = db.prepare(
        "UPDATE courses SET title = ?, repo_url = ?, repo_key = ?, default_branch = ?, default_file = ?, updated = ? "
        "WHERE id = ?");
    st.bind(1, next.title).bind(2, next.repo_url).bind(3, next.repo_key).bind(4, next.default_branch);
    st.bind(5, next.default_file).bind(6, common::unix_seconds()).bind(7, id);
    st.run();
  });
  return *find_course(db, id);
}

bool delete_course(common::Database& db, std::int64_t id) {
  db.prepare("DELETE FROM courses WHERE id = ?").bind(1, id).run();
  return db.changes() > 0;
}

}  // namespace hub::courses
