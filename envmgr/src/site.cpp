#include "envmgr/site.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_set>

#include "envmgr/error.hpp"
#include "envmgr/requirement.hpp"
#include "envmgr/version.hpp"

namespace fs = std::filesystem;

namespace envmgr {
namespace {

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Entries of a folder in readdir order (which is os.listdir's order too).
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  return out;
}

// Reads the header block of an RFC 822 style metadata file (like Python's
// email parser in compat32 mode: a value keeps its trailing spaces, folded
// lines are joined).  Stops at the first blank line, or the first line that
// is not a header.
std::multimap<std::string, std::string> parse_headers(const std::string& path) {
  std::multimap<std::string, std::string> out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  std::string buf;
  char chunk[8192];
  // Headers are at the top; read until the blank line that ends them.
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    if (buf.find("\n\n") != std::string::npos || buf.find("\r\n\r\n") != std::string::npos) break;
  }
  ::close(fd);
  std::string key, value;
  auto flush = [&] {
    if (!key.empty()) out.emplace(lower(key), value);
    key.clear();
    value.clear();
  };
  std::size_t pos = 0;
  while (pos < buf.size()) {
    auto nl = buf.find('\n', pos);
    if (nl == std::string::npos) nl = buf.size();
    std::string line = buf.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (!key.empty()) value += "\n" + line;
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) break;
    flush();
    key = line.substr(0, colon);
    std::size_t v = colon + 1;
    while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
    value = line.substr(v);
  }
  flush();
  return out;
}

std::string metadata_file(const std::string& info_path) {
  if (!is_dir(info_path)) return info_path;  // an .egg-info file is the metadata itself
  std::string m = info_path + "/METADATA";
  if (exists(m)) return m;
  return info_path + "/PKG-INFO";
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (!line.empty()) return line;
  }
  return "";
}

// Adds `dir` and the folders named by its .pth files, as site.addsitedir does.
void add_site_dir(const std::string& dir, std::vector<std::string>& path, std::set<std::string>& seen) {
  if (!seen.insert(dir).second) return;
  path.push_back(dir);
  auto entries = list_dir(dir);
  std::sort(entries.begin(), entries.end());
  for (const auto& name : entries) {
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".pth") != 0 || name[0] == '.') continue;
    std::ifstream in(dir + "/" + name);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      if (line.rfind("import ", 0) == 0 || line.rfind("import\t", 0) == 0) continue;
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
      if (line.empty()) continue;
      std::string p = line[0] == '/' ? line : dir + "/" + line;
      p = fs::path(p).lexically_normal().string();
      while (p.size() > 1 && p.back() == '/') p.pop_back();
      if (exists(p) && seen.insert(p).second) path.push_back(p);
    }
  }
}

std::map<std::string, std::string> read_pyvenv_cfg(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[lower(trim(line.substr(0, eq)))] = trim(line.substr(eq + 1));
  }
  return out;
}

