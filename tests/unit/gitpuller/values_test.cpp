// Plain values: URLs, target paths, JSON of events and reports.
#include <nlohmann/json.hpp>

#include "gitpuller/json.hpp"
#include "gitpuller/target_path.hpp"
#include "gitpuller/url.hpp"
#include "gitpuller_test_helpers.hpp"

using namespace testutil;
using gitpuller::ErrorCode;

namespace {

ErrorCode target_error(const fs::path& home, const std::string& rel) {
  try {
    gitpuller::resolve_in_home(home, rel);
  } catch (const gitpuller::SyncError& e) {
    return e.code();
  }
  FAIL("expected target_invalid for " << rel);
  return ErrorCode::unknown;
}

}  // namespace

TEST_CASE("repository URLs are normalised for identity and cleaned for origin") {
  CHECK(gitpuller::same_repository("https://H.example/org/course", "https://h.example/org/course.git/"));
  CHECK(gitpuller::same_repository("https://h.example/org/course.git", "https://h.example:443/org/course"));
  CHECK_FALSE(gitpuller::same_repository("https://h.example/org/course", "https://h.example/org/course2"));
  CHECK_FALSE(gitpuller::same_repository("https://h.example/org/course", "http://h.example/org/course"));
  CHECK(gitpuller::same_repository("file:///srv/course.git", "/srv/course"));
  CHECK(gitpuller::same_repository("https://tok@h.example/c.git", "https://h.example/c"));
  auto u = gitpuller::parse_repo_url("  https://h.example/org/course.git/  ");
  CHECK(u.clean == "https://h.example/org/course.git");
  CHECK(u.kind == gitpuller::RepoUrl::Kind::https);
  CHECK(gitpuller::default_folder_name("https://h.example/org/course.git/") == "course");
  CHECK(gitpuller::default_folder_name("/srv/data/intro") == "intro");
  CHECK(gitpuller::strip_userinfo("https://a:b@h/x") == "https://h/x");
  CHECK(gitpuller::parse_repo_url("relative/dir").clean == (fs::current_path() / "relative/dir").string());
}

TEST_CASE("a target path must stay inside the home folder") {
  TempDir tmp;
  fs::create_directories(tmp / "home/ana/courses");
  fs::create_directories(tmp / "elsewhere");
  fs::path home = tmp / "home/ana";
  CHECK(gitpuller::resolve_in_home(home, "course") == home / "course");
  CHECK(gitpuller::resolve_in_home(home, "courses/2026/intro") == home / "courses/2026/intro");
  CHECK(gitpuller::resolve_in_home(home, "./course/") == home / "course");
  CHECK(target_error(home, "") == ErrorCode::target_invalid);
  CHECK(target_error(home, "/etc") == ErrorCode::target_invalid);
  CHECK(target_error(home, "../bob/course") == ErrorCode::target_invalid);
  CHECK(target_error(home, "courses/../../bob") == ErrorCode::target_invalid);
  CHECK(target_error(home, "~root/x") == ErrorCode::target_invalid);
  CHECK(target_error(home, ".") == ErrorCode::target_invalid);
  fs::create_directory_symlink(tmp / "elsewhere", home / "escape");
  CHECK(target_error(home, "escape") == ErrorCode::target_invalid);
  CHECK(target_error(home, "escape/course") == ErrorCode::target_invalid);
  fs::create_directory_symlink(home / "courses", home / "inside");
  CHECK(gitpuller::resolve_in_home(home, "inside/intro") == home / "courses/intro");
  write_file(home / "afile", "x");
  CHECK(target_error(home, "afile/course") == ErrorCode::target_invalid);
}

TEST_CASE("events and reports round-trip through the JSON lines coursehub pull prints") {
  gitpuller::SyncReport r;
  r.outcome = gitpuller::SyncOutcome::merged;
  r.repo_url = "https://h.example/c.git";
  r.target_dir = "/home/ana/c";
  r.branch = "main";
  r.commit = std::string(40, 'a');
  r.files_updated = {"a.ipynb"};
  r.files_restored = {"b.ipynb"};
  r.files_renamed = {{"n.ipynb", "n__20260101000000.ipynb"}};
  r.files_kept_local = {"a.ipynb"};
  r.warnings = {"careful"};
  std::string line = gitpuller::event_to_line(gitpuller::SyncEvent::finished(r));
  CHECK(line.rfind("{\"phase\":\"finished\",\"output\":", 0) == 0);
  auto back = gitpuller::event_from_line(line);
  REQUIRE(back.report);
  CHECK(back.phase == gitpuller::Phase::finished);
  CHECK(back.report->outcome == gitpuller::SyncOutcome::merged);
  CHECK(back.report->files_renamed[0].to == "n__20260101000000.ipynb");
  CHECK(back.report->files_kept_local == r.files_kept_local);
  CHECK_FALSE(back.report->backup_dir);
  CHECK(back.output.find("Merged") == 0);

  auto err = gitpuller::event_from_line(gitpuller::event_to_line(gitpuller::SyncEvent::failed(ErrorCode::auth, "no login")));
  REQUIRE(err.error);
  CHECK(err.error->code == ErrorCode::auth);
  CHECK(err.error->message == "no login");

  gitpuller::Progress p;
  p.stage = gitpuller::Stage::checkout;
  p.files_done = 3;
  p.files_total = 9;
  auto tick = gitpuller::event_from_line(gitpuller::event_to_line(gitpuller::SyncEvent::progress_tick("x", p)));
  REQUIRE(tick.progress);
  CHECK(tick.progress->stage == gitpuller::Stage::checkout);
  CHECK(tick.progress->files_total == 9);
  CHECK_THROWS(gitpuller::event_from_line("{\"phase\":\"finished\"}"));
  CHECK_THROWS(gitpuller::event_from_line("not json"));
  for (auto code : {ErrorCode::clone, ErrorCode::fetch, ErrorCode::merge, ErrorCode::branch_exist,
                    ErrorCode::branch_resolve, ErrorCode::remote_mismatch, ErrorCode::not_a_repo,
                    ErrorCode::target_invalid, ErrorCode::auth, ErrorCode::lock, ErrorCode::unknown})
    CHECK(gitpuller::error_code_from_string(gitpuller::to_string(code)) == code);
}
