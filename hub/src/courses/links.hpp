#pragma once
// git-pull links, as the link generator page, its API and `coursehub link`
// make them.  The link format is nbgitpuller's, so the same link works on
// this hub and, in its nbgitpuller form, on any JupyterHub with nbgitpuller:
//
//   <hub>/hub/user-redirect/git-pull?repo=URL[&branch=B][&urlpath=P][&targetpath=T]
//
// `urlpath` is where the browser lands after the sync: `lab/tree/<folder>[/<file>]`
// for JupyterLab, `notebooks/<folder>/<file>.ipynb` or `tree/<folder>[/<file>]`
// for the classic UI, with every path segment percent-encoded (it is a URL
// path).  <folder> is `targetpath` when given, else the repository's
// folder name (last URL segment without ".git").
//
// Pure functions, thread-safe.  Bad input throws CourseError 400 naming the
// field.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace hub::courses {

enum class Interface { lab, classic };

// "lab"/"jupyterlab" -> lab, "classic"/"notebook"/"tree" -> classic; nullopt otherwise.
std::optional<Interface> parse_interface(std::string_view name);
std::string_view to_string(Interface app);

struct LinkSpec {
  std::string repo;    // upstream URL (validated with gitpuller::parse_repo_url)
  std::string branch;  // "" = no branch in the link (the hub uses upstream's default)
  std::string file;    // path inside the repository; "" = open the folder
  Interface app = Interface::lab;
  std::string target;  // folder in the student's home; "" = the repository's folder name
};

// `spec` with every field checked and trimmed; CourseError 400 otherwise.
// A target must be a relative path without "." or ".." components.
LinkSpec checked_spec(LinkSpec spec);

// The folder the sync writes into, relative to the student's home.
std::string folder_of(const LinkSpec& spec);
// What `urlpath` says (already percent-encoded segment by segment).
std::string urlpath_of(const LinkSpec& spec);
// The spec as the API and `coursehub link --json` show it: repo, branch,
// file, app, target, folder, urlpath.
nlohmann::json spec_json(const LinkSpec& spec);

// A hub's root URL as links start with: "https://hub.example.edu/" or
// "https://example.edu/jupyter/" (scheme, host, optional path, exactly one
// trailing '/').  CourseError 400 unless it is an http(s) URL with a host
// and nothing after the path.
std::string normalize_hub_url(std::string_view url);

// The link for this hub: `hub_root` (normalised) + "hub/user-redirect/git-pull?" + query.
// `targetpath` is included only when the target differs from the default
// folder.  `hub_root` may also be a path ("/base/") for a relative link.
std::string coursehub_link(std::string_view hub_root, const LinkSpec& spec);
// The same for another hub that runs nbgitpuller: nbgitpuller names the
// default folder after the last URL segment *with* ".git", so `targetpath`
// is included whenever that would differ from the folder `urlpath` names.
std::string nbgitpuller_link(std::string_view other_hub_url, const LinkSpec& spec);

}  // namespace hub::courses
