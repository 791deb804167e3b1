#include "snapshot.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <thread>
#include <vector>

#include "git_util.hpp"
#include "objects.hpp"

namespace gitpuller::detail {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSnapshots = "coursehub-snapshots";
constexpr std::size_t kKeepRecent = 3;

bool later(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

void prune(const fs::path& dir, const std::string& made, const std::set<std::string>& keep) {
  std::error_code ec;
  struct Item {
    fs::path path;
    fs::file_time_type time;
  };
  std::vector<Item> candidates;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name == made || keep.count(name)) continue;
    if (name.rfind(".tmp-", 0) == 0) {
      // A crashed creator's leftovers, once clearly abandoned.
      std::error_code e;
      auto age = fs::file_time_type::clock::now() - fs::last_write_time(it->path(), e);
      if (!e && age > std::chrono::hours(1)) fs::remove_all(it->path(), e);
      continue;
    }
    std::error_code e;
    candidates.push_back({it->path(), fs::last_write_time(it->path(), e)});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Item& a, const Item& b) { return a.time > b.time; });
  for (std::size_t i = kKeepRecent; i < candidates.size(); ++i) {
    // Rename first: a reader copying from it fails cleanly and falls back.
    fs::path trash = dir / (".tmp-trash-" + std::to_string(::getpid()) + "-" + std::to_string(i));
    std::error_code e;
    fs::rename(candidates[i].path, trash, e);
    if (!e) fs::remove_all(trash, e);
  }
}

}  // namespace

fs::path snapshot_path(const fs::path& mirror, const std::string& commit) { return mirror / kSnapshots / commit; }

std::optional<fs::path> find_snapshot(const fs::path& mirror, const std::string& commit) {
  fs::path p = snapshot_path(mirror, commit);
  struct stat st{};
  if (::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return p;
  return std::nullopt;
}

std::optional<fs::path> create_snapshot(const fs::path& mirror, const std::string& commit,
                                        const std::set<std::string>& keep) {
  if (auto existing = find_snapshot(mirror, commit)) return existing;
  fs::path dir = mirror / kSnapshots;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string templ = (dir / ".tmp-XXXXXX").string();
  if (!::mkdtemp(templ.data())) return std::nullopt;
  fs::path tmp = templ;
  ::chmod(tmp.c_str(), 0755);
  try {
    git_repository* raw = nullptr;
    if (git_repository_open_ext(&raw, mirror.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, nullptr) < 0)
      throw std::runtime_error("open");
    GitRepository repo(raw);
    if (git_repository_set_workdir(repo.get(), tmp.c_str(), 0) < 0) throw std::runtime_error("workdir");
    GitCommit c = lookup_commit(repo.get(), oid_from_hex(commit), ErrorCode::fetch);
    git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
    co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DONT_WRITE_INDEX;
    if (git_checkout_tree(repo.get(), reinterpret_cast<const git_object*>(c.get()), &co) < 0)
      throw std::runtime_error("checkout");
  } catch (const std::exception&) {
    fs::remove_all(tmp, ec);
    return std::nullopt;
  }
  // Readable by a worker running as another user.
  for (fs::recursive_directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st{};
    if (::lstat(it->path().c_str(), &st) != 0 || S_ISLNK(st.st_mode)) continue;
    ::chmod(it->path().c_str(), (st.st_mode & 07777) | (S_ISDIR(st.st_mode) ? 0755 : 0444));
  }
  fs::path final_path = snapshot_path(mirror, commit);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    fs::remove_all(tmp, ec);  // someone else made it first
    return find_snapshot(mirror, commit);
  }
  prune(dir, commit, keep);
  return final_path;
}

void wait_for_clock_past(const struct timespec& t) {
  for (int i = 0; i < 200; ++i) {
    struct timespec now{};
    // File times come from the coarse clock.
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    if (later(now, t)) return;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

bool checkout_from_snapshot(git_repository* repo, const fs::path& snapshot, const git_oid& commit,
                            ProgressThrottle& progress) {
  fs::path workdir = git_repository_workdir(repo);
  GitCommit c = lookup_commit(repo, commit, ErrorCode::clone);
  git_tree* tree_raw = nullptr;
  check(git_commit_tree(&tree_raw, c.get()), ErrorCode::clone, "cannot read the course's files");
  GitTree tree(tree_raw);
  git_index* index_raw = nullptr;
  check(git_repository_index(&index_raw, repo), ErrorCode::clone, "cannot create the index");
  GitIndex index(index_raw);
  check(git_index_read_tree(index.get(), tree.get()), ErrorCode::clone, "cannot create the index");

  const mode_t mask = process_umask();
  const std::size_t total = git_index_entrycount(index.get());
  Progress p;
  p.stage = Stage::checkout;
  p.files_total = total;
  struct timespec newest{};
  std::vector<git_index_entry> updated;
  updated.reserve(total);
  std::error_code ec;
  for (std::size_t i = 0; i < total; ++i) {
    const git_index_entry* e = git_index_get_byindex(index.get(), i);
    fs::path src = snapshot / e->path;
    fs::path dst = workdir / e->path;
    fs::create_directories(dst.parent_path(), ec);
    struct stat st{};
    if (::lstat(src.c_str(), &st) != 0) return false;
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(src.c_str(), target.data(), target.size());
      if (n < 0) return false;
      target.resize(static_cast<std::size_t>(n));
      if (::symlink(target.c_str(), dst.c_str()) != 0) return false;
    } else if (S_ISREG(st.st_mode)) {
      mode_t mode = ((st.st_mode & 0111) ? 0777 : 0666) & ~mask;
      try {
        copy_file(src, dst, mode, ErrorCode::clone);
      } catch (const SyncError&) {
        return false;
      }
    } else if (S_ISDIR(st.st_mode)) {
      fs::create_directories(dst, ec);  // a submodule's empty folder
    } else {
      return false;
    }
    struct stat out{};
    if (::lstat(dst.c_str(), &out) != 0) return false;
    git_index_entry entry = *e;
    entry.ctime.seconds = static_cast<int32_t>(out.st_ctim.tv_sec);
    entry.ctime.nanoseconds = static_cast<uint32_t>(out.st_ctim.tv_nsec);
    entry.mtime.seconds = static_cast<int32_t>(out.st_mtim.tv_sec);
    entry.mtime.nanoseconds = static_cast<uint32_t>(out.st_mtim.tv_nsec);
    entry.dev = static_cast<uint32_t>(out.st_dev);
    entry.ino = static_cast<uint32_t>(out.st_ino);
    entry.uid = out.st_uid;
    entry.gid = out.st_gid;
    entry.file_size = static_cast<uint32_t>(out.st_size);
    updated.push_back(entry);
    if (later(out.st_mtim, newest)) newest = out.st_mtim;
    if (later(out.st_ctim, newest)) newest = out.st_ctim;
    p.files_done = i + 1;
    progress.tick("Checking out files: " + std::to_string(total ? 100 * (i + 1) / total : 100) + "% (" +
                      std::to_string(i + 1) + "/" + std::to_string(total) + ")",
                  p, i + 1 == total);
  }
  for (auto& entry : updated) check(git_index_add(index.get(), &entry), ErrorCode::clone, "cannot write the index");
  wait_for_clock_past(newest);
  check(git_index_write(index.get()), ErrorCode::clone, "cannot write the index");
  return true;
}

}  // namespace gitpuller::detail
