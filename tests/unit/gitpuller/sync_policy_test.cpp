// The sync policy of DESIGN.md, point by point, against real repositories.
// Each scenario runs twice: straight from upstream, and through the mirror cache.
#include <regex>
#include <thread>

#include "gitpuller_test_helpers.hpp"

using namespace testutil;
using gitpuller::ErrorCode;
using gitpuller::SyncOutcome;

namespace {

template <class F>
void in_both_modes(F&& scenario) {
  for (Mode mode : {Mode::direct, Mode::mirror}) {
    CAPTURE(mode == Mode::direct ? "direct" : "mirror");
    TempDir tmp;
    scenario(tmp, mode);
  }
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("a first sync clones upstream's default branch and records the clean URL as origin") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path(), "trunk");
    t.write("README.md", "hello\n");
    t.write("lectures/week1.ipynb", "{}\n");
    std::string tip = t.commit();
    Syncer sync(tmp.path(), mode);
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::cloned);
    CHECK(r.commit == tip);
    CHECK(r.branch == "trunk");
    CHECK(head_of(tmp / "course") == tip);
    CHECK(branch_of(tmp / "course") == "trunk");
    CHECK(read_file(tmp / "course/lectures/week1.ipynb") == "{}\n");
    CHECK(trim(git(tmp / "course", {"remote", "get-url", "origin"})) == t.url());
    CHECK(git_status(tmp / "course").empty());
    CHECK_FALSE(path_exists(tmp / "course/.git/objects/info/alternates"));
    check_healthy(tmp / "course");
  });
}

TEST_CASE("a first sync with a branch clones that branch") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", "main\n");
    t.commit();
    t.checkout_new_branch("solutions");
    t.write("a.txt", "solutions\n");
    std::string tip = t.commit();
    Syncer sync(tmp.path(), mode);
    auto r = sync(t.url(), tmp / "course", "solutions");
    CHECK(r.outcome == SyncOutcome::cloned);
    CHECK(branch_of(tmp / "course") == "solutions");
    CHECK(head_of(tmp / "course") == tip);
    CHECK(read_file(tmp / "course/a.txt") == "solutions\n");
  });
}

TEST_CASE("an existing empty folder is cloned into") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", "x\n");
    t.commit();
    fs::create_directories(tmp / "course");
    Syncer sync(tmp.path(), mode);
    CHECK(sync(t.url(), tmp / "course").outcome == SyncOutcome::cloned);
    CHECK(read_file(tmp / "course/a.txt") == "x\n");
  });
}

TEST_CASE("when the student changed nothing, an update makes HEAD equal upstream's tip") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", "one\n");
    t.write("b.txt", "b\n");
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    t.write("a.txt", "two\n");
    t.write("new/c.txt", "c\n");
    std::string tip = t.commit();
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::fast_forwarded);
    CHECK(head_of(tmp / "course") == tip);
    CHECK(read_file(tmp / "course/a.txt") == "two\n");
    CHECK(read_file(tmp / "course/new/c.txt") == "c\n");
    CHECK(contains(r.files_updated, "a.txt"));
    CHECK(contains(r.files_updated, "new/c.txt"));
    CHECK_FALSE(contains(r.files_updated, "b.txt"));
    CHECK(git_status(tmp / "course").empty());
    check_healthy(tmp / "course");
  });
}

TEST_CASE("a sync with nothing new upstream leaves the student's work alone") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", "one\n");
    std::string tip = t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    write_file(tmp / "course/a.txt", "my edit\n");
    write_file(tmp / "course/mine.txt", "my own file\n");
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::up_to_date);
    CHECK(r.commit == tip);
    CHECK(read_file(tmp / "course/a.txt") == "my edit\n");
    CHECK(read_file(tmp / "course/mine.txt") == "my own file\n");
    CHECK(head_of(tmp / "course") == tip);
  });
}

TEST_CASE("edits to different hunks on both sides are both kept") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("notes.md", lines(1, 20));
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    t.write("notes.md", "teacher's title\n" + lines(2, 20));
    t.commit();
    write_file(tmp / "course/notes.md", lines(1, 19) + "student's last line\n");
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::merged);
    CHECK(read_file(tmp / "course/notes.md") == "teacher's title\n" + lines(2, 19) + "student's last line\n");
    CHECK(r.files_kept_local.empty());
    CHECK(git_status(tmp / "course").empty());
    check_healthy(tmp / "course");
  });
}

