#pragma once
// Private: where a sync gets its objects and upstream's refs from.
#include <git2.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "gitpuller/mirror_cache.hpp"
#include "gitpuller/remote.hpp"
#include "gitpuller/report.hpp"
#include "gitpuller/url.hpp"
#include "transfer.hpp"

namespace gitpuller {
class CredentialProvider;
class MirrorCache;
}  // namespace gitpuller

namespace gitpuller::detail {

class Source {
 public:
  virtual ~Source() = default;
  // Upstream's heads and tags as this source knows them.
  virtual const RefSnapshot& refs() const = 0;
  // Makes every object reachable from refs() present in `repo` (a copy, never
  // an alternate), completes a shallow history, and points the remote-tracking
  // refs (refs/remotes/origin/*, refs/tags/*) at refs().  Throws SyncError(code).
  virtual void bring_objects(git_repository* repo, ErrorCode code) = 0;
  // Whether this sync downloaded from upstream.
  virtual bool fetched_upstream() const = 0;
  // A ready checkout of `commit` to copy files from, when the source keeps one.
  virtual std::optional<std::filesystem::path> snapshot_for(const std::string& commit) { return std::nullopt; }
};

// Objects copied from a bare mirror: refreshed by `cache` (which may then
// also make checkout snapshots), or by someone else when `cache` is null
// (worker mode: existing snapshots are used, none are made).
std::unique_ptr<Source> mirror_source(MirrorSnapshot snapshot, MirrorCache* cache, const RepoUrl& url,
                                      const EventCallback* on_event);

// Objects fetched from upstream straight into the repository.  Lists
// upstream's refs on construction (throws SyncError(code)).
std::unique_ptr<Source> direct_source(const RepoUrl& url, const CredentialProvider* credentials,
                                      const EventCallback* on_event, ErrorCode code);

// Points refs/remotes/origin/<branch> and refs/tags/<tag> at `refs`, removes
// remote-tracking branches upstream no longer has, and sets origin/HEAD.
void set_tracking_refs(git_repository* repo, const RefSnapshot& refs, ErrorCode code);

// When `repo` is a shallow clone whose missing history is now present,
// removes the shallow marker.  Returns false when history is still missing.
bool complete_shallow(git_repository* repo);

}  // namespace gitpuller::detail
