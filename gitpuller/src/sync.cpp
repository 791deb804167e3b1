#include "gitpuller/sync.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "common/file_lock.hpp"
#include "common/time_util.hpp"
#include "git_util.hpp"
#include "gitpuller/credentials.hpp"
#include "gitpuller/mirror_cache.hpp"
#include "snapshot.hpp"
#include "socket_stream.hpp"
#include "tls_certs.hpp"
#include "sources.hpp"
#include "transfer.hpp"

namespace gitpuller {

namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr auto kStaleIndexLock = std::chrono::minutes(10);
constexpr std::string_view kHeads = "refs/heads/";
constexpr const char* kSyncLockName = "coursehub-sync.lock";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

// Opens `dir` itself as a repository: never a parent's.
GitRepository open_exact(const fs::path& dir) {
  git_repository* raw = nullptr;
  int rc = git_repository_open_ext(&raw, dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
  GitRepository repo(raw);
  if (rc < 0) return nullptr;
  if (git_repository_is_bare(repo.get())) return nullptr;
  // A path that is a bare repository's folder opens as one; require DIR/.git.
  fs::path workdir = git_repository_workdir(repo.get()) ? git_repository_workdir(repo.get()) : "";
  std::error_code ec;
  if (workdir.empty() || !fs::equivalent(workdir, dir, ec)) return nullptr;
  return repo;
}

std::optional<std::string> origin_url(git_repository* repo) {
  git_remote* raw = nullptr;
  if (git_remote_lookup(&raw, repo, "origin") != 0) return std::nullopt;
  GitRemote remote(raw);
  const char* url = git_remote_url(remote.get());
  return url ? std::optional<std::string>(url) : std::nullopt;
}

struct Classified {
  FolderState state = FolderState::missing;
  std::string origin;
};

Classified classify(const fs::path& dir, const std::string& key) {
  Classified out;
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0) {
    out.state = FolderState::missing;
    return out;
  }
  if (S_ISLNK(st.st_mode)) {
    if (::stat(dir.c_str(), &st) != 0) {
      out.state = FolderState::not_a_folder;
      return out;
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    out.state = FolderState::not_a_folder;
    return out;
  }
  std::error_code ec;
  if (fs::is_empty(dir, ec) && !ec) {
    out.state = FolderState::empty;
    return out;
  }
  GitRepository repo = open_exact(dir);
  if (!repo) {
    out.state = FolderState::not_a_repo;
    return out;
  }
  auto origin = origin_url(repo.get());
  out.origin = origin.value_or("");
  out.state = origin && repo_key(*origin) == key ? FolderState::same_repo : FolderState::other_repo;
  return out;
}

// Writes the in-memory index once the clock has passed the files just
// written, so later status checks trust their stat data.
void write_index_after_checkout(git_repository* repo) {
  struct timespec now{};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  wait_for_clock_past(now);
  git_index* raw = nullptr;
  check(git_repository_index(&raw, repo), ErrorCode::clone, "Cannot write the index");
  GitIndex index(raw);
  check(git_index_write(index.get()), ErrorCode::clone, "Cannot write the index");
}

GitTree tree_of(git_repository* repo, const git_oid& commit_id, ErrorCode code) {
  GitCommit commit = lookup_commit(repo, commit_id, code);
  git_tree* raw = nullptr;
  int rc = git_commit_tree(&raw, commit.get());
  GitTree tree(raw);
  check(rc, code, "cannot read the files of commit " + oid_hex(commit_id));
  return tree;
}

bool tree_has(git_tree* tree, const std::string& path) {
  if (!tree) return false;
  git_tree_entry* raw = nullptr;
  if (git_tree_entry_bypath(&raw, tree, path.c_str()) != 0) return false;
  git_tree_entry_free(raw);
  return true;
}

// Paths (files and symlinks) that differ between two trees.
std::vector<std::string> changed_paths(git_repository* repo, git_tree* from, git_tree* to, git_delta_t only = GIT_DELTA_UNMODIFIED) {
  git_diff* raw = nullptr;
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_SKIP_BINARY_CHECK;
  std::vector<std::string> out;
  if (git_diff_tree_to_tree(&raw, repo, from, to, &opts) != 0) return out;
  GitDiff diff(raw);
  for (size_t i = 0; i < git_diff_num_deltas(diff.get()); ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
    if (only != GIT_DELTA_UNMODIFIED && d->status != only) continue;
    out.push_back(d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path);
  }
  return out;
}

// "notes.ipynb" -> "notes__20261126103000.ipynb"; ".bashrc" -> ".bashrc__…"
std::string aside_name(const std::string& name, const std::string& stamp, int n) {
  std::string stem = name, ext;
  auto dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) {
    stem = name.substr(0, dot);
    ext = name.substr(dot);
  }
  std::string suffix = "__" + stamp + (n > 0 ? "_" + std::to_string(n) : "");
  return stem + suffix + ext;
}

class Engine {
 public:
  Engine(const SyncRequest& request, const SyncOptions& options)
      : request_(request), options_(options), start_(std::chrono::steady_clock::now()) {}

  SyncReport run();

 private:
  void say(const std::string& line) {
    if (!options_.on_event) return;
    try {
      options_.on_event(SyncEvent::line(line));
    } catch (...) {
    }
  }

  std::unique_ptr<Source> make_source(ErrorCode code);
  RefSnapshot::Resolved resolve(const RefSnapshot& refs) const;
  std::string local_branch_name(const RefSnapshot::Resolved& r) const {
    return starts_with(r.ref, kHeads) ? r.ref.substr(kHeads.size()) : r.ref.substr(std::string("refs/tags/").size());
  }