TEST_CASE("on the same lines the student's version wins while upstream's other hunks still land") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("notes.md", lines(1, 20));
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    t.write("notes.md", lines(1, 4) + "teacher's line 5\n" + lines(6, 19) + "teacher's line 20\n");
    t.commit();
    write_file(tmp / "course/notes.md", lines(1, 4) + "student's line 5\n" + lines(6, 20));
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::merged);
    CHECK(read_file(tmp / "course/notes.md") == lines(1, 4) + "student's line 5\n" + lines(6, 19) + "teacher's line 20\n");
    CHECK(r.files_kept_local == std::vector<std::string>{"notes.md"});
    check_healthy(tmp / "course");
    // The next sync does not report it again: the merge is recorded.
    auto again = sync(t.url(), tmp / "course");
    CHECK(again.outcome == SyncOutcome::up_to_date);
    CHECK(again.files_kept_local.empty());
  });
}

TEST_CASE("a conflicting binary file keeps the student's version whole") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("img.png", std::string("\x89PNG\0teacher-1", 15));
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    t.write("img.png", std::string("\x89PNG\0teacher-2", 15));
    t.commit();
    write_file(tmp / "course/img.png", std::string("\x89PNG\0student", 13));
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::merged);
    CHECK(read_file(tmp / "course/img.png") == std::string("\x89PNG\0student", 13));
    CHECK(contains(r.files_kept_local, "img.png"));
    check_healthy(tmp / "course");
  });
}

TEST_CASE("a file the student deleted comes back with upstream's latest content") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", "version 1\n");
    t.write("b.txt", "unchanged\n");
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    t.write("a.txt", "version 2\n");
    std::string tip = t.commit();
    fs::remove(tmp / "course/a.txt");
    fs::remove(tmp / "course/b.txt");
    auto r = sync(t.url(), tmp / "course");
    CHECK(read_file(tmp / "course/a.txt") == "version 2\n");
    CHECK(read_file(tmp / "course/b.txt") == "unchanged\n");
    CHECK(contains(r.files_restored, "a.txt"));
    CHECK(contains(r.files_restored, "b.txt"));
    // Nothing else changed: the student ends exactly on upstream's tip.
    CHECK(head_of(tmp / "course") == tip);
    CHECK(git_status(tmp / "course").empty());
    check_healthy(tmp / "course");
  });
}

TEST_CASE("a deleted file comes back even when nothing is new upstream") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", "a\n");
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    git(tmp / "course", {"rm", "-q", "a.txt"});
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::up_to_date);
    CHECK(read_file(tmp / "course/a.txt") == "a\n");
    CHECK(git_status(tmp / "course").empty());
  });
}

TEST_CASE("files deleted on both sides stay gone, and a rename upstream of a file the student deleted is no error") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("gone.txt", "g\n");
    t.write("old-name.txt", lines(1, 10));
    t.write("keep.txt", "k\n");
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    t.remove("gone.txt");
    t.rename("old-name.txt", "folder/new-name.txt");
    t.commit();
    fs::remove(tmp / "course/gone.txt");
    fs::remove(tmp / "course/old-name.txt");
    write_file(tmp / "course/keep.txt", "student edit\n");
    auto r = sync(t.url(), tmp / "course");
    CHECK_FALSE(path_exists(tmp / "course/gone.txt"));
    CHECK_FALSE(path_exists(tmp / "course/old-name.txt"));
    CHECK(read_file(tmp / "course/folder/new-name.txt") == lines(1, 10));
    CHECK(read_file(tmp / "course/keep.txt") == "student edit\n");
    CHECK(git_status(tmp / "course").empty());
    check_healthy(tmp / "course");
  });
}

