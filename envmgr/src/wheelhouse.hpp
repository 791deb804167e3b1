#pragma once
// The managed wheelhouse P/state/wheelhouse: a flat folder of .whl files.
// Private to envmgr.  Functions are thread-safe as far as the file system is;
// writers hold the environment lock.
#include <optional>
#include <string>
#include <vector>

#include "envmgr/site.hpp"

namespace envmgr::detail {

struct WheelName {
  std::string canonical;  // canonical project name
  std::string version;    // normalised
};

// Parses "name-version(-build)?-py-abi-plat.whl"; nullopt for other names.
std::optional<WheelName> parse_wheel_filename(const std::string& filename);

class Wheelhouse {
 public:
  explicit Wheelhouse(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

  // Path of a wheel of that project and version, or nullopt.
  std::optional<std::string> find(const std::string& canonical, const std::string& version) const;

  // Moves every .whl of `from` in (replacing same-named files).
  void absorb(const std::string& from) const;

  // Makes sure `dist` (installed in the environment) can be reinstalled from
  // here: a wheel already present, else Debian's copy (/usr/share/python-wheels),
  // else one rebuilt from the installed files listed in its RECORD.  Returns
  // false when none of these is possible (an egg-info install).
  bool secure(const InstalledDist& dist, const EnvLayout& layout) const;

 private:
  std::string dir_;
};

// Hex sha256 of a file; throws EnvError(io) when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace envmgr::detail