  // Returns false when another sync created the folder first.
  bool first_clone(Source& source);
  void update(const fs::path& git_dir);
  void update_locked(git_repository* repo);
  void update_branch(git_repository* repo, const RefSnapshot::Resolved& r, const std::optional<git_oid>& old_tracking);
  void switch_branch(git_repository* repo, const RefSnapshot::Resolved& r, const std::optional<git_oid>& old_tracking);
  void backup_and_reclone(const std::string& why);

  void wait_for_index_lock(const fs::path& git_dir);
  std::vector<std::string> restore_deleted(git_repository* repo, git_tree* upstream_tree, bool* other_changes);
  git_oid commit_local_changes(git_repository* repo, const git_oid& head);
  void move_aside_collisions(git_repository* repo, git_tree* from, git_tree* to);
  // Checks out `commit_id`.  With `from`, the work tree matches that tree
  // (the student's work is committed, collisions moved aside), and when
  // writing fails half-way (a full disk, a quota) the files it touched are
  // put back as `from` has them before SyncError(merge) is thrown.
  void checkout(git_repository* repo, const git_oid& commit_id, unsigned strategy, git_tree* from, const std::string& what);
  // Puts the work tree's copies of `paths` back as `from` has them; files
  // `from` does not have are removed.  false when that failed too.
  bool put_back(git_repository* repo, git_tree* from, const std::vector<std::string>& paths);
  void set_branch(git_repository* repo, const std::string& branch, const git_oid& target, bool make_head);
  git_oid merge(git_repository* repo, const git_oid& ours, const git_oid& theirs);
  std::string stamp() {
    if (stamp_.empty()) stamp_ = common::local_stamp();
    return stamp_;
  }