TEST_CASE("untracked student files where upstream adds files are renamed aside with a timestamp") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("start.txt", "s\n");
    t.write("draft.md", lines(1, 8));
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    // notes.ipynb: plain add; .bashrc: no extension; a rename target; a
    // non-ASCII name; a file inside a new folder; a file where upstream
    // needs a folder.
    t.write("notes.ipynb", "{\"teacher\": 1}\n");
    t.write(".bashrc", "teacher\n");
    t.rename("draft.md", "final.md");
    t.write("données/élève ü.csv", "a,b\n");
    t.write("week2/lab.ipynb", "{}\n");
    t.write("data/set.csv", "x\n");
    std::string tip = t.commit();
    write_file(tmp / "course/notes.ipynb", "mine\n");
    write_file(tmp / "course/.bashrc", "mine rc\n");
    write_file(tmp / "course/final.md", "my final\n");
    write_file(tmp / "course/données/élève ü.csv", "my data\n");
    write_file(tmp / "course/week2/lab.ipynb", "my lab\n");
    write_file(tmp / "course/data", "a file named data\n");
    auto r = sync(t.url(), tmp / "course");
    CHECK(head_of(tmp / "course") == tip);
    CHECK(read_file(tmp / "course/notes.ipynb") == "{\"teacher\": 1}\n");
    CHECK(read_file(tmp / "course/final.md") == lines(1, 8));
    CHECK(read_file(tmp / "course/données/élève ü.csv") == "a,b\n");
    CHECK(read_file(tmp / "course/data/set.csv") == "x\n");
    REQUIRE(r.files_renamed.size() == 6);
    std::regex stamp_re(R"(\d{14})");
    std::map<std::string, std::string> renamed;
    for (const auto& f : r.files_renamed) renamed[f.from] = f.to;
    auto expect = [&](const std::string& from, const std::string& pattern, const std::string& content) {
      INFO(from);
      REQUIRE(renamed.count(from));
      CHECK(std::regex_match(renamed[from], std::regex(pattern)));
      CHECK(read_file(tmp / "course" / renamed[from]) == content);
    };
    expect("notes.ipynb", R"(notes__\d{14}\.ipynb)", "mine\n");
    expect(".bashrc", R"(\.bashrc__\d{14})", "mine rc\n");
    expect("final.md", R"(final__\d{14}\.md)", "my final\n");
    expect("données/élève ü.csv", R"(données/élève ü__\d{14}\.csv)", "my data\n");
    expect("week2/lab.ipynb", R"(week2/lab__\d{14}\.ipynb)", "my lab\n");
    expect("data", R"(data__\d{14})", "a file named data\n");
    // The renamed files stay untracked: the student's, not the course's.
    CHECK(git(tmp / "course", {"ls-files", "--error-unmatch", "notes.ipynb"}) == "notes.ipynb\n");
    check_healthy(tmp / "course");
  });
}

TEST_CASE("modify/delete: whichever side still has the file wins") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("student-keeps.txt", lines(1, 5));
    t.write("teacher-keeps.txt", lines(1, 5));
    t.write("other.txt", "o\n");
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    t.remove("student-keeps.txt");
    t.write("teacher-keeps.txt", lines(1, 5) + "teacher's addition\n");
    t.write("other.txt", "o2\n");
    t.commit();
    write_file(tmp / "course/student-keeps.txt", lines(1, 5) + "student's addition\n");
    fs::remove(tmp / "course/teacher-keeps.txt");
    auto r = sync(t.url(), tmp / "course");
    CHECK(read_file(tmp / "course/student-keeps.txt") == lines(1, 5) + "student's addition\n");
    CHECK(read_file(tmp / "course/teacher-keeps.txt") == lines(1, 5) + "teacher's addition\n");
    CHECK(read_file(tmp / "course/other.txt") == "o2\n");
    CHECK(contains(r.files_kept_local, "student-keeps.txt"));
    CHECK(git_status(tmp / "course").empty());
    check_healthy(tmp / "course");
  });
}

