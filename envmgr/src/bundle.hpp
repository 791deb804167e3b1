#pragma once
// Offline bundles: one tar.gz with an exact lock and the wheels it names.
//   coursehub-bundle/requirements.lock
//   coursehub-bundle/wheels/<name>-<version>-<tags>.whl
// Private to envmgr.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "envmgr/requirement.hpp"

namespace envmgr::detail {

inline constexpr const char* kBundleRoot = "coursehub-bundle";

struct BundleLimits {
  std::uint64_t max_total = 16ull << 30;   // bytes once unpacked
  std::uint64_t max_entry = 4ull << 30;    // bytes of one member
  std::size_t max_entries = 20000;
  // Unpacked bytes per archive byte, checked once past `ratio_floor`: real
  // wheels compress a few times, a bomb a thousand times.
  double max_ratio = 100.0;
  std::uint64_t ratio_floor = 32ull << 20;
};

struct BundleContents {
  std::string lock_text;
  std::vector<Requirement> lock;
  std::map<std::string, std::string> wheels;  // file name -> sha256 (hex)
};

// Reads the whole archive without writing anything and checks it: only the
// layout above, only regular files and folders, no absolute or ".." paths,
// within the limits, every wheel's sha256 listed by the lock for that
// project and version, every lock entry pinned and present.  Throws
// EnvError(bad_bundle) saying what is wrong.
BundleContents inspect_bundle(const std::string& path, const BundleLimits& limits = {});

// Second pass after inspect_bundle: writes the wheels into `dest`, each to a
// temporary name first, re-checking each hash; a mismatch (the file changed
// in between) removes what this call wrote and throws.
void extract_bundle_wheels(const std::string& path, const BundleContents& contents, const std::string& dest,
                           const BundleLimits& limits = {});

// Writes `path` (via a temporary file) from the lock text and wheel files.
void write_bundle(const std::string& path, const std::string& lock_text, const std::vector<std::string>& wheels);

}  // namespace envmgr::detail
