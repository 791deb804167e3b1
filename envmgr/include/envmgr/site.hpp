#pragma once
// Reading a Python environment from disk, without starting Python.
//
// EnvLayout works out what the environment's interpreter would put on
// sys.path (its own site-packages, and the system's when the venv was made
// with --system-site-packages, plus .pth additions).  scan_distributions()
// then finds installed distributions the way pip 23's importlib backend does,
// so the result agrees with `pip list --format=json`: same names (the
// metadata's Name), same normalised versions, same order, the first
// distribution of a name on sys.path wins.
//
// Everything here only reads files; all functions are thread-safe.  Errors
// throw EnvError(not_an_env) for a folder that is not an environment.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace envmgr {

enum class EnvKind { venv, conda };
const char* to_string(EnvKind kind);

struct EnvLayout {
  std::string root;            // the environment, e.g. /opt/tljh/user
  EnvKind kind = EnvKind::venv;
  std::string python;          // root/bin/python (or python3)
  std::string python_version;  // "3.11.2"
  std::string python_xy;       // "3.11"
  bool system_site_packages = false;
  std::vector<std::string> own_site_dirs;  // where installs go (site-packages)
  std::vector<std::string> sys_path;       // as the interpreter would have it, without ''
  std::string bin_dir;                     // root/bin

  // Whether `dir` is one of the environment's own site folders.
  bool is_own(const std::string& dir) const;
};

// What `root` is, or std::nullopt when it is not a Python environment (no
// pyvenv.cfg, no conda-meta/, no bin/python).  A missing folder is nullopt.
std::optional<EnvLayout> detect_layout(const std::string& root);
// detect_layout() or throw EnvError(not_an_env) saying what was found.
EnvLayout require_layout(const std::string& root);

struct InstalledDist {
  std::string name;        // the metadata's Name, as pip shows it
  std::string canonical;   // PEP 503 normalised name (from the metadata folder name, like pip)
  std::string version;     // normalised as pip shows it
  std::string installer;   // INSTALLER's first line, "" when absent
  std::string location;    // the sys.path folder it was found in
  std::string info_path;   // its .dist-info / .egg-info folder or file
  bool own = false;        // in the environment's own site-packages (else inherited)
};

// Installed distributions in pip's `pip list` order (by canonical name).
std::vector<InstalledDist> scan_distributions(const EnvLayout& layout);

// Only those in the environment's own site folders, keyed by canonical name.
std::map<std::string, InstalledDist> own_distributions(const EnvLayout& layout);

// Header fields of a distribution's METADATA/PKG-INFO (all values of each
// field, in order; the body is not read).
std::multimap<std::string, std::string> read_metadata_headers(const std::string& info_path);

// Files a distribution installed, from its RECORD, as absolute paths
// (empty for egg-info distributions, which have none).
std::vector<std::string> record_files(const InstalledDist& dist);

}  // namespace envmgr