TEST_CASE("local changes are committed with a fixed identity, staged ones included, without any git config") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", lines(1, 10));
  t.write("b.txt", "b\n");
  t.commit();
  Syncer sync(tmp.path());
  sync(t.url(), tmp / "course");
  t.write("a.txt", "teacher\n" + lines(2, 10));
  t.commit();
  write_file(tmp / "course/a.txt", lines(1, 9) + "student\n");
  write_file(tmp / "course/staged.txt", "staged by the student\n");
  git(tmp / "course", {"add", "staged.txt"});
  fs::remove(tmp / "course/b.txt");
  t.write("b.txt", "b\n");  // unchanged upstream: the deletion is restored
  // No user identity anywhere: HOME points at an empty folder.
  std::string old_home = getenv("HOME") ? getenv("HOME") : "";
  setenv("HOME", (tmp / "empty-home").c_str(), 1);
  fs::create_directories(tmp / "empty-home");
  auto r = sync(t.url(), tmp / "course");
  setenv("HOME", old_home.c_str(), 1);
  CHECK(r.outcome == SyncOutcome::merged);
  CHECK(read_file(tmp / "course/a.txt") == "teacher\n" + lines(2, 9) + "student\n");
  CHECK(read_file(tmp / "course/staged.txt") == "staged by the student\n");
  CHECK(git(tmp / "course", {"ls-files", "staged.txt"}) == "staged.txt\n");
  CHECK(read_file(tmp / "course/b.txt") == "b\n");
  std::string authors = git(tmp / "course", {"log", "--format=%an <%ae>", "-n", "2"});
  CHECK(authors.find("coursehub <coursehub@localhost>") != std::string::npos);
  check_healthy(tmp / "course");
}

TEST_CASE("changing the branch switches the folder and loses nothing") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", lines(1, 5));
    t.commit();
    t.checkout_new_branch("advanced");
    t.write("advanced.txt", "adv\n");
    std::string adv = t.commit();
    t.checkout("main");
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    write_file(tmp / "course/a.txt", lines(1, 5) + "student on main\n");
    write_file(tmp / "course/advanced.txt", "untracked on main\n");
    auto r = sync(t.url(), tmp / "course", "advanced");
    CHECK(r.outcome == SyncOutcome::switched_branch);
    CHECK(branch_of(tmp / "course") == "advanced");
    CHECK(head_of(tmp / "course") == adv);
    CHECK(read_file(tmp / "course/advanced.txt") == "adv\n");
    REQUIRE(r.files_renamed.size() == 1);
    CHECK(read_file(tmp / "course" / r.files_renamed[0].to) == "untracked on main\n");
    // The edit on main was committed there, and comes back with main.
    CHECK(git(tmp / "course", {"show", "main:a.txt"}) == lines(1, 5) + "student on main\n");
    auto back = sync(t.url(), tmp / "course", "main");
    CHECK(back.outcome == SyncOutcome::switched_branch);
    CHECK(branch_of(tmp / "course") == "main");
    CHECK(read_file(tmp / "course/a.txt") == lines(1, 5) + "student on main\n");
    check_healthy(tmp / "course");
  });
}

TEST_CASE("a tag works as a branch, on first and later syncs and after the tag moves") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", "v1\n");
    std::string v1 = t.commit();
    t.tag("release");
    t.write("a.txt", "main moves on\n");
    t.commit();
    Syncer sync(tmp.path(), mode);
    auto r = sync(t.url(), tmp / "course", "release");
    CHECK(r.outcome == SyncOutcome::cloned);
    CHECK(head_of(tmp / "course") == v1);
    CHECK(read_file(tmp / "course/a.txt") == "v1\n");
    CHECK(sync(t.url(), tmp / "course", "release").outcome == SyncOutcome::up_to_date);
    // The teacher moves the tag to the newest commit.
    t.tag("release");
    auto moved = sync(t.url(), tmp / "course", "release");
    CHECK(moved.outcome == SyncOutcome::fast_forwarded);
    CHECK(read_file(tmp / "course/a.txt") == "main moves on\n");
    // A lightweight tag works too, switching from the annotated one.
    t.write("a.txt", "light\n");
    t.commit();
    t.tag("light", false);
    auto light = sync(t.url(), tmp / "course", "light");
    CHECK(light.outcome == SyncOutcome::switched_branch);
    CHECK(read_file(tmp / "course/a.txt") == "light\n");
    check_healthy(tmp / "course");
  });
}

