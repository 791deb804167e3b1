#include <doctest/doctest.h>

#include <map>
#include <string>

#include "common/sqlite.hpp"
#include "courses/course_store.hpp"
#include "courses/links.hpp"
#include "courses/qr_code.hpp"
#include "db/migrations.hpp"
#include "http/message.hpp"

using namespace hub::courses;

namespace {

// The query parameters of a link, decoded.
std::map<std::string, std::string> params_of(const std::string& link) {
  auto q = link.find('?');
  REQUIRE(q != std::string::npos);
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : hub::http::parse_urlencoded(link.substr(q + 1))) out[k] = v;
  return out;
}

LinkSpec spec(std::string repo, std::string branch = "", std::string file = "", Interface app = Interface::lab,
              std::string target = "") {
  LinkSpec s;
  s.repo = std::move(repo);
  s.branch = std::move(branch);
  s.file = std::move(file);
  s.app = app;
  s.target = std::move(target);
  return checked_spec(s);
}

}  // namespace

TEST_CASE("a JupyterLab link names the repo, branch and the notebook inside the repository's folder") {
  auto link = coursehub_link("https://hub.example.edu/", spec("https://github.com/org/course.git", "main", "week1/intro.ipynb"));
  CHECK(link.rfind("https://hub.example.edu/hub/user-redirect/git-pull?", 0) == 0);
  auto p = params_of(link);
  CHECK(p["repo"] == "https://github.com/org/course.git");
  CHECK(p["branch"] == "main");
  CHECK(p["urlpath"] == "lab/tree/course/week1/intro.ipynb");
  CHECK(p.count("targetpath") == 0);
}

TEST_CASE("the classic interface opens notebooks under notebooks/ and other paths under tree/") {
  CHECK(urlpath_of(spec("https://h/o/course", "", "a/b.ipynb", Interface::classic)) == "notebooks/course/a/b.ipynb");
  CHECK(urlpath_of(spec("https://h/o/course", "", "data/x.csv", Interface::classic)) == "tree/course/data/x.csv");
  CHECK(urlpath_of(spec("https://h/o/course", "", "", Interface::classic)) == "tree/course");
  CHECK(urlpath_of(spec("https://h/o/course", "", "", Interface::lab)) == "lab/tree/course");
}

TEST_CASE("file names with spaces, '#' and '?' are percent-encoded inside urlpath") {
  auto s = spec("https://h/o/course", "", "week 1/what? #1.ipynb");
  CHECK(urlpath_of(s) == "lab/tree/course/week%201/what%3F%20%231.ipynb");
  CHECK(params_of(coursehub_link("/", s))["urlpath"] == "lab/tree/course/week%201/what%3F%20%231.ipynb");
}

TEST_CASE("a chosen target folder is named in the link and in urlpath") {
  auto s = spec("https://h/o/course.git", "", "nb.ipynb", Interface::lab, "classes/fall");
  auto p = params_of(coursehub_link("/base/", s));
  CHECK(p["targetpath"] == "classes/fall");
  CHECK(p["urlpath"] == "lab/tree/classes/fall/nb.ipynb");
  CHECK(coursehub_link("/base/", s).rfind("/base/hub/user-redirect/git-pull?", 0) == 0);
  // The default folder name is not repeated.
  CHECK(params_of(coursehub_link("/", spec("https://h/o/course.git", "", "", Interface::lab, "course"))).count("targetpath") == 0);
}

TEST_CASE("the nbgitpuller form names the folder whenever nbgitpuller's default would differ") {
  // nbgitpuller clones https://h/o/course.git into "course.git": say "course".
  auto p = params_of(nbgitpuller_link("https://other.example.org/", spec("https://h/o/course.git", "main", "a.ipynb")));
  CHECK(p["targetpath"] == "course");
  CHECK(p["urlpath"] == "lab/tree/course/a.ipynb");
  // Without ".git" both agree: no targetpath.
  auto q = params_of(nbgitpuller_link("https://other.example.org", spec("https://h/o/course", "main")));
  CHECK(q.count("targetpath") == 0);
  CHECK(nbgitpuller_link("https://Other.Example.org/jupyter/hub/home", spec("https://h/o/course"))
            .rfind("https://other.example.org/jupyter/hub/user-redirect/git-pull?", 0) == 0);
}