  const SyncRequest& request_;
  const SyncOptions& options_;
  std::chrono::steady_clock::time_point start_;
  RepoUrl url_;
  fs::path target_;
  std::unique_ptr<Source> source_;
  SyncReport report_;
  std::string stamp_;
  // Tracked paths changed on disk, as found by restore_deleted's scan.
  std::vector<std::string> worktree_changes_;
  bool worktree_known_ = false;
};

std::unique_ptr<Source> Engine::make_source(ErrorCode code) {
  if (source_) return std::move(source_);
  if (options_.from_mirror) {
    MirrorSnapshot snap = read_mirror(*options_.from_mirror);
    return mirror_source(std::move(snap), nullptr, url_, &options_.on_event);
  }
  if (options_.mirror) {
    MirrorSnapshot snap = options_.mirror->refresh(url_, options_.on_event, code);
    return mirror_source(std::move(snap), options_.mirror, url_, &options_.on_event);
  }
  return direct_source(url_, options_.credentials, &options_.on_event, code);
}

RefSnapshot::Resolved Engine::resolve(const RefSnapshot& refs) const {
  if (request_.branch && !request_.branch->empty()) {
    if (auto r = refs.resolve(*request_.branch)) return *r;
    auto branches = refs.branches();
    std::string known = branches.empty() ? "it has no branches" : "its branches are: " + join(branches, ", ");
    throw SyncError(ErrorCode::branch_exist, "The branch '" + *request_.branch + "' does not exist in " + url_.clean +
                                                 " (" + known + "). Ask your teacher for an updated link.");
  }
  if (auto r = refs.resolve_default()) return *r;
  if (refs.refs.empty())
    throw SyncError(ErrorCode::branch_resolve, "The repository " + url_.clean + " is empty: it has no branches yet.");
  throw SyncError(ErrorCode::branch_resolve, "Could not tell which branch of " + url_.clean +
                                                 " to use; the link should name one (branches: " +
                                                 join(refs.branches(), ", ") + ").");
}

SyncReport Engine::run() {
  url_ = parse_repo_url(request_.repo_url);
  if (request_.target_dir.empty()) throw SyncError(ErrorCode::target_invalid, "No folder to sync into was given.");
  std::error_code ec;
  target_ = fs::absolute(request_.target_dir, ec).lexically_normal();
  if (target_.has_filename() == false) target_ = target_.parent_path();
  if (target_ == target_.root_path())
    throw SyncError(ErrorCode::target_invalid, "Refusing to sync into the root folder.");
  report_.repo_url = url_.clean;
  report_.target_dir = target_.string();

  std::string branch_note = request_.branch ? " (branch " + *request_.branch + ")" : "";
  say("Syncing " + url_.clean + branch_note + " into " + target_.string());

  for (int attempt = 0;; ++attempt) {
    // Another sync replacing the folder under us is rare; a folder that keeps
    // changing is given up on.
    if (attempt >= 5) throw SyncError(ErrorCode::lock, "The folder kept changing while syncing; try again.");
    Classified c = classify(target_, url_.key);
    switch (c.state) {
      case FolderState::not_a_folder:
        throw SyncError(ErrorCode::target_invalid, target_.string() + " exists and is not a folder; it was left untouched.");
      case FolderState::not_a_repo:
        throw SyncError(ErrorCode::not_a_repo,
                        target_.string() + " already exists, is not empty and is not a copy of a git repository. "
                                           "It was left untouched: move it away or choose another folder.");
      case FolderState::other_repo:
        throw SyncError(ErrorCode::remote_mismatch,
                        target_.string() + " is a copy of " +
                            (c.origin.empty() ? std::string("a repository without origin") : strip_userinfo(c.origin)) +
                            ", not of " + url_.clean + ". It was left untouched: move it away or choose another folder.");
      case FolderState::missing:
      case FolderState::empty: {
        auto source = make_source(ErrorCode::clone);
        if (first_clone(*source)) return std::move(report_);
        // Someone else cloned it meanwhile: update what they made.
        source_ = std::move(source);
        break;
      }
      case FolderState::same_repo: {
        GitRepository repo = open_exact(target_);
        if (!repo) continue;
        fs::path git_dir = git_repository_path(repo.get());
        repo.reset();
        fs::path lock_path = git_dir / kSyncLockName;
        std::optional<common::FileLock> lock;
        try {
          lock = common::FileLock::try_acquire(lock_path.string(), options_.folder_lock_wait);
        } catch (const std::system_error& e) {
          throw SyncError(ErrorCode::lock, "Cannot lock " + target_.string() + " for syncing: " + e.what());
        }
        if (!lock)
          throw SyncError(ErrorCode::lock, "Another sync of " + target_.string() +
                                               " is taking too long; try again in a few minutes.");
        // The folder we waited for may have been replaced (backup and fresh clone).
        if (!lock->still_at_path()) continue;
        if (request_.backup_first) {
          backup_and_reclone("A fresh copy was asked for.");
          report_.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
          return std::move(report_);
        }
        update(git_dir);
        return std::move(report_);
      }
    }
  }
}

bool Engine::first_clone(Source& source) {
  fs::path parent = target_.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw SyncError(ErrorCode::target_invalid, "Cannot create the folder " + parent.string() + ": " + ec.message());
  std::string templ = (parent / ("." + target_.filename().string() + ".coursehub-XXXXXX")).string();
  if (!::mkdtemp(templ.data()))
    throw SyncError(ErrorCode::target_invalid, "Cannot create a folder next to " + target_.string() + ": " + std::strerror(errno));
  fs::path tmp = templ;
  struct Cleanup {
    fs::path p;
    bool keep = false;
    ~Cleanup() {
      if (keep) return;
      std::error_code e;
      fs::remove_all(p, e);
    }
  } cleanup{tmp};

  git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  opts.flags = GIT_REPOSITORY_INIT_MKPATH;
  opts.origin_url = url_.clean.c_str();
  git_repository* raw = nullptr;
  int rc = git_repository_init_ext(&raw, tmp.c_str(), &opts);
  GitRepository repo(raw);
  check(rc, ErrorCode::clone, "Cannot create the new folder");

  source.bring_objects(repo.get(), ErrorCode::clone);
  auto r = resolve(source.refs());
  std::string branch = local_branch_name(r);
  git_oid target = oid_from_hex(r.commit);
  set_branch(repo.get(), branch, target, true);
  if (starts_with(r.ref, kHeads)) {
    git_config* cfg_raw = nullptr;
    if (git_repository_config(&cfg_raw, repo.get()) == 0) {
      GitConfig cfg(cfg_raw);
      git_config_set_string(cfg.get(), ("branch." + branch + ".remote").c_str(), "origin");
      git_config_set_string(cfg.get(), ("branch." + branch + ".merge").c_str(), r.ref.c_str());
    }
  }
  bool copied = false;
  // The sync that just downloaded is usually alone (or first of a class):
  // it checks out directly; the ones after it share one snapshot.
  if (auto snapshot = source.fetched_upstream() ? std::nullopt : source.snapshot_for(r.commit)) {
    ProgressThrottle progress(&options_.on_event);
    copied = checkout_from_snapshot(repo.get(), *snapshot, target, progress);
  }
  if (!copied) {
    checkout(repo.get(), target, GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_WRITE_INDEX, nullptr, "Checking out files");
    write_index_after_checkout(repo.get());
  }
  repo.reset();

  ::chmod(tmp.c_str(), 0777 & ~process_umask());
  if (::rename(tmp.c_str(), target_.c_str()) != 0) {
    if (errno == ENOTEMPTY || errno == EEXIST) return false;
    throw SyncError(ErrorCode::clone, "Cannot create " + target_.string() + ": " + std::strerror(errno));
  }
  cleanup.keep = true;
  report_.outcome = SyncOutcome::cloned;
  report_.branch = branch;
  report_.commit = r.commit;
  report_.upstream_commit = r.commit;
  report_.upstream_fetched = source.fetched_upstream();
  report_.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return true;
}

void Engine::wait_for_index_lock(const fs::path& git_dir) {
  fs::path lock = git_dir / "index.lock";
  auto deadline = std::chrono::steady_clock::now() + options_.index_lock_wait;
  bool announced = false;
  for (;;) {
    struct stat st{};
    if (::lstat(lock.c_str(), &st) != 0) return;
    auto age = std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st.st_mtime);
    if (age > kStaleIndexLock) {
      if (::unlink(lock.c_str()) == 0 || errno == ENOENT) {
        say("Removed a stale .git/index.lock left behind by an interrupted git command.");
        return;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw SyncError(ErrorCode::lock, "Another program (probably git) is working in " + target_.string() +
                                           " right now (.git/index.lock exists). Nothing was changed; wait a moment "
                                           "and sync again. If no git command is running, delete " + lock.string() + ".");
    if (!announced) {
      say("Waiting for another git program to finish in this folder...");
      announced = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void Engine::update(const fs::path& git_dir) {
  wait_for_index_lock(git_dir);
  GitRepository repo = open_exact(target_);
  if (!repo) throw SyncError(ErrorCode::not_a_repo, target_.string() + " can no longer be opened as a git repository.");
  update_locked(repo.get());
  report_.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Engine::update_locked(git_repository* repo) {
  // A student's origin must never hold a credential (old setups put tokens there).
  if (auto origin = origin_url(repo); origin && strip_userinfo(*origin) != *origin)
    git_remote_set_url(repo, "origin", url_.clean.c_str());

  // Leftovers of a git command run by hand: a half-done merge or conflicts.
  git_repository_state_cleanup(repo);

  source_ = make_source(ErrorCode::fetch);
  auto r = resolve(source_->refs());
  std::optional<git_oid> old_tracking;
  {
    std::string tracking = starts_with(r.ref, kHeads) ? "refs/remotes/origin/" + r.ref.substr(kHeads.size()) : r.ref;
    git_oid oid;
    if (git_reference_name_to_id(&oid, repo, tracking.c_str()) == 0) {
      git_object* obj = nullptr;
      if (git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY) == 0) {
        GitObject o(obj);
        git_object* peeled = nullptr;
        if (git_object_peel(&peeled, o.get(), GIT_OBJECT_COMMIT) == 0) {
          GitObject p(peeled);
          old_tracking = *git_object_id(p.get());
        }
      }
    }
  }
  source_->bring_objects(repo, ErrorCode::fetch);
  report_.upstream_fetched = source_->fetched_upstream();
  if (!complete_shallow(repo)) {
    backup_and_reclone("The history of this folder cannot be completed from upstream (it was a shallow copy of "
                       "history upstream no longer has).");
    return;
  }

  std::string branch = local_branch_name(r);
  report_.branch = branch;
  report_.upstream_commit = r.commit;

  git_reference* head_raw = nullptr;
  int rc = git_repository_head(&head_raw, repo);
  GitReference head(head_raw);
  git_oid target = oid_from_hex(r.commit);
  if (rc == GIT_EUNBORNBRANCH || rc == GIT_ENOTFOUND) {
    // A repository without any commit yet: just take upstream's.
    GitTree to = tree_of(repo, target, ErrorCode::fetch);
    move_aside_collisions(repo, nullptr, to.get());
    set_branch(repo, branch, target, true);
    checkout(repo, target, GIT_CHECKOUT_SAFE | GIT_CHECKOUT_RECREATE_MISSING, nullptr, "Checking out files");
    report_.outcome = SyncOutcome::cloned;
    report_.commit = r.commit;
    return;
  }
  check(rc, ErrorCode::fetch, "Cannot read the folder's current commit");
  std::string current;
  if (git_reference_is_branch(head.get())) current = git_reference_name(head.get()) + kHeads.size();
  if (current != branch) {
    switch_branch(repo, r, old_tracking);
  } else {
    update_branch(repo, r, old_tracking);
  }
}

std::vector<std::string> Engine::restore_deleted(git_repository* repo, git_tree* upstream_tree, bool* other_changes) {
  git_status_options opts = GIT_STATUS_OPTIONS_INIT;
  opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
  git_status_list* raw = nullptr;
  check(git_status_list_new(&raw, repo, &opts), ErrorCode::fetch, "Cannot check the folder for changes");
  GitStatusList list(raw);
  std::vector<std::string> restore;
  *other_changes = false;
  worktree_changes_.clear();
  const char* workdir = git_repository_workdir(repo);
  for (size_t i = 0; i < git_status_list_entrycount(list.get()); ++i) {
    const git_status_entry* e = git_status_byindex(list.get(), i);
    unsigned s = e->status;
    if (s == GIT_STATUS_CURRENT || (s & GIT_STATUS_IGNORED)) continue;
    const git_diff_delta* d = e->head_to_index ? e->head_to_index : e->index_to_workdir;
    std::string path = d->old_file.path ? d->old_file.path : d->new_file.path;
    bool deleted = (s & GIT_STATUS_WT_DELETED) || (s & GIT_STATUS_INDEX_DELETED);
    bool only_deleted = deleted && !(s & (GIT_STATUS_INDEX_NEW | GIT_STATUS_INDEX_MODIFIED | GIT_STATUS_WT_MODIFIED |
                                          GIT_STATUS_INDEX_RENAMED | GIT_STATUS_WT_RENAMED | GIT_STATUS_INDEX_TYPECHANGE |
                                          GIT_STATUS_WT_TYPECHANGE));
    struct stat st{};
    bool on_disk = ::lstat((std::string(workdir) + path).c_str(), &st) == 0;
    if (only_deleted && !on_disk && tree_has(upstream_tree, path)) {
      restore.push_back(path);
      continue;
    }
    *other_changes = true;
    if (s & (GIT_STATUS_WT_MODIFIED | GIT_STATUS_WT_DELETED | GIT_STATUS_WT_TYPECHANGE))
      worktree_changes_.push_back(e->index_to_workdir ? e->index_to_workdir->old_file.path : path);
  }
  worktree_known_ = true;
  if (restore.empty()) return restore;

  std::vector<const char*> paths;
  for (const auto& p : restore) paths.push_back(p.c_str());
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
  co.paths = {const_cast<char**>(paths.data()), paths.size()};
  check(git_checkout_tree(repo, reinterpret_cast<git_object*>(upstream_tree), &co), ErrorCode::merge,
        "Cannot restore deleted files");
  for (const auto& p : restore) say("Restored " + p + " (you had deleted it; it now has upstream's latest content)");
  return restore;
}

git_oid Engine::commit_local_changes(git_repository* repo, const git_oid& head) {
  git_index* raw = nullptr;
  check(git_repository_index(&raw, repo), ErrorCode::merge, "Cannot read the folder's index");
  GitIndex index(raw);
  git_index_read(index.get(), 0);
  if (git_index_has_conflicts(index.get())) {
    // Unmerged entries left by a git command run by hand: take what is on disk.
    std::vector<std::string> paths;
    git_index_conflict_iterator* it_raw = nullptr;
    if (git_index_conflict_iterator_new(&it_raw, index.get()) == 0) {
      GitIndexConflictIterator it(it_raw);
      const git_index_entry *a, *o, *t;
      while (git_index_conflict_next(&a, &o, &t, it.get()) == 0) {
        const git_index_entry* any = o ? o : (t ? t : a);
        paths.push_back(any->path);
      }
    }
    const char* workdir = git_repository_workdir(repo);
    for (const auto& p : paths) {
      git_index_conflict_remove(index.get(), p.c_str());
      struct stat st{};
      if (::lstat((std::string(workdir) + p).c_str(), &st) == 0) git_index_add_bypath(index.get(), p.c_str());
    }
  }
  if (worktree_known_) {
    // The status scan already found what changed on disk: record just that,
    // hashing each changed file once.
    const char* workdir = git_repository_workdir(repo);
    for (const auto& p : worktree_changes_) {
      struct stat st{};
      int rc = ::lstat((std::string(workdir) + p).c_str(), &st) == 0 ? git_index_add_bypath(index.get(), p.c_str())
                                                                      : git_index_remove_bypath(index.get(), p.c_str());
      check(rc, ErrorCode::merge, "Cannot record your change to " + p);
    }
  } else {
    check(git_index_update_all(index.get(), nullptr, nullptr, nullptr), ErrorCode::merge, "Cannot record your changes");
  }
  git_oid tree_id;
  check(git_index_write_tree(&tree_id, index.get()), ErrorCode::merge, "Cannot record your changes");
  GitCommit parent = lookup_commit(repo, head, ErrorCode::merge);
  if (git_oid_equal(&tree_id, git_commit_tree_id(parent.get()))) return head;
  check(git_index_write(index.get()), ErrorCode::merge, "Cannot save the folder's index");
  git_tree* tree_raw = nullptr;
  check(git_tree_lookup(&tree_raw, repo, &tree_id), ErrorCode::merge, "Cannot record your changes");
  GitTree tree(tree_raw);
  GitSignature sig = engine_signature();
  git_oid commit_id;
  const git_commit* parents[] = {parent.get()};
  check(git_commit_create(&commit_id, repo, "HEAD", sig.get(), sig.get(), nullptr,
                          "Save the student's changes before syncing\n\nAutomatic commit by coursehub.\n", tree.get(), 1,
                          parents),
        ErrorCode::merge, "Cannot record your changes");
  say("Saved your changes in a commit before syncing");
  return commit_id;
}

void Engine::move_aside_collisions(git_repository* repo, git_tree* from, git_tree* to) {
  std::vector<std::string> added;
  if (from) {
    added = changed_paths(repo, from, to, GIT_DELTA_ADDED);
  } else {
    git_tree_walk(
        to, GIT_TREEWALK_PRE,
        [](const char* root, const git_tree_entry* e, void* payload) -> int {
          if (git_tree_entry_type(e) != GIT_OBJECT_TREE)
            static_cast<std::vector<std::string>*>(payload)->push_back(std::string(root) + git_tree_entry_name(e));
          return 0;
        },
        &added);
  }
  if (added.empty()) return;
  fs::path workdir = git_repository_workdir(repo);
  std::set<std::string> done;
  auto move_aside = [&](const std::string& rel) {
    if (done.count(rel)) return;
    done.insert(rel);
    fs::path src = workdir / rel;
    std::string name = src.filename().string();
    fs::path dst;
    for (int n = 0;; ++n) {
      dst = src.parent_path() / aside_name(name, stamp(), n);
      struct stat st{};
      if (::lstat(dst.c_str(), &st) != 0) break;
    }
    if (::rename(src.c_str(), dst.c_str()) != 0)
      throw SyncError(ErrorCode::merge, "Cannot move your file " + rel + " out of the way of upstream's new file: " +
                                            std::strerror(errno) + ". Nothing was lost; rename it yourself and sync again.");
    std::string to_rel = fs::path(dst).lexically_relative(workdir).generic_string();
    report_.files_renamed.push_back({rel, to_rel});
    say("Moved your " + rel + " to " + to_rel + " (upstream now has a file with that name)");
  };
  for (const auto& path : added) {
    // Each parent folder upstream needs must not be a file of the student's.
    std::string::size_type pos = 0;
    while ((pos = path.find('/', pos)) != std::string::npos) {
      std::string prefix = path.substr(0, pos);
      ++pos;
      struct stat st{};
      if (::lstat((workdir / prefix).c_str(), &st) != 0) break;
      if (S_ISDIR(st.st_mode)) continue;
      if (!tree_has(from, prefix)) move_aside(prefix);
      break;
    }
    struct stat st{};
    if (::lstat((workdir / path).c_str(), &st) == 0 && !tree_has(from, path)) move_aside(path);
  }
}

void Engine::checkout(git_repository* repo, const git_oid& commit_id, unsigned strategy, git_tree* from, const std::string& what) {
  GitCommit commit = lookup_commit(repo, commit_id, ErrorCode::merge);
  struct Payload {
    ProgressThrottle throttle;
    std::string what;
  } payload{ProgressThrottle(&options_.on_event), what};
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = strategy;
  co.progress_payload = &payload;
  co.progress_cb = [](const char*, size_t done, size_t total, void* p) {
    auto* pl = static_cast<Payload*>(p);
    Progress progress;
    progress.stage = Stage::checkout;
    progress.files_done = done;
    progress.files_total = total;
    unsigned pct = total ? static_cast<unsigned>(100.0 * done / total) : 100;
    pl->throttle.tick(pl->what + ": " + std::to_string(pct) + "% (" + std::to_string(done) + "/" + std::to_string(total) + ")",
                      progress, done == total);
  };
  int rc = git_checkout_tree(repo, reinterpret_cast<const git_object*>(commit.get()), &co);
  if (rc == GIT_ECONFLICT)
    throw SyncError(ErrorCode::merge, "A file in " + target_.string() + " changed while syncing, so nothing was "
                                      "overwritten. Save your work and sync again.");
  if (rc >= 0) return;
  const std::string reason = last_git_error();
  bool restored = false;
  if (from) {
    GitTree to = tree_of(repo, commit_id, ErrorCode::merge);
    restored = put_back(repo, from, changed_paths(repo, from, to.get()));
  }
  // ENOSPC, EDQUOT and EFBIG (a file size limit) all mean: no room.
  bool no_room = false;
  for (int e : {ENOSPC, EDQUOT, EFBIG})
    if (reason.find(std::strerror(e)) != std::string::npos) no_room = true;
  std::string message = no_room ? "There is no room for the course files in " + target_.string() +
                                      " (the disk is full or your storage quota is used up): " + reason + ". "
                                : "Cannot write the course files: " + reason + ". ";
  if (from)
    message += restored ? "Your folder was put back as it was before this sync; nothing of yours was lost."
                        : "Some files could not be put back either (" + last_git_error() +
                              "); your work is safe in the folder's git history (git log), nothing of yours was lost.";
  if (no_room) message += " Free some space, then sync again.";
  throw SyncError(ErrorCode::merge, message);
}

bool Engine::put_back(git_repository* repo, git_tree* from, const std::vector<std::string>& paths) {
  if (paths.empty()) return true;
  std::vector<char*> raw;
  raw.reserve(paths.size());
  for (const auto& p : paths) raw.push_back(const_cast<char*>(p.c_str()));
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  // Only these exact paths: files the failed checkout wrote are either
  // upstream's (restored from `from`) or new (removed, also when a
  // .gitignore matches them: collisions with the student's own files were
  // moved aside before it started).
  co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED | GIT_CHECKOUT_REMOVE_IGNORED |
                         GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
  co.paths = {raw.data(), raw.size()};
  if (git_checkout_tree(repo, reinterpret_cast<const git_object*>(from), &co) < 0) return false;
  // Folders the failed checkout made for new files go too, when empty.
  const fs::path workdir = git_repository_workdir(repo);
  for (const auto& p : paths) {
    for (fs::path dir = fs::path(p).parent_path(); !dir.empty(); dir = dir.parent_path()) {
      if (tree_has(from, dir.generic_string())) break;
      if (::rmdir((workdir / dir).c_str()) != 0) break;
    }
  }
  return true;
}



void Engine::set_branch(git_repository* repo, const std::string& branch, const git_oid& target, bool make_head) {
  std::string ref = std::string(kHeads) + branch;
  git_reference* raw = nullptr;
  int rc = git_reference_create(&raw, repo, ref.c_str(), &target, 1, "coursehub: sync");
  GitReference r(raw);
  check(rc, ErrorCode::merge, "Cannot update the branch " + branch);
  if (make_head) check(git_repository_set_head(repo, ref.c_str()), ErrorCode::merge, "Cannot switch to " + branch);
}

void Engine::update_branch(git_repository* repo, const RefSnapshot::Resolved& r, const std::optional<git_oid>& old_tracking) {
  git_oid target = oid_from_hex(r.commit);
  git_oid head;
  check(git_reference_name_to_id(&head, repo, "HEAD"), ErrorCode::fetch, "Cannot read the folder's current commit");
  GitTree upstream_tree = tree_of(repo, target, ErrorCode::fetch);
  bool other_changes = false;
  report_.files_restored = restore_deleted(repo, upstream_tree.get(), &other_changes);
  bool clean = !other_changes;

  auto done = [&](SyncOutcome outcome, const git_oid& now) {
    if (report_.outcome != SyncOutcome::switched_branch) report_.outcome = outcome;
    report_.commit = oid_hex(now);
  };

  if (git_oid_equal(&head, &target) || git_graph_descendant_of(repo, &head, &target) == 1) {
    say(report_.files_restored.empty() ? "Already up to date" : "Up to date; deleted files restored");
    done(SyncOutcome::up_to_date, head);
    return;
  }
  bool fast_forward = git_graph_descendant_of(repo, &target, &head) == 1;
  git_oid base;
  bool related = git_merge_base(&base, repo, &head, &target) == 0;
  if (!related) {
    backup_and_reclone("Upstream's history was replaced (it shares no commit with this folder).");
    return;
  }
  // The student changed nothing: take upstream's tip as it is.  When
  // upstream rewrote its history, merging would keep stale lines.
  bool student_commits = !(old_tracking && (git_oid_equal(&*old_tracking, &head) ||
                                            git_graph_descendant_of(repo, &*old_tracking, &head) == 1));
  if (clean && (fast_forward || !student_commits)) {
    GitTree from = tree_of(repo, head, ErrorCode::merge);
    move_aside_collisions(repo, from.get(), upstream_tree.get());
    checkout(repo, target, GIT_CHECKOUT_SAFE, from.get(), "Updating files");
    set_branch(repo, report_.branch, target, false);
    report_.files_updated = changed_paths(repo, from.get(), upstream_tree.get());
    if (!fast_forward) {
      report_.warnings.push_back("Upstream's history was rewritten; your copy had no changes of yours and now matches upstream.");
      say(report_.warnings.back());
    }
    say("Fast-forwarded to upstream's " + r.commit.substr(0, 10));
    done(SyncOutcome::fast_forwarded, target);
    return;
  }

  git_oid local = commit_local_changes(repo, head);
  git_oid merged = merge(repo, local, target);
  done(SyncOutcome::merged, merged);
}

git_oid Engine::merge(git_repository* repo, const git_oid& ours_id, const git_oid& theirs_id) {
  Progress p;
  p.stage = Stage::merge;
  ProgressThrottle(&options_.on_event).tick("Merging upstream's changes with yours", p, true);
  git_oid base_id;
  check(git_merge_base(&base_id, repo, &ours_id, &theirs_id), ErrorCode::merge, "Cannot find a common history");
  GitTree base = tree_of(repo, base_id, ErrorCode::merge);
  GitTree ours = tree_of(repo, ours_id, ErrorCode::merge);
  GitTree theirs = tree_of(repo, theirs_id, ErrorCode::merge);

  git_merge_options mopts = GIT_MERGE_OPTIONS_INIT;
  mopts.flags = GIT_MERGE_FIND_RENAMES;
  git_index* raw = nullptr;
  check(git_merge_trees(&raw, repo, base.get(), ours.get(), theirs.get(), &mopts), ErrorCode::merge,
        "Cannot merge upstream's changes");
  GitIndex index(raw);

  if (git_index_has_conflicts(index.get())) {
    struct Conflict {
      std::optional<git_index_entry> ancestor, ours, theirs;
      std::string path;
    };
    std::vector<Conflict> conflicts;
    std::vector<std::string> storage;
    git_index_conflict_iterator* it_raw = nullptr;
    check(git_index_conflict_iterator_new(&it_raw, index.get()), ErrorCode::merge, "Cannot merge");
    {
      GitIndexConflictIterator it(it_raw);
      const git_index_entry *a, *o, *t;
      while (git_index_conflict_next(&a, &o, &t, it.get()) == 0) {
        Conflict c;
        if (a) c.ancestor = *a;
        if (o) c.ours = *o;
        if (t) c.theirs = *t;
        c.path = (o ? o : (t ? t : a))->path;
        conflicts.push_back(c);
      }
    }
    std::vector<std::pair<std::string, std::optional<git_index_entry>>> resolved;
    for (auto& c : conflicts) {
      // Pointers into the iterator are gone: re-point paths at our strings.
      if (c.ancestor) c.ancestor->path = nullptr;
      std::string our_path = c.ours ? c.path : "", their_path = c.path;
      if (c.ours && c.theirs) {
        git_index_entry anc{}, o = *c.ours, t = *c.theirs;
        o.path = c.path.c_str();
        t.path = c.path.c_str();
        if (c.ancestor) {
          anc = *c.ancestor;
          anc.path = c.path.c_str();
        }
        git_merge_file_options fopts = GIT_MERGE_FILE_OPTIONS_INIT;
        fopts.favor = GIT_MERGE_FILE_FAVOR_OURS;
        MergeFileResult result;
        bool both_files = (o.mode & 0170000) == 0100000 && (t.mode & 0170000) == 0100000;
        int rc = both_files ? git_merge_file_from_index(&result.result, repo, c.ancestor ? &anc : nullptr, &o, &t, &fopts) : -1;
        git_index_entry out = o;
        if (rc == 0 && result.result.automergeable) {
          git_oid blob;
          check(git_blob_create_from_buffer(&blob, repo, result.result.ptr, result.result.len), ErrorCode::merge,
                "Cannot store merged file");
          out.id = blob;
        }
        // else: binary or special file: the student's version stays whole.
        out.flags = 0;
        resolved.emplace_back(c.path, out);
        report_.files_kept_local.push_back(c.path);
      } else if (c.ours) {
        // Upstream deleted (or renamed) what the student changed: keep the student's.
        git_index_entry out = *c.ours;
        out.flags = 0;
        resolved.emplace_back(c.path, out);
        report_.files_kept_local.push_back(c.path);
      } else if (c.theirs) {
        // The student deleted what upstream changed: upstream's version comes back.
        git_index_entry out = *c.theirs;
        out.flags = 0;
        resolved.emplace_back(c.path, out);
      } else {
        resolved.emplace_back(c.path, std::nullopt);
      }
    }
    for (auto& [path, entry] : resolved) {
      git_index_conflict_remove(index.get(), path.c_str());
      if (entry) {
        entry->path = path.c_str();
        check(git_index_add(index.get(), &*entry), ErrorCode::merge, "Cannot resolve " + path);
      }
    }
    if (git_index_has_conflicts(index.get()))
      throw SyncError(ErrorCode::merge, "Some files could not be merged; nothing was changed.");
    std::sort(report_.files_kept_local.begin(), report_.files_kept_local.end());
    report_.files_kept_local.erase(std::unique(report_.files_kept_local.begin(), report_.files_kept_local.end()),
                                   report_.files_kept_local.end());
    for (const auto& f : report_.files_kept_local) say("Kept your version of " + f + " where it differs from upstream's");
  }

  git_oid tree_id;
  check(git_index_write_tree_to(&tree_id, index.get(), repo), ErrorCode::merge, "Cannot store the merged files");
  git_tree* tree_raw = nullptr;
  check(git_tree_lookup(&tree_raw, repo, &tree_id), ErrorCode::merge, "Cannot store the merged files");
  GitTree merged_tree(tree_raw);
  GitCommit our_commit = lookup_commit(repo, ours_id, ErrorCode::merge);
  GitCommit their_commit = lookup_commit(repo, theirs_id, ErrorCode::merge);
  GitSignature sig = engine_signature();
  const git_commit* parents[] = {our_commit.get(), their_commit.get()};
  git_oid merge_id;
  check(git_commit_create(&merge_id, repo, nullptr, sig.get(), sig.get(), nullptr,
                          "Merge upstream's changes\n\nAutomatic merge by coursehub.\n", merged_tree.get(), 2, parents),
        ErrorCode::merge, "Cannot record the merge");

  move_aside_collisions(repo, ours.get(), merged_tree.get());
  checkout(repo, merge_id, GIT_CHECKOUT_SAFE, ours.get(), "Updating files");
  set_branch(repo, report_.branch, merge_id, false);
  report_.files_updated = changed_paths(repo, ours.get(), merged_tree.get());
  say("Merged upstream's changes (" + oid_hex(theirs_id).substr(0, 10) + ")");
  return merge_id;
}

void Engine::switch_branch(git_repository* repo, const RefSnapshot::Resolved& r, const std::optional<git_oid>& old_tracking) {
  git_oid head;
  check(git_reference_name_to_id(&head, repo, "HEAD"), ErrorCode::fetch, "Cannot read the folder's current commit");
  bool detached = git_repository_head_detached(repo) == 1;
  worktree_known_ = false;
  git_oid local = commit_local_changes(repo, head);
  if (detached && !git_oid_equal(&local, &head)) {
    std::string keep = "coursehub-saved-" + stamp();
    set_branch(repo, keep, local, false);
    report_.warnings.push_back("Your changes were saved on the branch " + keep + ".");
    say(report_.warnings.back());
  }
  const std::string& branch = report_.branch;
  GitTree from = tree_of(repo, local, ErrorCode::merge);
  report_.outcome = SyncOutcome::switched_branch;
  say("Switching to " + branch);
  git_oid existing;
  std::string ref = std::string(kHeads) + branch;
  if (git_reference_name_to_id(&existing, repo, ref.c_str()) == 0) {
    GitTree to = tree_of(repo, existing, ErrorCode::merge);
    move_aside_collisions(repo, from.get(), to.get());
    checkout(repo, existing, GIT_CHECKOUT_SAFE, from.get(), "Switching files");
    check(git_repository_set_head(repo, ref.c_str()), ErrorCode::merge, "Cannot switch to " + branch);
    update_branch(repo, r, old_tracking);
    report_.files_updated = changed_paths(repo, from.get(), tree_of(repo, oid_from_hex(report_.commit), ErrorCode::merge).get());
    return;
  }
  git_oid target = oid_from_hex(r.commit);
  GitTree to = tree_of(repo, target, ErrorCode::merge);
  move_aside_collisions(repo, from.get(), to.get());
  checkout(repo, target, GIT_CHECKOUT_SAFE, from.get(), "Switching files");
  set_branch(repo, branch, target, true);
  if (starts_with(r.ref, kHeads)) {
    git_config* cfg_raw = nullptr;
    if (git_repository_config(&cfg_raw, repo) == 0) {
      GitConfig cfg(cfg_raw);
      git_config_set_string(cfg.get(), ("branch." + branch + ".remote").c_str(), "origin");
      git_config_set_string(cfg.get(), ("branch." + branch + ".merge").c_str(), r.ref.c_str());
    }
  }
  report_.files_updated = changed_paths(repo, from.get(), to.get());
  report_.commit = r.commit;
}

void Engine::backup_and_reclone(const std::string& why) {
  fs::path backup;
  for (int n = 0;; ++n) {
    backup = target_;
    backup += "_backup_" + stamp() + (n > 0 ? "_" + std::to_string(n) : "");
    struct stat st{};
    if (::lstat(backup.c_str(), &st) != 0) break;
  }
  if (::rename(target_.c_str(), backup.c_str()) != 0)
    throw SyncError(ErrorCode::merge, why + " Could not move " + target_.string() + " aside: " + std::strerror(errno));
  std::string warning = why + " Your previous folder was moved to " + backup.string() + " and " + target_.string() +
                        " is a fresh copy.";
  say("Warning: " + warning);
  auto source = std::move(source_);
  if (!source) source = make_source(ErrorCode::clone);
  SyncReport keep = report_;
  if (!first_clone(*source))
    throw SyncError(ErrorCode::clone, "Another sync recreated " + target_.string() + " meanwhile; sync again.");
  report_.outcome = SyncOutcome::reset_with_backup;
  report_.backup_dir = backup.string();
  report_.warnings.insert(report_.warnings.begin(), warning);
  report_.upstream_fetched = report_.upstream_fetched || keep.upstream_fetched;
}

}  // namespace

SyncReport sync(const SyncRequest& request, const SyncOptions& options) {
  Engine engine(request, options);
  try {
    return engine.run();
  } catch (const SyncError&) {
    throw;
  } catch (const CredentialError& e) {
    throw SyncError(ErrorCode::auth, std::string("The stored credentials cannot be used: ") + e.what());
  } catch (const std::exception& e) {
    throw SyncError(ErrorCode::unknown, e.what());
  }
}

FolderState inspect_folder(const fs::path& dir, std::string_view repo_url) {
  return classify(fs::absolute(dir).lexically_normal(), repo_key(repo_url)).state;
}

std::optional<FolderInfo> read_folder(const fs::path& dir) {
  GitRepository repo = open_exact(fs::absolute(dir).lexically_normal());
  if (!repo) return std::nullopt;
  FolderInfo info;
  info.origin = strip_userinfo(origin_url(repo.get()).value_or(""));
  git_reference* raw = nullptr;
  if (git_repository_head(&raw, repo.get()) == 0) {
    GitReference head(raw);
    if (git_reference_is_branch(head.get())) info.branch = git_reference_shorthand(head.get());
    if (const git_oid* id = git_reference_target(head.get())) info.commit = oid_hex(*id);
  }
  return info;
}

void configure_libgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    stop_deferring_ca_certificates();
    // Objects read back from our own packs were verified when indexed.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
    // Only a repository's own config counts: the user's ~/.gitconfig (a
    // worker's HOME is the student's), XDG and system files could rewrite
    // URLs (url.*.insteadOf) or convert line endings (core.autocrlf).
    for (int level : {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA})
      git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
    register_socket_stream(std::chrono::seconds(30), std::chrono::minutes(2));
    // OpenSSL's variables name a private CA bundle (libgit2 with mbedTLS
    // reads only its built-in path otherwise); loaded on first https use.
    const char* file = std::getenv("SSL_CERT_FILE");
    const char* dir = std::getenv("SSL_CERT_DIR");
    // mbedTLS parses a whole directory up front, so with both set (Debian's
    // /etc/ssl/certs holds the bundle's certificates again) the file alone is used.
    if (file && *file) {
      use_ca_certificates(file, nullptr);
    } else if (dir && *dir) {
      use_ca_certificates(nullptr, dir);
    }
  });
}

}  // namespace gitpuller
