#include "gitpuller/url.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "gitpuller/error.hpp"

namespace gitpuller {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string_view strip_trailing_slashes(std::string_view s) {
  while (s.size() > 1 && s.back() == '/') s.remove_suffix(1);
  return s;
}

// Splits "scheme://authority/path" into its parts; false when there is no "://".
bool split_url(std::string_view url, std::string_view& scheme, std::string_view& authority,
               std::string_view& rest) {
  auto pos = url.find("://");
  if (pos == std::string_view::npos || pos == 0) return false;
  scheme = url.substr(0, pos);
  for (char c : scheme)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  std::string_view after = url.substr(pos + 3);
  auto slash = after.find('/');
  authority = after.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : after.substr(slash);
  return true;
}

std::string strip_git_suffix(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".git") == 0) path.resize(path.size() - 4);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string local_key(std::string_view path) {
  fs::path p = fs::path(std::string(path));
  std::error_code ec;
  if (p.is_relative()) p = fs::absolute(p, ec);
  return "file://" + strip_git_suffix(p.lexically_normal().string());
}

// "scp-like" git addresses: user@host:path or host:path (no slash before ':').
bool looks_scp_like(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto slash = s.find('/');
  return slash == std::string_view::npos || colon < slash;
}

}  // namespace

std::string strip_userinfo(std::string_view url) {
  std::string_view scheme, authority, rest;
  if (!split_url(url, scheme, authority, rest)) return std::string(url);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(scheme) + "://" + std::string(authority.substr(at + 1)) + std::string(rest);
}

std::string repo_key(std::string_view raw) {
  std::string_view url = trim(raw);
  std::string_view scheme, authority, rest;
  if (split_url(url, scheme, authority, rest)) {
    std::string sch = lower(scheme);
    if (sch == "file") return local_key(rest.empty() ? "/" : rest);
    auto at = authority.rfind('@');
    if (at != std::string_view::npos) authority = authority.substr(at + 1);
    std::string host = lower(authority);
    if (sch == "https" && host.size() > 4 && host.compare(host.size() - 4, 4, ":443") == 0) host.resize(host.size() - 4);
    if (sch == "http" && host.size() > 3 && host.compare(host.size() - 3, 3, ":80") == 0) host.resize(host.size() - 3);
    std::string path = strip_git_suffix(std::string(rest.empty() ? "/" : rest));
    if (path == "/") path.clear();
    return sch + "://" + host + path;
  }
  if (!url.empty() && (url.front() == '/' || url.front() == '.' || !looks_scp_like(url))) return local_key(url);
  return std::string(url);
}

bool same_repository(std::string_view a, std::string_view b) { return repo_key(a) == repo_key(b); }

RepoUrl parse_repo_url(std::string_view raw) {
  std::string_view url = trim(raw);
  if (url.empty()) throw SyncError(ErrorCode::clone, "No repository URL was given.");
  if (url.find('\0') != std::string_view::npos || url.find('\n') != std::string_view::npos)
    throw SyncError(ErrorCode::clone, "The repository URL contains invalid characters.");
  RepoUrl out;
  std::string_view scheme, authority, rest;
  if (split_url(url, scheme, authority, rest)) {
    std::string sch = lower(scheme);
    if (sch == "https" || sch == "http") {
      if (authority.find('@') != std::string_view::npos)
        throw SyncError(ErrorCode::auth,
                        "The repository URL contains a user name or password. Remove it from the URL: "
                        "credentials for private repositories are stored by an admin with "
                        "`coursehub cred add " + strip_userinfo(url) + "`.");
      if (authority.empty()) throw SyncError(ErrorCode::clone, "The repository URL " + std::string(url) + " has no host.");
      out.kind = sch == "https" ? RepoUrl::Kind::https : RepoUrl::Kind::http;
      out.clean = std::string(strip_trailing_slashes(url));
    } else if (sch == "file") {
      if (!authority.empty() && authority != "localhost")
        throw SyncError(ErrorCode::clone, "file:// URLs must name a local path (file:///path/to/repo).");
      out.kind = RepoUrl::Kind::file;
      out.clean = "file://" + std::string(strip_trailing_slashes(rest.empty() ? "/" : rest));
    } else {
      throw SyncError(ErrorCode::clone, "Repositories can be synced over https://, http://, file:// or from a "
                                        "local path; '" + strip_userinfo(url) + "' uses " + sch + "://.");
    }
  } else if (url.front() == '/' || url.front() == '.' || !looks_scp_like(url)) {
    out.kind = RepoUrl::Kind::local;
    std::error_code ec;
    fs::path p = fs::absolute(fs::path(std::string(url)), ec).lexically_normal();
    out.clean = std::string(strip_trailing_slashes(p.string()));
  } else {
    throw SyncError(ErrorCode::clone, "Repositories can be synced over https://, http://, file:// or from a "
                                      "local path; SSH addresses like '" + std::string(url) + "' are not supported.");
  }
  out.key = repo_key(out.clean);
  return out;
}

std::string default_folder_name(std::string_view url) {
  std::string s = strip_git_suffix(std::string(trim(url)));
  auto slash = s.find_last_of("/:");
  std::string name = slash == std::string::npos ? s : s.substr(slash + 1);
  return name;
}

}  // namespace gitpuller
