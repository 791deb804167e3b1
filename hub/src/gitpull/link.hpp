#pragma once
// The parameters of a git-pull link, read the way nbgitpuller reads them, and
// where the browser lands afterwards.
//
//   /hub/user-redirect/git-pull?repo=URL[&branch=B][&urlpath=P][&targetpath=T]
//                              [&subpath=S][&app=lab|classic][&depth=N][&backup=1]
//
// Spellings: urlpath|urlPath, targetpath|targetPath, subpath|subPath (the
// lower-case one wins when both are given, as in nbgitpuller).  Differences
// from nbgitpuller, on purpose:
//   * the default folder is the repository's last path segment WITHOUT a
//     trailing ".git" (nbgitpuller keeps "course.git" as the folder name);
//   * `backup` is a boolean: "", "0", "false", "no", "off" mean no (in
//     nbgitpuller any non-empty value, even "false", means yes);
//   * `depth` is checked (a non-negative integer) and then ignored: folders
//     are filled from the hub's mirror, where history costs nothing extra;
//   * `urlpath` must stay inside the user's server (see landing_path()).
// Pure functions, thread-safe.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace hub::gitpull {

struct LinkParams {
  std::string repo;                  // as given (trimmed)
  std::optional<std::string> branch; // none: upstream's default branch
  std::optional<std::string> urlpath;
  std::string targetpath;            // relative to the home; default from repo
  std::string subpath = ".";
  std::optional<std::string> app;    // as given; none: the configured default
  std::optional<int> depth;
  bool backup = false;
};

// A link that cannot be followed: the message is for the student.
struct LinkError {
  std::string message;
};

// Reads the parameters.  Returns LinkError (in `error`) when repo is missing
// or depth is not a number; the rest is validated when used.
struct ParsedLink {
  LinkParams params;
  std::optional<LinkError> error;
};
ParsedLink parse_link(const std::multimap<std::string, std::string>& query);

// The query string of the canonical git-pull URL for these parameters
// (lower-case spellings, only what was given), for redirects and the API.
std::string to_query(const LinkParams& params);

// True when the interface is JupyterLab: app "lab"/"jupyterlab" (any case),
// or, when no app was given, `default_app` == "jupyterlab".
bool wants_lab(const LinkParams& params, std::string_view default_app);

// Where to send the browser after the sync, as a path below the user's
// server prefix (no leading '/'), e.g. "lab/tree/course/intro.ipynb":
//   urlpath given   → urlpath, which must be relative to the server or an
//                     absolute path under `server_prefix` ("/user/ana/");
//                     refused (nullopt) when it names another host ("//x",
//                     "http://x"), has a backslash or control character,
//                     leaves the prefix (a ".." segment) or is absolute
//                     elsewhere;
//   otherwise       → lab/tree/<target>/<subpath> for JupyterLab, else
//                     notebooks/<target>/<subpath> when that ends in .ipynb,
//                     else tree/<target>/<subpath>; "." segments dropped;
//   backup=1        → the server's file browser root (lab/tree/ or tree/),
//                     since the old folder was moved aside (nbgitpuller does
//                     the same), unless urlpath is given.
std::optional<std::string> landing_path(const LinkParams& params, std::string_view default_app,
                                        std::string_view server_prefix);

// Rejects folder names that can never be valid before touching the disk:
// empty, absolute, "..", NUL, backslash.  The full check (symlinks) is
// gitpuller::resolve_in_home at sync time.  Returns the message or nullopt.
std::optional<std::string> check_targetpath(std::string_view targetpath);

}  // namespace hub::gitpull