// "3.11" from a folder lib/python3.11 in `prefix`.
std::optional<std::string> find_python_xy(const std::string& prefix) {
  for (const auto& n : list_dir(prefix + "/lib")) {
    if (n.rfind("python3.", 0) == 0 && is_dir(prefix + "/lib/" + n + "/site-packages")) return n.substr(6);
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(EnvKind kind) { return kind == EnvKind::conda ? "conda" : "venv"; }

bool EnvLayout::is_own(const std::string& dir) const {
  return std::find(own_site_dirs.begin(), own_site_dirs.end(), dir) != own_site_dirs.end();
}

std::optional<EnvLayout> detect_layout(const std::string& root_in) {
  std::string root = root_in;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (!is_dir(root)) return std::nullopt;
  EnvLayout l;
  l.root = root;
  l.bin_dir = root + "/bin";
  l.python = exists(root + "/bin/python") ? root + "/bin/python" : root + "/bin/python3";
  std::string base_prefix;
  if (exists(root + "/pyvenv.cfg")) {
    auto cfg = read_pyvenv_cfg(root + "/pyvenv.cfg");
    l.kind = EnvKind::venv;
    l.system_site_packages = lower(cfg["include-system-site-packages"]) == "true";
    std::string version = cfg.count("version") ? cfg["version"] : cfg["version_info"];
    if (!version.empty()) {
      l.python_version = version;
      auto d1 = version.find('.');
      auto d2 = d1 == std::string::npos ? std::string::npos : version.find('.', d1 + 1);
      l.python_xy = version.substr(0, d2);
    }
    std::string home = cfg["home"];
    if (!home.empty()) base_prefix = fs::path(home).parent_path().string();
  } else if (is_dir(root + "/conda-meta")) {
    l.kind = EnvKind::conda;
    base_prefix = root;
  } else {
    return std::nullopt;
  }
  if (!exists(l.python)) return std::nullopt;
  if (l.python_xy.empty() || !is_dir(root + "/lib/python" + l.python_xy + "/site-packages")) {
    auto xy = find_python_xy(root);
    if (!xy) return std::nullopt;
    l.python_xy = *xy;
    if (l.python_version.empty()) l.python_version = *xy;
  }
  std::string xy = l.python_xy;
  std::string xy_nodot = xy;
  xy_nodot.erase(std::remove(xy_nodot.begin(), xy_nodot.end(), '.'), xy_nodot.end());
  l.own_site_dirs.push_back(root + "/lib/python" + xy + "/site-packages");

  std::set<std::string> seen;
  if (!base_prefix.empty()) {
    for (const auto& p : {base_prefix + "/lib/python" + xy_nodot + ".zip", base_prefix + "/lib/python" + xy,
                          base_prefix + "/lib/python" + xy + "/lib-dynload"}) {
      if (seen.insert(p).second) l.sys_path.push_back(p);
    }
  }
  add_site_dir(l.own_site_dirs.front(), l.sys_path, seen);
  if (l.kind == EnvKind::venv && l.system_site_packages && !base_prefix.empty()) {
    // Debian's interpreter (prefix /usr with python3/dist-packages) looks in
    // dist-packages; any other in lib/pythonX.Y/site-packages.
    if (base_prefix == "/usr" && is_dir("/usr/lib/python3/dist-packages")) {
      add_site_dir("/usr/local/lib/python" + xy + "/dist-packages", l.sys_path, seen);
      add_site_dir("/usr/lib/python3/dist-packages", l.sys_path, seen);
    } else {
      add_site_dir(base_prefix + "/lib/python" + xy + "/site-packages", l.sys_path, seen);
    }
  }
  return l;
}

EnvLayout require_layout(const std::string& root) {
  auto l = detect_layout(root);
  if (l) return *l;
  if (!is_dir(root))
    throw EnvError(ErrorCode::not_an_env, root + " does not exist; create it with `coursehub env init`");
  throw EnvError(ErrorCode::not_an_env,
                 root + " is not a Python environment (no pyvenv.cfg or conda-meta/ with a bin/python)");
}

std::vector<InstalledDist> scan_distributions(const EnvLayout& layout) {
  std::vector<InstalledDist> out;
  std::unordered_set<std::string> found;  // canonical names from the metadata's Name
  static const std::set<std::string> kStdlib = {"python", "wsgiref", "argparse"};
  for (const auto& location : layout.sys_path) {
    auto entries = list_dir(location);
    // importlib.metadata groups a folder's metadata entries by the normalised
    // name of their folder, in order of first appearance.
    std::vector<std::string> group_order;
    std::map<std::string, std::vector<std::string>> groups;
    for (const auto& child : entries) {
      std::string low = lower(child);
      bool dist_info = low.size() > 10 && low.compare(low.size() - 10, 10, ".dist-info") == 0;
      bool egg_info = low.size() > 9 && low.compare(low.size() - 9, 9, ".egg-info") == 0;
      if (!dist_info && !egg_info) continue;
      std::string stem = low.substr(0, low.rfind('.'));
      std::string key = canonical_name(stem.substr(0, stem.find('-')));
      std::replace(key.begin(), key.end(), '-', '_');
      auto [it, inserted] = groups.try_emplace(key);
      if (inserted) group_order.push_back(key);
      it->second.push_back(child);
    }
    for (const auto& key : group_order) {
      for (const auto& child : groups[key]) {
        std::string info = location + "/" + child;
        auto headers = parse_headers(metadata_file(info));
        auto name_it = headers.find("name");
        auto version_it = headers.find("version");
        if (name_it == headers.end() || version_it == headers.end()) continue;
        if (!found.insert(canonical_name(name_it->second)).second) continue;
        // pip sorts and validates by the name in the folder's name.
        std::string stem = child.substr(0, child.rfind('.'));
        std::string dir_canonical = canonical_name(stem.substr(0, stem.find('-')));
        if (!valid_project_name(dir_canonical)) continue;
        if (kStdlib.count(dir_canonical)) continue;
        InstalledDist d;
        d.name = name_it->second;
        d.canonical = dir_canonical;
        d.version = Version::parse(version_it->second).str();
        d.location = location;
        d.info_path = info;
        d.own = layout.is_own(location);
        if (is_dir(info)) d.installer = first_line(info + "/INSTALLER");
        out.push_back(std::move(d));
      }
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const InstalledDist& a, const InstalledDist& b) { return a.canonical < b.canonical; });
  return out;
}

std::map<std::string, InstalledDist> own_distributions(const EnvLayout& layout) {
  EnvLayout own = layout;
  own.sys_path = layout.own_site_dirs;
  std::map<std::string, InstalledDist> out;
  for (auto& d : scan_distributions(own)) out.emplace(canonical_name(d.name), std::move(d));
  return out;
}

std::multimap<std::string, std::string> read_metadata_headers(const std::string& info_path) {
  return parse_headers(metadata_file(info_path));
}

std::vector<std::string> record_files(const InstalledDist& dist) {
  std::vector<std::string> out;
  if (!is_dir(dist.info_path)) return out;
  std::ifstream in(dist.info_path + "/RECORD");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::string path;
    if (line[0] == '"') {  // CSV quoting, for names with commas
      std::size_t i = 1;
      for (; i < line.size(); ++i) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            path += '"';
            ++i;
          } else {
            break;
          }
        } else {
          path += line[i];
        }
      }
    } else {
      path = line.substr(0, line.find(','));
    }
    if (path.empty()) continue;
    fs::path p = path[0] == '/' ? fs::path(path) : fs::path(dist.location) / path;
    out.push_back(p.lexically_normal().string());
  }
  return out;
}

}  // namespace envmgr