TEST_CASE("upstream history replaced with no common ancestor: the folder becomes a backup and a fresh clone takes its place") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", "old history\n");
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    write_file(tmp / "course/mine.txt", "student work\n");
    git(t.work(), {"checkout", "-q", "--orphan", "fresh"});
    git(t.work(), {"rm", "-q", "-rf", "."});
    t.write("b.txt", "new history\n");
    git(t.work(), {"add", "-A"});
    git(t.work(), {"commit", "-q", "-m", "restart"});
    git(t.work(), {"branch", "-q", "-f", "main", "fresh"});
    git(t.work(), {"push", "-q", "--force", "origin", "main"});
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::reset_with_backup);
    REQUIRE(r.backup_dir);
    CHECK(std::regex_match(*r.backup_dir, std::regex(".*/course_backup_\\d{14}")));
    CHECK(read_file(fs::path(*r.backup_dir) / "mine.txt") == "student work\n");
    CHECK(read_file(tmp / "course/b.txt") == "new history\n");
    CHECK_FALSE(path_exists(tmp / "course/a.txt"));
    REQUIRE_FALSE(r.warnings.empty());
    CHECK(r.warnings[0].find(*r.backup_dir) != std::string::npos);
    check_healthy(tmp / "course");
  });
}

TEST_CASE("upstream history rewritten with a shared ancestor and no student changes: the folder matches upstream exactly") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", lines(1, 5));
  t.commit();
  t.write("a.txt", lines(1, 5) + "mistake\n");
  t.commit();
  Syncer sync(tmp.path());
  sync(t.url(), tmp / "course");
  git(t.work(), {"reset", "-q", "--hard", "HEAD~1"});
  t.write("a.txt", lines(1, 5) + "corrected\n");
  std::string tip = t.commit("amended");
  auto r = sync(t.url(), tmp / "course");
  CHECK(r.outcome == SyncOutcome::fast_forwarded);
  CHECK(head_of(tmp / "course") == tip);
  CHECK(read_file(tmp / "course/a.txt") == lines(1, 5) + "corrected\n");
}

TEST_CASE("a folder that is not a clone of the same repository is never touched") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", "a\n");
  t.commit();
  Syncer sync(tmp.path());
  SUBCASE("a non-empty folder that is not a repository") {
    write_file(tmp / "course/essay.txt", "precious\n");
    CHECK(sync.fails(t.url(), tmp / "course") == ErrorCode::not_a_repo);
    CHECK(read_file(tmp / "course/essay.txt") == "precious\n");
    CHECK_FALSE(path_exists(tmp / "course/.git"));
  }
  SUBCASE("a clone of another repository") {
    git(tmp.path(), {"init", "-q", "other"});
    write_file(tmp / "other/x.txt", "x\n");
    git(tmp / "other", {"add", "-A"});
    git(tmp / "other", {"commit", "-q", "-m", "x"});
    git(tmp.path(), {"clone", "-q", (tmp / "other").string(), "course"});
    std::string before = head_of(tmp / "course");
    CHECK(sync.fails(t.url(), tmp / "course") == ErrorCode::remote_mismatch);
    CHECK(head_of(tmp / "course") == before);
  }
  SUBCASE("a repository without origin") {
    git(tmp.path(), {"init", "-q", "course"});
    write_file(tmp / "course/x.txt", "x\n");
    CHECK(sync.fails(t.url(), tmp / "course") == ErrorCode::remote_mismatch);
  }
  SUBCASE("a file") {
    write_file(tmp / "course", "just a file\n");
    CHECK(sync.fails(t.url(), tmp / "course") == ErrorCode::target_invalid);
    CHECK(read_file(tmp / "course") == "just a file\n");
  }
  SUBCASE("a folder inside another repository's work tree: the parent is never used") {
    git(tmp.path(), {"init", "-q", "home"});
    write_file(tmp / "home/course/notes.txt", "not a clone\n");
    CHECK(sync.fails(t.url(), tmp / "home/course") == ErrorCode::not_a_repo);
    // A missing folder there becomes its own clone; the parent is unchanged.
    CHECK(sync(t.url(), tmp / "home/sub").outcome == SyncOutcome::cloned);
    CHECK(trim(git(tmp / "home/sub", {"rev-parse", "--show-toplevel"})) == (tmp / "home/sub").string());
    CHECK(git(tmp / "home", {"status", "--porcelain"}).find("course/") != std::string::npos);
  }
}

