#pragma once
// Where a sync may write, for callers that take a folder from a link
// (nbgitpuller's `targetpath`): policy 10/11 of DESIGN.md.
#include <filesystem>
#include <string_view>

namespace gitpuller {

// The absolute folder `relative` names inside `home`.  Throws
// SyncError(target_invalid) when `relative` is empty, absolute, contains a
// ".." component or a NUL, names `home` itself, or when an existing
// component is a symlink that leads outside `home` or something that is not
// a folder sits on the way.  Components that do not exist yet are kept
// as written.  Symlinks inside `home` are resolved, so the result is where
// the files will really be.  Blocking (stats the path); thread-safe.
//
// This checks the path at the time of the call; the write itself is
// protected by running it as the home's owner (who can only write where
// they may anyway).
std::filesystem::path resolve_in_home(const std::filesystem::path& home, std::string_view relative);

// Whether `path` is `dir` or below it, both taken literally (no symlink resolution).
bool path_is_within(const std::filesystem::path& path, const std::filesystem::path& dir);

}  // namespace gitpuller
