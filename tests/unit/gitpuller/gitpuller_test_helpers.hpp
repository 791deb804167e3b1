#pragma once
// Fixtures for the sync engine's tests: real repositories made with the git
// CLI in temporary folders, a teacher who commits and pushes to a bare
// upstream, and a student folder synced with gitpuller::sync.
#include <doctest/doctest.h>
#include <git2.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/process.hpp"
#include "gitpuller/error.hpp"
#include "gitpuller/mirror_cache.hpp"
#include "gitpuller/report.hpp"
#include "gitpuller/sync.hpp"

namespace testutil {

namespace fs = std::filesystem;

// libgit2 is initialised once for the whole test binary.
struct Libgit2 {
  Libgit2() {
    git_libgit2_init();
    gitpuller::configure_libgit2();
  }
  ~Libgit2() { git_libgit2_shutdown(); }
};
inline Libgit2& libgit2() {
  static Libgit2 instance;
  return instance;
}

class TempDir {
 public:
  TempDir() {
    libgit2();
    std::string templ = (fs::temp_directory_path() / "gitpuller-test-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path_ = fs::canonical(templ);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

// Runs git with a fixed identity and no user or system config; REQUIREs success.
inline std::string git(const fs::path& cwd, std::vector<std::string> args) {
  args.insert(args.begin(), "git");
  common::ProcessOptions o;
  o.cwd = cwd.string();
  o.env = {{"GIT_AUTHOR_NAME", "Teacher"},      {"GIT_AUTHOR_EMAIL", "teacher@example.edu"},
           {"GIT_COMMITTER_NAME", "Teacher"},   {"GIT_COMMITTER_EMAIL", "teacher@example.edu"},
           {"GIT_CONFIG_GLOBAL", "/dev/null"},  {"GIT_CONFIG_NOSYSTEM", "1"},
           {"GIT_TERMINAL_PROMPT", "0"}};
  auto r = common::run_process(args, o);
  INFO("git " << args[1] << " failed in " << cwd << ": " << r.out << r.err);
  REQUIRE(r.ok());
  return r.out;
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

inline void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool path_exists(const fs::path& p) {
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

// Numbered lines, so hunks can be edited independently: lines(1, 10) = "line 1\n...line 10\n".
inline std::string lines(int from, int to, const std::string& prefix = "line ") {
  std::string out;
  for (int i = from; i <= to; ++i) out += prefix + std::to_string(i) + "\n";
  return out;
}

// A teacher's work tree that pushes to a bare upstream repository.
class Teacher {
 public:
  Teacher(const fs::path& root, const std::string& branch = "main") : work_(root / "teacher"), upstream_(root / "upstream.git") {
    git(root, {"init", "-q", "--bare", "-b", branch, upstream_.string()});
    git(root, {"init", "-q", "-b", branch, work_.string()});
    git(work_, {"remote", "add", "origin", upstream_.string()});
  }
  const fs::path& work() const { return work_; }
  const fs::path& upstream() const { return upstream_; }
  std::string url() const { return upstream_.string(); }

  void write(const std::string& rel, const std::string& content) { write_file(work_ / rel, content); }
  void remove(const std::string& rel) { git(work_, {"rm", "-q", "-r", rel}); }
  void rename(const std::string& from, const std::string& to) {
    fs::create_directories((work_ / to).parent_path());
    git(work_, {"mv", from, to});
  }
  // Commits everything and pushes the current branch (and tags); returns the commit id.
  std::string commit(const std::string& message = "teacher's change") {
    git(work_, {"add", "-A"});
    git(work_, {"commit", "-q", "--allow-empty", "-m", message});
    push();
    return head();
  }
  void push() { git(work_, {"push", "-q", "--force", "--tags", "origin", "HEAD"}); }
  std::string head() const { return trim(git(work_, {"rev-parse", "HEAD"})); }
  void checkout_new_branch(const std::string& name) { git(work_, {"checkout", "-q", "-b", name}); }
  void checkout(const std::string& name) { git(work_, {"checkout", "-q", name}); }
  void tag(const std::string& name, bool annotated = true) {
    if (annotated) {
      git(work_, {"tag", "-f", "-a", "-m", "tag " + name, name});
    } else {
      git(work_, {"tag", "-f", name});
    }
    git(work_, {"push", "-q", "--force", "origin", "refs/tags/" + name});
  }

 private:
  fs::path work_;
  fs::path upstream_;
};

enum class Mode { direct, mirror };

// Syncs with the engine; events are collected.
struct Syncer {
  fs::path root;
  Mode mode = Mode::direct;
  std::vector<gitpuller::SyncEvent> events;
  std::unique_ptr<gitpuller::MirrorCache> cache;

  Syncer(const fs::path& r, Mode m = Mode::direct) : root(r), mode(m) {
    if (mode == Mode::mirror) cache = std::make_unique<gitpuller::MirrorCache>(root / "state" / "mirrors", nullptr);
  }

  gitpuller::SyncOptions options() {
    gitpuller::SyncOptions o;
    o.mirror = cache.get();
    o.index_lock_wait = std::chrono::milliseconds(300);
    o.on_event = [this](const gitpuller::SyncEvent& e) { events.push_back(e); };
    return o;
  }

  gitpuller::SyncReport operator()(const std::string& url, const fs::path& dir,
                                   std::optional<std::string> branch = std::nullopt) {
    return gitpuller::sync({url, dir, branch}, options());
  }

  // The error code of a sync expected to fail.
  gitpuller::ErrorCode fails(const std::string& url, const fs::path& dir, std::optional<std::string> branch = std::nullopt) {
    try {
      (*this)(url, dir, branch);
    } catch (const gitpuller::SyncError& e) {
      INFO(e.what());
      return e.code();
    }
    FAIL("the sync was expected to fail");
    return gitpuller::ErrorCode::unknown;
  }
};

// What a student sees in their folder, by git's own account.
inline std::string git_status(const fs::path& dir) { return git(dir, {"status", "--porcelain=v1", "--untracked-files=all"}); }
inline std::string head_of(const fs::path& dir) { return trim(git(dir, {"rev-parse", "HEAD"})); }
inline std::string branch_of(const fs::path& dir) { return trim(git(dir, {"rev-parse", "--abbrev-ref", "HEAD"})); }

// After any successful sync: no conflict markers, no merge state, no
// unmerged entries, and git fsck is clean.
inline void check_healthy(const fs::path& dir) {
  CHECK(git(dir, {"ls-files", "-u"}).empty());
  CHECK_FALSE(path_exists(dir / ".git" / "MERGE_HEAD"));
  auto fsck = common::run_process({"git", "-C", dir.string(), "fsck", "--no-progress", "--strict"});
  INFO(fsck.out << fsck.err);
  CHECK(fsck.ok());
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::string text = read_file(it->path());
    INFO(it->path());
    CHECK(text.find("<<<<<<<") == std::string::npos);
    CHECK(text.find(">>>>>>>") == std::string::npos);
  }
}

}  // namespace testutil