TEST_CASE("a failed first clone leaves no folder behind") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", "a\n");
  t.commit();
  Syncer sync(tmp.path());
  CHECK(sync.fails(t.url(), tmp / "course", "no-such-branch") == ErrorCode::branch_exist);
  CHECK_FALSE(path_exists(tmp / "course"));
  CHECK(sync.fails((tmp / "missing-repo").string(), tmp / "course2") == ErrorCode::clone);
  CHECK_FALSE(path_exists(tmp / "course2"));
  // No temporary folder is left next to it either.
  for (const auto& e : fs::directory_iterator(tmp.path()))
    CHECK(e.path().filename().string().find("coursehub") == std::string::npos);
}

TEST_CASE("an empty upstream repository has no branch to resolve") {
  TempDir tmp;
  Teacher t(tmp.path());
  Syncer sync(tmp.path());
  CHECK(sync.fails(t.url(), tmp / "course") == ErrorCode::branch_resolve);
  CHECK_FALSE(path_exists(tmp / "course"));
}

TEST_CASE("a young index.lock means another git is at work: fail with lock, repository untouched; a stale one is removed") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", "a\n");
  t.commit();
  Syncer sync(tmp.path());
  sync(t.url(), tmp / "course");
  t.write("a.txt", "b\n");
  std::string tip = t.commit();
  std::string before = head_of(tmp / "course");
  write_file(tmp / "course/.git/index.lock", "");
  CHECK(sync.fails(t.url(), tmp / "course") == ErrorCode::lock);
  CHECK(head_of(tmp / "course") == before);
  CHECK(read_file(tmp / "course/a.txt") == "a\n");
  // Eleven minutes old: left behind by a crash.
  auto old = fs::file_time_type::clock::now() - std::chrono::minutes(11);
  fs::last_write_time(tmp / "course/.git/index.lock", old);
  CHECK(sync(t.url(), tmp / "course").outcome == SyncOutcome::fast_forwarded);
  CHECK(head_of(tmp / "course") == tip);
  CHECK_FALSE(path_exists(tmp / "course/.git/index.lock"));
}

TEST_CASE("two syncs of the same folder at once both succeed") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", lines(1, 50));
    std::string tip = t.commit();
    Syncer first(tmp.path(), mode), second(tmp.path(), mode);
    for (int round = 0; round < 2; ++round) {
      std::optional<gitpuller::SyncError> e1, e2;
      auto run = [&](Syncer& s, std::optional<gitpuller::SyncError>& err) {
        try {
          s(t.url(), tmp / "course");
        } catch (const gitpuller::SyncError& e) {
          err = e;
        }
      };
      std::thread a([&] { run(first, e1); });
      std::thread b([&] { run(second, e2); });
      a.join();
      b.join();
      CHECK_FALSE(e1.has_value());
      CHECK_FALSE(e2.has_value());
      CHECK(head_of(tmp / "course") == tip);
      CHECK(git_status(tmp / "course").empty());
      t.write("a.txt", lines(1, 51));
      tip = t.commit();
    }
  });
}

TEST_CASE("a shallow clone made by nbgitpuller updates in place, with and without local edits") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("a.txt", lines(1, 10));
    t.commit("one");
    t.write("b.txt", "b\n");
    t.commit("two");
    git(tmp.path(), {"clone", "-q", "--depth", "1", "file://" + t.upstream().string(), "course"});
    REQUIRE(path_exists(tmp / "course/.git/shallow"));
    t.write("a.txt", "teacher\n" + lines(2, 10));
    t.commit("three");
    write_file(tmp / "course/a.txt", lines(1, 9) + "student\n");
    Syncer sync(tmp.path(), mode);
    auto r = sync("file://" + t.upstream().string(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::merged);
    CHECK(read_file(tmp / "course/a.txt") == "teacher\n" + lines(2, 9) + "student\n");
    CHECK_FALSE(path_exists(tmp / "course/.git/shallow"));
    CHECK(trim(git(tmp / "course", {"rev-list", "--count", "HEAD"})) == "5");
    check_healthy(tmp / "course");
    t.write("c.txt", "c\n");
    t.commit("four");
    CHECK(sync(t.url(), tmp / "course").outcome == SyncOutcome::merged);
    CHECK(read_file(tmp / "course/c.txt") == "c\n");
  });
}

