#pragma once
// Repository URLs: which ones are accepted, and when two name the same repo.
//
// Accepted: https://, http://, file:// and local paths (absolute or relative
// to the current directory).  Refused with a SyncError: other transports
// (ssh, git://, scp-like host:path), URLs with a user name or password in
// them (credentials belong in the credential store), empty strings.
// Pure functions, thread-safe.
#include <string>
#include <string_view>

namespace gitpuller {

struct RepoUrl {
  enum class Kind { https, http, file, local };
  Kind kind = Kind::https;
  // The URL to talk to and to record as `origin`: as given, minus surrounding
  // whitespace and trailing slashes; local paths made absolute.
  std::string clean;
  // Identity for comparisons: scheme and host lower-cased, trailing '/' and
  // '.git' removed, file:// and local paths unified.  `…/course`,
  // `…/course.git` and `…/course.git/` have the same key.
  std::string key;

  bool is_local() const { return kind == Kind::file || kind == Kind::local; }
};

// Throws SyncError (code auth for embedded credentials, clone otherwise).
RepoUrl parse_repo_url(std::string_view raw);

// The key of any URL-ish string, including origins written by other tools
// (which may hold credentials or use other transports); never throws.
std::string repo_key(std::string_view url);

bool same_repository(std::string_view a, std::string_view b);

// The folder name a clone of `url` gets by default: the last path segment
// without ".git" ("https://h/o/course.git/" -> "course").
std::string default_folder_name(std::string_view url);

// `url` with any "user:password@" (or "user@") removed: safe to print.
std::string strip_userinfo(std::string_view url);

}  // namespace gitpuller
