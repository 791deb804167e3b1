#include "gitpuller/target_path.hpp"

#include <sys/stat.h>

#include <string>

#include "gitpuller/error.hpp"

namespace gitpuller {

namespace fs = std::filesystem;

bool path_is_within(const fs::path& path, const fs::path& dir) {
  fs::path p = path.lexically_normal();
  fs::path d = dir.lexically_normal();
  auto pi = p.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++pi) {
    if (di->empty() && std::next(di) == d.end()) break;  // trailing slash of dir
    if (pi == p.end() || *pi != *di) return false;
  }
  return true;
}

fs::path resolve_in_home(const fs::path& home, std::string_view relative) {
  auto invalid = [&](const std::string& why) -> SyncError {
    return SyncError(ErrorCode::target_invalid, "The folder '" + std::string(relative) + "' is not allowed: " + why);
  };
  if (relative.empty()) throw invalid("it is empty");
  if (relative.find('\0') != std::string_view::npos) throw invalid("it contains a NUL character");
  fs::path rel{std::string(relative)};
  if (rel.is_absolute() || relative.front() == '~') throw invalid("it must be a path inside your home folder, not an absolute one");
  for (const auto& part : rel)
    if (part == "..") throw invalid("it must not contain '..'");

  std::error_code ec;
  fs::path real_home = fs::canonical(home, ec);
  if (ec) throw SyncError(ErrorCode::target_invalid, "The home folder " + home.string() + " does not exist.");

  fs::path current = real_home;
  bool missing = false;
  for (const auto& part : rel) {
    if (part.empty() || part == ".") continue;
    fs::path next = current / part;
    if (missing) {
      current = next;
      continue;
    }
    struct stat st{};
    if (::lstat(next.c_str(), &st) != 0) {
      missing = true;
      current = next;
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      fs::path resolved = fs::canonical(next, ec);
      if (ec) throw invalid("it goes through a broken symbolic link (" + next.string() + ")");
      if (!path_is_within(resolved, real_home)) throw invalid("it leads outside your home folder through a symbolic link");
      next = resolved;
      if (::stat(next.c_str(), &st) != 0) throw invalid("it cannot be read");
    }
    current = next;
  }
  // Everything but the last component must be a folder (or not exist yet).
  for (fs::path p = current.parent_path(); path_is_within(p, real_home) && p != real_home; p = p.parent_path()) {
    struct stat st{};
    if (::stat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) throw invalid(p.string() + " is a file, not a folder");
  }
  if (current == real_home) throw invalid("it names your home folder itself");
  if (!path_is_within(current, real_home)) throw invalid("it leads outside your home folder");
  return current;
}

}  // namespace gitpuller
