#pragma once
// Private: filling a repository's object store from a mirror by copying
// files.  Packs are immutable once their .idx exists, so copying them whole
// is both correct and far cheaper than building a pack for each student.
#include <cstdint>
#include <filesystem>

#include "transfer.hpp"

namespace gitpuller::detail {

struct CopyStats {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

// Copies into `dst_objects` every complete pack (.pack with its .idx) and
// every loose object of `src_objects` that `dst_objects` lacks (by file
// name).  Files are written under a temporary name and renamed, .pack before
// .idx, so a reader never sees half a pack.  With `link_packs`, packs (which
// nobody ever modifies) are hard-linked when the kernel allows it (same file
// system, and the caller may link the mirror's files); deleting the mirror
// later leaves the link intact, so the repository stays self-contained.
// Otherwise, and for loose objects, they are copied and belong to the
// caller.  Throws SyncError(code) on I/O errors.
CopyStats copy_missing_objects(const std::filesystem::path& src_objects, const std::filesystem::path& dst_objects,
                               ProgressThrottle& progress, ErrorCode code, bool link_packs = true);

// Copies one file (reflink, copy_file_range, or read/write) to `dst`,
// created with `mode`.  Throws SyncError(code).
void copy_file(const std::filesystem::path& src, const std::filesystem::path& dst, unsigned mode, ErrorCode code);

}  // namespace gitpuller::detail