TEST_CASE("the same repository under …/x, …/x.git and …/x.git/ is accepted as the same") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", "a\n");
  t.commit();
  Syncer sync(tmp.path());
  sync(t.url(), tmp / "course");
  std::string base = t.url().substr(0, t.url().size() - 4);  // without ".git"
  CHECK(sync(base + ".git/", tmp / "course").outcome == SyncOutcome::up_to_date);
  CHECK(sync("file://" + t.url(), tmp / "course").outcome == SyncOutcome::up_to_date);
}

TEST_CASE("other transports and URLs with credentials in them are refused with a clear message") {
  TempDir tmp;
  Syncer sync(tmp.path());
  CHECK(sync.fails("ssh://git@example.com/course.git", tmp / "a") == ErrorCode::clone);
  CHECK(sync.fails("git@example.com:course.git", tmp / "b") == ErrorCode::clone);
  CHECK(sync.fails("git://example.com/course.git", tmp / "c") == ErrorCode::clone);
  try {
    sync("https://ana:hunter2@example.com/course.git", tmp / "d");
    FAIL("expected a refusal");
  } catch (const gitpuller::SyncError& e) {
    CHECK(e.code() == ErrorCode::auth);
    CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
    CHECK(std::string(e.what()).find("coursehub cred add") != std::string::npos);
  }
  CHECK_FALSE(path_exists(tmp / "d"));
}

TEST_CASE("progress events report counted stages and readable lines") {
  TempDir tmp;
  Teacher t(tmp.path());
  for (int i = 0; i < 20; ++i) t.write("f" + std::to_string(i) + ".txt", lines(1, i + 1));
  t.commit();
  Syncer sync(tmp.path(), Mode::mirror);
  sync(t.url(), tmp / "course");
  bool fetch = false, checkout = false;
  for (const auto& e : sync.events) {
    CHECK(e.phase == gitpuller::Phase::syncing);
    if (!e.progress) continue;
    if (e.progress->stage == gitpuller::Stage::fetch && e.progress->objects_total > 0) fetch = true;
    if (e.progress->stage == gitpuller::Stage::checkout && e.progress->files_total == 20 && e.progress->files_done == 20)
      checkout = true;
  }
  CHECK(fetch);
  CHECK(checkout);
  CHECK(sync.events.front().output.find("Syncing") == 0);
}

TEST_CASE("nbgitpuller's classics: student commits, deletions committed by hand, reset after keeping a change") {
  in_both_modes([](TempDir& tmp, Mode mode) {
    Teacher t(tmp.path());
    t.write("README.md", "1\n");
    t.write("B.txt", "b\n");
    t.commit();
    Syncer sync(tmp.path(), mode);
    sync(t.url(), tmp / "course");
    // The student commits with git themselves; upstream changes another file.
    write_file(tmp / "course/README.md", "2\n");
    git(tmp / "course", {"commit", "-q", "-am", "Local change"});
    sync(t.url(), tmp / "course");
    CHECK(read_file(tmp / "course/README.md") == "2\n");
    t.write("B.txt", "b2\n");
    t.commit();
    auto r = sync(t.url(), tmp / "course");
    CHECK(r.outcome == SyncOutcome::merged);
    CHECK(trim(git(tmp / "course", {"show", "-s", "--format=%P", "HEAD"})).find(' ') != std::string::npos);
    CHECK(read_file(tmp / "course/B.txt") == "b2\n");
    CHECK(read_file(tmp / "course/README.md") == "2\n");
    // The student deletes a file with git rm and commits; upstream changes it:
    // upstream's version comes back.
    git(tmp / "course", {"rm", "-q", "B.txt"});
    git(tmp / "course", {"commit", "-q", "-m", "Deleted file"});
    t.write("B.txt", "b3 conflicting change\n");
    t.commit();
    sync(t.url(), tmp / "course");
    CHECK(read_file(tmp / "course/B.txt") == "b3 conflicting change\n");
    // A kept local change is reset to upstream's latest by deleting the file.
    t.write("README.md", "remote change\n");
    t.commit();
    sync(t.url(), tmp / "course");
    CHECK(read_file(tmp / "course/README.md") == "2\n");
    fs::remove(tmp / "course/README.md");
    sync(t.url(), tmp / "course");
    CHECK(read_file(tmp / "course/README.md") == "remote change\n");
    check_healthy(tmp / "course");
  });
}
