#pragma once
// Course repositories registered by instructors: the upstream URL, the
// branch and file links open by default, a title.  Stored in the hub's
// database (table `courses`); one course per upstream repository (URLs
// that name the same repository, `…/course` and `…/course.git/`, are one).
//
// Functions take the connection to use (App::db() on a worker thread, or the
// CLI's own) and block on SQLite.  Input a user can fix throws CourseError,
// an http::HttpError with the status the API answers (400 bad input, 404 no
// such course, 409 the repository is already registered) and a message fit
// to show.  Nothing here contacts upstream.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace common {
class Database;
}

namespace hub::courses {

class CourseError : public http::HttpError {
 public:
  using http::HttpError::HttpError;
};

struct Course {
  std::int64_t id = 0;
  std::string title;
  std::string repo_url;        // the clean upstream URL (gitpuller::RepoUrl::clean)
  std::string repo_key;        // gitpuller::RepoUrl::key, unique
  std::string default_branch;  // "" = upstream's default branch
  std::string default_file;    // "" = open the folder
  std::optional<std::string> created_by;  // user name; null once that user is deleted
  double created = 0;
  double updated = 0;
};

// What an instructor types.  Unset optionals keep the current value on
// update; on create they mean "empty".
struct CourseInput {
  std::optional<std::string> repo;
  std::optional<std::string> title;   // "" or unset on create: the repository's folder name
  std::optional<std::string> branch;
  std::optional<std::string> file;
};

// Validators shared with the link generator; each throws CourseError 400
// naming the field, and returns the value trimmed of surrounding spaces.
std::string check_title(std::string_view title);
// A branch or tag name as git accepts it (no spaces, control characters,
// "..", "~^:?*[\", leading '-' or '/', trailing '.lock' or '/').  "" is fine.
std::string check_branch(std::string_view branch);
// A '/'-separated path inside the repository: relative, no "." or ".."
// components, no control characters.  "" is fine.
std::string check_repo_path(std::string_view path, const char* field);

std::vector<Course> list_courses(common::Database& db);
std::optional<Course> find_course(common::Database& db, std::int64_t id);
std::optional<Course> find_course_by_repo(common::Database& db, std::string_view repo_url);
// The course of the id as written in a URL ("12"), or CourseError 404.
Course course_or_404(common::Database& db, std::string_view id);

// Validates everything before writing anything.  `repo` is required on
// create.  409 when another course has the same repository.
Course create_course(common::Database& db, const CourseInput& input, const std::string& created_by);
Course update_course(common::Database& db, std::int64_t id, const CourseInput& input);
// false when it did not exist.  Pull records are kept (they are history).
bool delete_course(common::Database& db, std::int64_t id);

}  // namespace hub::courses
