#pragma once
// The mirror cache: one bare mirror per upstream repository, so that a class
// of students syncing the same repository causes one upstream download.
//
// Each refresh first lists upstream's refs (a cheap request, so nobody gets
// stale content), and downloads only when the mirror does not already hold
// exactly those refs.  Downloads are single-flight: within a process through
// a mutex per repository, between processes through a lock file per mirror
// (`<root>/<name>.lock`); whoever waited re-checks the refs after the wait
// and reuses the download that just finished.
//
// Mirror files are made world-readable (directories a+rx), so an
// unprivileged worker can sync from a mirror it cannot write
// (`coursehub pull --from-mirror`).  The root must then be reachable by that
// user: every directory above it needs the x bit for others (e.g. a 0711
// state folder whose secret files are 0600).  The root itself is made 0711
// (not listable) and each mirror's name ends in a hash keyed with a secret
// of the installation (`<root>/.name-secret`, 0600), so a student who is
// handed one mirror's path cannot find another course's (private) mirror.
// Credentials never enter a mirror: its config holds no remote at all.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gitpuller/remote.hpp"
#include "gitpuller/report.hpp"
#include "gitpuller/url.hpp"

struct git_repository;

namespace gitpuller {

class CredentialProvider;

struct MirrorSnapshot {
  std::filesystem::path path;  // the bare mirror
  RefSnapshot refs;            // the mirror's heads and tags after the refresh
  bool fetched = false;        // this refresh downloaded from upstream
};

// Per-repository numbers for the admin page.
struct MirrorStats {
  std::string url;                          // clean upstream URL
  std::string path;                         // the mirror folder
  std::uint64_t upstream_fetches = 0;       // downloads ever made into this mirror
  std::optional<std::string> last_fetch;    // ISO 8601 UTC
  std::optional<std::string> last_check;    // last refs check seen by this process
  std::optional<std::string> last_error;    // scrubbed message of the last failure
  std::optional<std::string> last_error_at;
  std::uint64_t size_bytes = 0;             // disk use of the mirror
  std::optional<std::string> default_branch;
  std::vector<std::string> branches;
};

class MirrorCache {
 public:
  // `root` (e.g. P/state/mirrors) is created when missing, mode 0755.
  // `credentials` may be null and must outlive the cache.
  MirrorCache(std::filesystem::path root, const CredentialProvider* credentials);
  ~MirrorCache();
  MirrorCache(const MirrorCache&) = delete;
  MirrorCache& operator=(const MirrorCache&) = delete;

  // Makes the mirror of `url` hold upstream's current heads and tags.
  // Progress (check, fetch) goes to `on_event`.  Throws SyncError: auth,
  // `failure_code` (clone/fetch) when upstream cannot be read, lock when
  // another process kept the mirror locked longer than `lock_wait`.
  // Thread-safe; concurrent calls for the same URL share one download.
  MirrorSnapshot refresh(const RepoUrl& url, const EventCallback& on_event = {},
                         ErrorCode failure_code = ErrorCode::fetch);

  // Makes (once) a checkout snapshot of `commit` inside the mirror, from
  // which new folders copy their files instead of unpacking objects; returns
  // its path, or nullopt when it cannot be made (syncs then check out from
  // objects).  Only first syncs (new folders) use snapshots: sync() asks
  // for one itself; the hub calls it after refresh() before starting a
  // `--from-mirror` worker for a folder that does not exist yet (the worker
  // can use but not make snapshots).  Costs one checkout per commit; the
  // newest few per mirror are kept.  Thread-safe, single-flight like refresh().
  std::optional<std::filesystem::path> prepare_snapshot(const RepoUrl& url, const std::string& commit);

  // "Warm the cache" before class: refresh(), then the snapshot of `branch`
  // (upstream's default branch when empty), so the first students' syncs
  // find everything ready.  Returns the refreshed mirror.  Throws like
  // refresh(), and SyncError(branch_exist / branch_resolve) for a bad branch.
  MirrorSnapshot warm(const RepoUrl& url, const std::string& branch = "", const EventCallback& on_event = {});

  // Where the mirror of `url` lives (whether or not it exists yet).
  std::filesystem::path path_for(const RepoUrl& url) const;

  // Stats of one mirror, nullopt when it was never made.  Thread-safe.
  std::optional<MirrorStats> stats(const RepoUrl& url) const;
  // Stats of every mirror under the root.
  std::vector<MirrorStats> list() const;

  // Paths of the files (blobs) in the tree of `branch` (default branch when
  // empty) in the mirror, '/'-separated, sorted; for a link generator.
  // Throws SyncError(branch_exist) when the branch is unknown, (fetch) when
  // no mirror exists.
  std::vector<std::string> list_files(const RepoUrl& url, const std::string& branch = "") const;

  // Deletes the mirror (waiting for its lock).  true when one existed.
  bool remove(const RepoUrl& url);

  std::chrono::milliseconds lock_wait{std::chrono::minutes(10)};

 private:
  struct Entry;
  Entry& entry_for(const std::string& key);
  MirrorSnapshot finish_fetch(git_repository* repo, const RepoUrl& url, const std::filesystem::path& path,
                              const std::filesystem::path& stats_path, const RefSnapshot& upstream);

  std::filesystem::path root_;
  std::string secret_;  // keys mirror names (see above)
  const CredentialProvider* credentials_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

// Reads the refs of an existing mirror without contacting upstream or taking
// any lock (what a `--from-mirror` worker sees).  Throws SyncError(fetch)
// when `mirror` is not a readable bare repository.
MirrorSnapshot read_mirror(const std::filesystem::path& mirror);

}  // namespace gitpuller
