#pragma once
// Private: checkout snapshots kept in a mirror.
//
// Writing a course's files out of packed objects costs mostly zlib inflate;
// for a class of 60 that is 60 times the same work.  A snapshot is one
// checkout of a commit, kept in the mirror (`<mirror>/coursehub-snapshots/<commit>/`),
// that each student's folder copies with copy_file_range/reflink.  The
// copy is the student's own file, never a link.  Snapshots are created under
// a temporary name and renamed into place, so one that exists is complete.
#include <git2.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "transfer.hpp"

namespace gitpuller::detail {

std::filesystem::path snapshot_path(const std::filesystem::path& mirror, const std::string& commit);

// The snapshot of `commit` when it exists.
std::optional<std::filesystem::path> find_snapshot(const std::filesystem::path& mirror, const std::string& commit);

// Creates the snapshot of `commit` (when missing) and removes snapshots of
// commits not in `keep` beyond the newest few.  Never throws: nullopt when it
// could not be made (the caller then checks out from objects).
std::optional<std::filesystem::path> create_snapshot(const std::filesystem::path& mirror, const std::string& commit,
                                                     const std::set<std::string>& keep);

// Fills the empty work tree of `repo` from `snapshot` (the checkout of
// `commit`) and writes an index matching it.  Returns false, leaving
// whatever was copied, when the snapshot turned out incomplete; the caller
// then runs a forced checkout.
bool checkout_from_snapshot(git_repository* repo, const std::filesystem::path& snapshot, const git_oid& commit,
                            ProgressThrottle& progress);

// Sleeps until the file-system clock has moved past `t` (a file's mtime), so
// an index written now is strictly newer than the files it describes and
// none of them count as "racily clean" (which would make every later status
// re-hash them).  Waits at most a few milliseconds.
void wait_for_clock_past(const struct timespec& t);

}  // namespace gitpuller::detail
