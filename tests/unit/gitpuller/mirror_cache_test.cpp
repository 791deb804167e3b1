// The mirror cache: one upstream download for many syncs, refs always
// verified, worker mode from a read-only mirror, self-contained results.
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "gitpuller/remote.hpp"
#include "gitpuller/url.hpp"
#include "gitpuller_test_helpers.hpp"

using namespace testutil;
using gitpuller::SyncOutcome;

TEST_CASE("eight students syncing at once from a cold cache cause one upstream download") {
  TempDir tmp;
  Teacher t(tmp.path());
  for (int i = 0; i < 30; ++i) t.write("nb" + std::to_string(i) + ".ipynb", lines(1, 200, "cell " + std::to_string(i) + " "));
  std::string tip = t.commit();
  gitpuller::MirrorCache cache(tmp / "mirrors", nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      gitpuller::SyncOptions o;
      o.mirror = &cache;
      try {
        auto r = gitpuller::sync({t.url(), tmp / ("student" + std::to_string(i)), std::nullopt}, o);
        if (r.outcome == SyncOutcome::cloned && r.commit == tip) ++ok;
      } catch (const gitpuller::SyncError& e) {
        MESSAGE(e.what());
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == 8);
  auto url = gitpuller::parse_repo_url(t.url());
  auto stats = cache.stats(url);
  REQUIRE(stats);
  CHECK(stats->upstream_fetches == 1);
  CHECK(stats->default_branch == "main");
  CHECK(stats->size_bytes > 0);
  CHECK(stats->last_check.has_value());
  for (int i = 0; i < 8; ++i) {
    fs::path dir = tmp / ("student" + std::to_string(i));
    CHECK(read_file(dir / "nb7.ipynb") == lines(1, 200, "cell 7 "));
    CHECK(git_status(dir).empty());
  }
}

TEST_CASE("a refresh downloads only when upstream's refs changed, and always checks them") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", "1\n");
  t.commit();
  gitpuller::MirrorCache cache(tmp / "mirrors", nullptr);
  auto url = gitpuller::parse_repo_url(t.url());
  CHECK(cache.refresh(url).fetched);
  CHECK_FALSE(cache.refresh(url).fetched);
  CHECK(cache.stats(url)->upstream_fetches == 1);
  t.write("a.txt", "2\n");
  std::string tip = t.commit();
  auto snap = cache.refresh(url);
  CHECK(snap.fetched);
  CHECK(snap.refs.refs.at("refs/heads/main") == tip);
  CHECK(cache.stats(url)->upstream_fetches == 2);
  // A branch deleted upstream disappears from the mirror.
  git(t.work(), {"push", "-q", "origin", "HEAD:refs/heads/extra"});
  CHECK(cache.refresh(url).refs.refs.count("refs/heads/extra") == 1);
  git(t.work(), {"push", "-q", "origin", ":refs/heads/extra"});
  CHECK(cache.refresh(url).refs.refs.count("refs/heads/extra") == 0);
  CHECK(cache.list_files(url) == std::vector<std::string>{"a.txt"});
  CHECK(cache.list().size() == 1);
  // Warming makes the snapshot new folders copy from.
  auto warmed = cache.warm(url);
  CHECK(fs::exists(warmed.path / "coursehub-snapshots" / warmed.refs.refs.at("refs/heads/main") / "a.txt"));
  CHECK_THROWS_AS(cache.warm(url, "no-such-branch"), gitpuller::SyncError);
}

TEST_CASE("a worker syncs from an already refreshed mirror without contacting upstream") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", lines(1, 5));
  t.write("run.sh", "#!/bin/sh\necho hi\n");
  fs::permissions(t.work() / "run.sh", fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  fs::create_symlink("a.txt", t.work() / "link-to-a");
  std::string tip = t.commit();
  gitpuller::MirrorCache cache(tmp / "mirrors", nullptr);
  auto url = gitpuller::parse_repo_url(t.url());
  fs::path mirror = cache.refresh(url).path;
  REQUIRE(cache.prepare_snapshot(url, tip));

  // Upstream vanishes: only the mirror remains.
  fs::rename(t.upstream(), tmp / "hidden.git");
  gitpuller::SyncOptions o;
  o.from_mirror = mirror;
  auto r = gitpuller::sync({t.url(), tmp / "course", std::nullopt}, o);
  CHECK(r.outcome == SyncOutcome::cloned);
  CHECK(r.commit == tip);
  CHECK_FALSE(r.upstream_fetched);
  CHECK(trim(git(tmp / "course", {"remote", "get-url", "origin"})) == t.url());
  CHECK(read_file(tmp / "course/a.txt") == lines(1, 5));
  struct stat st{};
  REQUIRE(::stat((tmp / "course/run.sh").c_str(), &st) == 0);
  CHECK((st.st_mode & 0100) != 0);
  CHECK(fs::is_symlink(tmp / "course/link-to-a"));
  CHECK(fs::read_symlink(tmp / "course/link-to-a") == "a.txt");
  CHECK(git_status(tmp / "course").empty());
  // A later update in worker mode.
  fs::rename(tmp / "hidden.git", t.upstream());
  t.write("a.txt", lines(1, 6));
  std::string tip2 = t.commit();
  cache.refresh(url);
  fs::rename(t.upstream(), tmp / "hidden.git");
  write_file(tmp / "course/mine.txt", "mine\n");
  auto r2 = gitpuller::sync({t.url(), tmp / "course", std::nullopt}, o);
  CHECK(r2.outcome == SyncOutcome::fast_forwarded);
  CHECK(head_of(tmp / "course") == tip2);
  check_healthy(tmp / "course");
}