TEST_CASE("hub addresses that are not http(s) URLs are refused") {
  CHECK_THROWS_AS(normalize_hub_url("javascript:alert(1)"), CourseError);
  CHECK_THROWS_AS(normalize_hub_url("ftp://hub.example.org/"), CourseError);
  CHECK_THROWS_AS(normalize_hub_url("https://"), CourseError);
  CHECK_THROWS_AS(normalize_hub_url("https://user:pw@hub.example.org/"), CourseError);
  CHECK_THROWS_AS(normalize_hub_url("https://hub.example.org/?x=1"), CourseError);
  CHECK_THROWS_AS(normalize_hub_url("https://hub\"onmouseover=x.org/"), CourseError);
  CHECK(normalize_hub_url(" https://HUB.example.org ") == "https://hub.example.org/");
}

TEST_CASE("targets and files must stay inside: absolute paths and '..' are refused") {
  CHECK_THROWS_AS(spec("https://h/o/c", "", "", Interface::lab, "../escape"), CourseError);
  CHECK_THROWS_AS(spec("https://h/o/c", "", "", Interface::lab, "/etc"), CourseError);
  CHECK_THROWS_AS(spec("https://h/o/c", "", "a/../../b"), CourseError);
  CHECK_THROWS_AS(spec("https://h/o/c", "", "a//b"), CourseError);
  CHECK_THROWS_AS(spec("https://h/o/c", "", std::string("a\nb")), CourseError);
  CHECK(spec("https://h/o/c", "", "a/b/").file == "a/b");
}

TEST_CASE("branch names follow git's rules") {
  CHECK(check_branch(" week-2 ") == "week-2");
  CHECK(check_branch("feature/x\"><b>") == "feature/x\"><b>");  // legal in git; escaped when shown
  for (const char* bad : {"a b", "a..b", "-x", "x/", "x.lock", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "@", "a@{1}"})
    CHECK_THROWS_AS(check_branch(bad), CourseError);
}

TEST_CASE("repository URLs with credentials or other transports are refused") {
  CHECK_THROWS_AS(spec("https://user:token@github.com/org/c"), CourseError);
  CHECK_THROWS_AS(spec("ssh://git@github.com/org/c"), CourseError);
}

TEST_CASE("a QR code has its three finder patterns and renders as SVG and PNG") {
  auto qr = qr_encode("https://hub.example.edu/hub/user-redirect/git-pull?repo=x");
  REQUIRE(qr.width >= 21);
  // A finder pattern: a 7x7 ring with a 3x3 core, at three corners.
  auto finder_at = [&](int x0, int y0) {
    for (int y = 0; y < 7; ++y)
      for (int x = 0; x < 7; ++x) {
        bool ring = x == 0 || y == 0 || x == 6 || y == 6;
        bool core = x >= 2 && x <= 4 && y >= 2 && y <= 4;
        if (qr.at(x0 + x, y0 + y) != (ring || core)) return false;
      }
    return true;
  };
  CHECK(finder_at(0, 0));
  CHECK(finder_at(qr.width - 7, 0));
  CHECK(finder_at(0, qr.width - 7));
  auto svg = qr_svg(qr);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("viewBox=\"0 0 " + std::to_string(qr.width + 8)) != std::string::npos);
  auto png = qr_png(qr, 4);
  CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(png.substr(12, 4) == "IHDR");
  CHECK_THROWS_AS(qr_encode(""), std::invalid_argument);
  CHECK_THROWS_AS(qr_encode(std::string(5000, 'x')), std::invalid_argument);
}

TEST_CASE("courses: one per repository, validated before anything is written") {
  common::Database db(":memory:");
  hub::db::migrate(db);
  CourseInput in;
  in.repo = "https://github.com/org/course.git";
  in.branch = "main";
  auto c = create_course(db, in, "nobody");
  CHECK(c.title == "course");
  CHECK(c.repo_url == "https://github.com/org/course.git");
  CHECK_FALSE(c.created_by.has_value());

  CourseInput same;
  same.repo = "https://GitHub.com/org/course/";
  try {
    create_course(db, same, "x");
    FAIL("a second course for the same repository was accepted");
  } catch (const CourseError& e) {
    CHECK(e.status() == 409);
  }
  CourseInput bad;
  bad.repo = "https://github.com/org/other";
  bad.file = "../x";
  CHECK_THROWS_AS(create_course(db, bad, "x"), CourseError);
  CHECK(list_courses(db).size() == 1);

  CourseInput edit;
  edit.title = "Data 8";
  edit.file = "intro.ipynb";
  auto changed = update_course(db, c.id, edit);
  CHECK(changed.title == "Data 8");
  CHECK(changed.default_branch == "main");
  CHECK(changed.default_file == "intro.ipynb");
  CHECK(course_or_404(db, std::to_string(c.id)).title == "Data 8");
  CHECK_THROWS_AS(course_or_404(db, "12abc"), CourseError);
  CHECK(delete_course(db, c.id));
  CHECK_FALSE(delete_course(db, c.id));
}
