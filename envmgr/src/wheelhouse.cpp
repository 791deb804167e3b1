#include "wheelhouse.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/c_handle.hpp"
#include "envmgr/error.hpp"
#include "envmgr/requirement.hpp"
#include "envmgr/version.hpp"

namespace fs = std::filesystem;

namespace envmgr::detail {
namespace {

using ArchiveWriter = common::CHandle<archive, archive_write_free>;
using ArchiveEntry = common::CHandle<archive_entry, archive_entry_free>;
using MdCtx = common::CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EnvError(ErrorCode::io, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string urlsafe_b64_nopad(const unsigned char* data, std::size_t n) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < n; i += 3) {
    unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == n) {
    unsigned v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == n) {
    unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string record_hash(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return "sha256=" + urlsafe_b64_nopad(md, len);
}

// Console and GUI script names a distribution declares; pip regenerates
// those wrappers from entry_points.txt, so a rebuilt wheel leaves them out.
std::set<std::string> entry_point_scripts(const std::string& info_path) {
  std::set<std::string> out;
  std::ifstream in(info_path + "/entry_points.txt");
  std::string line, section;
  while (std::getline(in, line)) {
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    line = line.substr(b);
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    if (section != "console_scripts" && section != "gui_scripts") continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string name = line.substr(0, eq);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    out.insert(name);
  }
  return out;
}

std::string wheel_tag(const std::string& info_path) {
  std::ifstream in(info_path + "/WHEEL");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Tag:", 0) == 0) {
      auto t = line.substr(4);
      t.erase(0, t.find_first_not_of(" \t"));
      while (!t.empty() && (t.back() == '\r' || t.back() == ' ')) t.pop_back();
      if (!t.empty()) return t;
    }
  }
  return "py3-none-any";
}

// Rebuilds a wheel from what `dist` installed (its RECORD), so that an
// environment change can be undone even for packages that predate coursehub.
bool repack(const InstalledDist& dist, const EnvLayout& layout, const std::string& out_dir) {
  if (!fs::is_directory(dist.info_path) || !fs::exists(dist.info_path + "/RECORD")) return false;
  std::string info_name = fs::path(dist.info_path).filename().string();
  std::string stem = info_name.substr(0, info_name.size() - std::string(".dist-info").size());
  std::string data_dir = stem + ".data";
  auto scripts = entry_point_scripts(dist.info_path);
  fs::path site = dist.location;
  fs::path root = layout.root;

  std::vector<std::pair<std::string, std::string>> members;  // archive path, source file
  bool has_wheel_file = false;
  for (const auto& abs : record_files(dist)) {
    fs::path p(abs);
    auto rel_site = p.lexically_relative(site).string();
    if (rel_site.find("__pycache__") != std::string::npos || p.extension() == ".pyc") continue;
    std::string arc;
    if (!rel_site.empty() && rel_site.rfind("..", 0) != 0) {
      if (rel_site.rfind(info_name + "/", 0) == 0) {
        auto leaf = rel_site.substr(info_name.size() + 1);
        if (leaf == "RECORD" || leaf == "INSTALLER" || leaf == "REQUESTED" || leaf == "direct_url.json") continue;
        if (leaf == "WHEEL") has_wheel_file = true;
      }
      arc = rel_site;
    } else {
      auto rel_root = p.lexically_relative(root).string();
      if (rel_root.empty() || rel_root.rfind("..", 0) == 0) continue;  // outside the environment
      if (rel_root.rfind("bin/", 0) == 0) {
        auto script = rel_root.substr(4);
        if (scripts.count(script)) continue;
        arc = data_dir + "/scripts/" + script;
      } else {
        arc = data_dir + "/data/" + rel_root;
      }
    }
    if (!fs::is_regular_file(p)) return false;  // incomplete install: cannot rebuild it faithfully
    members.emplace_back(arc, abs);
  }
  if (!has_wheel_file) return false;

  std::string filename = stem + "-" + wheel_tag(dist.info_path) + ".whl";
  std::string tmp = out_dir + "/." + filename + ".tmp";
  {
    ArchiveWriter a(archive_write_new());
    if (!a) return false;
    archive_write_set_format_zip(a.get());
    if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK) return false;
    std::string record;
    auto add = [&](const std::string& arc, const std::string& data, bool exec) {
      ArchiveEntry e(archive_entry_new());
      archive_entry_set_pathname(e.get(), arc.c_str());
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_perm(e.get(), exec ? 0755 : 0644);
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
      if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) return false;
      if (!data.empty() && archive_write_data(a.get(), data.data(), data.size()) < 0) return false;
      return true;
    };
    for (const auto& [arc, src] : members) {
      std::string data = read_file(src);
      bool exec = ::access(src.c_str(), X_OK) == 0;
      if (!add(arc, data, exec)) return false;
      record += arc + "," + record_hash(data) + "," + std::to_string(data.size()) + "\n";
    }
    record += info_name + "/RECORD,,\n";
    if (!add(info_name + "/RECORD", record, false)) return false;
    if (archive_write_close(a.get()) != ARCHIVE_OK) return false;
  }
  ::chmod(tmp.c_str(), 0644);
  std::error_code ec;
  fs::rename(tmp, out_dir + "/" + filename, ec);
  return !ec;
}

}  // namespace

std::optional<WheelName> parse_wheel_filename(const std::string& filename) {
  if (filename.size() < 5 || filename.compare(filename.size() - 4, 4, ".whl") != 0) return std::nullopt;
  std::string base = filename.substr(0, filename.size() - 4);
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    auto dash = base.find('-', start);
    parts.push_back(base.substr(start, dash - start));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
  if (parts.size() != 5 && parts.size() != 6) return std::nullopt;
  if (!valid_project_name(parts[0])) return std::nullopt;
  return WheelName{canonical_name(parts[0]), Version::parse(parts[1]).str()};
}

std::optional<std::string> Wheelhouse::find(const std::string& canonical, const std::string& version) const {
  std::error_code ec;
  std::vector<std::string> matches;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    auto name = e.path().filename().string();
    auto w = parse_wheel_filename(name);
    if (w && w->canonical == canonical && w->version == version) matches.push_back(e.path().string());
  }
  if (matches.empty()) return std::nullopt;
  std::sort(matches.begin(), matches.end());
  return matches.front();
}

void Wheelhouse::absorb(const std::string& from) const {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(from, ec)) {
    if (e.path().extension() != ".whl") continue;
    auto target = fs::path(dir_) / e.path().filename();
    std::error_code rec;
    fs::rename(e.path(), target, rec);
    if (rec) fs::copy_file(e.path(), target, fs::copy_options::overwrite_existing, rec);
  }
}

bool Wheelhouse::secure(const InstalledDist& dist, const EnvLayout& layout) const {
  auto canonical = canonical_name(dist.name);
  if (find(canonical, dist.version)) return true;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/share/python-wheels", ec)) {
    auto w = parse_wheel_filename(e.path().filename().string());
    if (!w || w->canonical != canonical || w->version != dist.version) continue;
    std::error_code cec;
    fs::copy_file(e.path(), fs::path(dir_) / e.path().filename(), fs::copy_options::overwrite_existing, cec);
    if (!cec) return true;
  }
  try {
    return repack(dist, layout, dir_);
  } catch (const EnvError&) {
    return false;
  }
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EnvError(ErrorCode::io, "cannot read " + path);
  MdCtx ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace envmgr::detail
