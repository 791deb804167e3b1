#pragma once
// Which program changes an environment's packages, and the exact command
// lines it is given.
//
// A venv is always changed with pip (through the managed wheelhouse, see
// env_manager.hpp).  A conda environment (conda-meta/ present) is changed
// with its own mamba, else its own conda, when it has one: conda packages
// must not be replaced behind conda's back.  Without either, pip is used as
// for a venv.  Requests conda cannot express (extras, environment markers,
// hashes, "===") go through pip too.
//
// Command lines are argv vectors, run without a shell; every element comes
// from a validated Requirement or a validated project name.  All functions
// only read the file system and are thread-safe.
#include <optional>
#include <string>
#include <vector>

#include "envmgr/requirement.hpp"
#include "envmgr/site.hpp"

namespace envmgr {

enum class InstallerKind { pip, mamba, conda };
const char* to_string(InstallerKind kind);

struct Installer {
  InstallerKind kind = InstallerKind::pip;
  std::string program;  // absolute path of mamba or conda; "" for pip (run by the environment's python)
};

// mamba, then conda, from the conda environment's bin/ (or condabin/);
// pip for a venv or a conda environment without them.
Installer choose_installer(const EnvLayout& layout);

// The requirement as a conda match spec ("numpy>=1.2,<2"), or nullopt when
// conda cannot express it (extras, a marker, hashes, "===", "!=X.*").
std::optional<std::string> conda_match_spec(const Requirement& r);

// `<program> install|update --prefix ROOT --yes --quiet SPEC...`; upgrade
// uses `update` when every requirement is a bare name (conda's update takes
// names only), `install` otherwise.  nullopt when a requirement has no conda
// match spec (the caller uses pip instead).
std::optional<std::vector<std::string>> conda_install_command(const Installer& installer, const EnvLayout& layout,
                                                              const std::vector<Requirement>& reqs, bool upgrade);

// `<program> remove --prefix ROOT --yes --quiet NAME...` (canonical names).
std::vector<std::string> conda_remove_command(const Installer& installer, const EnvLayout& layout,
                                              const std::vector<std::string>& names);

}  // namespace envmgr