TEST_CASE("a folder filled from the mirror keeps working when the cache is deleted") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("a.txt", lines(1, 5));
  t.commit();
  t.write("b.txt", "b\n");
  std::string tip = t.commit();
  Syncer sync(tmp.path(), Mode::mirror);
  sync(t.url(), tmp / "course");
  t.write("c.txt", "c\n");
  t.commit();
  sync(t.url(), tmp / "course");
  sync.cache.reset();
  fs::remove_all(tmp / "state");
  CHECK_FALSE(path_exists(tmp / "course/.git/objects/info/alternates"));
  check_healthy(tmp / "course");
  CHECK(trim(git(tmp / "course", {"rev-list", "--count", "HEAD"})) == "3");
  CHECK(git(tmp / "course", {"show", tip + ":b.txt"}) == "b\n");
}

TEST_CASE("files copied from a snapshot match what a checkout writes, and their index is clean") {
  TempDir tmp;
  Teacher t(tmp.path());
  t.write("nested/deep/file.txt", "deep\n");
  t.write("crlf.txt", "line\r\n");
  t.write("empty.txt", "");
  t.commit();
  Syncer sync(tmp.path(), Mode::mirror);
  sync(t.url(), tmp / "first");   // makes the mirror and its snapshot
  sync(t.url(), tmp / "second");  // copies from the snapshot
  for (const char* f : {"nested/deep/file.txt", "crlf.txt", "empty.txt"})
    CHECK(read_file(tmp / "second" / f) == read_file(t.work() / f));
  CHECK(git_status(tmp / "second").empty());
  CHECK(git(tmp / "second", {"diff", "--stat", "HEAD"}).empty());
  // Editing a copied file is seen (the index stat data is real).
  write_file(tmp / "second/empty.txt", "x");
  CHECK(git_status(tmp / "second") == " M empty.txt\n");
  // The first student's file is a separate file.
  CHECK(read_file(tmp / "first/empty.txt").empty());
}

TEST_CASE("ls_remote lists branches, tags and the default branch") {
  TempDir tmp;
  Teacher t(tmp.path(), "trunk");
  t.write("a.txt", "a\n");
  std::string tip = t.commit();
  t.tag("v1");
  git(t.work(), {"push", "-q", "origin", "HEAD:refs/heads/other"});
  auto refs = gitpuller::ls_remote(gitpuller::parse_repo_url(t.url()), nullptr);
  CHECK(refs.branches() == std::vector<std::string>{"other", "trunk"});
  CHECK(refs.tags() == std::vector<std::string>{"v1"});
  REQUIRE(refs.resolve_default());
  CHECK(refs.resolve_default()->ref == "refs/heads/trunk");
  REQUIRE(refs.resolve("v1"));
  CHECK(refs.resolve("v1")->commit == tip);
  CHECK(refs.resolve("v1")->is_tag);
  CHECK_FALSE(refs.resolve("nope"));
}

TEST_CASE("mirror names cannot be guessed from the URL, and the root cannot be listed by others") {
  TempDir tmp;
  auto url = gitpuller::parse_repo_url("https://git.example.edu/staff/private-course.git");
  gitpuller::MirrorCache a(tmp / "mirrors", nullptr);
  gitpuller::MirrorCache b(tmp / "mirrors", nullptr);  // another process, same installation
  CHECK(a.path_for(url) == b.path_for(url));
  TempDir other;
  gitpuller::MirrorCache c(other / "mirrors", nullptr);  // another installation
  CHECK(a.path_for(url).filename() != c.path_for(url).filename());
  CHECK(a.path_for(url).filename().string().find("private-course") != std::string::npos);
  struct stat st{};
  REQUIRE(::stat((tmp / "mirrors").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0711);
  REQUIRE(::stat((tmp / "mirrors/.name-secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}
