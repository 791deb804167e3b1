#include "envmgr/installer.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace envmgr {
namespace {

bool is_executable_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string part = s.substr(start, comma - start);
    part.erase(std::remove(part.begin(), part.end(), ' '), part.end());
    if (!part.empty()) out.push_back(part);
    start = comma + 1;
  }
  return out;
}

}  // namespace

const char* to_string(InstallerKind kind) {
  switch (kind) {
    case InstallerKind::pip: return "pip";
    case InstallerKind::mamba: return "mamba";
    case InstallerKind::conda: return "conda";
  }
  return "pip";
}

Installer choose_installer(const EnvLayout& layout) {
  if (layout.kind != EnvKind::conda) return {};
  for (const auto& [kind, rel] : {std::pair{InstallerKind::mamba, "/bin/mamba"}, {InstallerKind::conda, "/bin/conda"},
                                  {InstallerKind::conda, "/condabin/conda"}}) {
    std::string p = layout.root + rel;
    if (is_executable_file(p)) return {kind, p};
  }
  return {};
}

std::optional<std::string> conda_match_spec(const Requirement& r) {
  if (!r.extras.empty() || !r.marker.empty() || !r.hashes.empty()) return std::nullopt;
  std::vector<std::string> parts;
  for (const auto& clause : split_commas(r.specifier)) {
    if (clause.rfind("===", 0) == 0) return std::nullopt;
    // "==1.2.*" is conda's fuzzy "=1.2" (1.2, 1.2.x; not 1.20); every
    // other PEP 440 operator (==, !=, <=, >=, <, >, ~=) reads the same in a
    // conda version spec.  "!=1.2.*" has no conda spelling.
    bool wildcard = clause.size() > 2 && clause.compare(clause.size() - 2, 2, ".*") == 0;
    if (wildcard && clause.rfind("==", 0) == 0) parts.push_back("=" + clause.substr(2, clause.size() - 4));
    else if (wildcard) return std::nullopt;
    else parts.push_back(clause);
  }
  std::string out = canonical_name(r.name);
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
  return out;
}

std::optional<std::vector<std::string>> conda_install_command(const Installer& installer, const EnvLayout& layout,
                                                              const std::vector<Requirement>& reqs, bool upgrade) {
  if (installer.kind == InstallerKind::pip || reqs.empty()) return std::nullopt;
  std::vector<std::string> specs;
  bool names_only = true;
  for (const auto& r : reqs) {
    auto s = conda_match_spec(r);
    if (!s) return std::nullopt;
    names_only = names_only && r.specifier.empty();
    specs.push_back(*s);
  }
  std::vector<std::string> cmd = {installer.program, upgrade && names_only ? "update" : "install", "--prefix",
                                  layout.root, "--yes", "--quiet"};
  cmd.insert(cmd.end(), specs.begin(), specs.end());
  return cmd;
}

std::vector<std::string> conda_remove_command(const Installer& installer, const EnvLayout& layout,
                                              const std::vector<std::string>& names) {
  std::vector<std::string> cmd = {installer.program, "remove", "--prefix", layout.root, "--yes", "--quiet"};
  for (const auto& n : names) cmd.push_back(canonical_name(n));
  return cmd;
}

}  // namespace envmgr
