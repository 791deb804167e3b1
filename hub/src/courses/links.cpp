#include "courses/links.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "courses/course_store.hpp"
#include "gitpuller/error.hpp"
#include "gitpuller/url.hpp"
#include "http/message.hpp"

namespace hub::courses {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// nbgitpuller's folder for a repository: the last '/' segment as written.
std::string nbgitpuller_default_folder(std::string_view clean_url) {
  auto slash = clean_url.find_last_of('/');
  return std::string(slash == std::string_view::npos ? clean_url : clean_url.substr(slash + 1));
}

std::string query_of(const LinkSpec& spec, bool with_target) {
  std::string q = "repo=" + http::url_encode(spec.repo);
  if (!spec.branch.empty()) q += "&branch=" + http::url_encode(spec.branch);
  q += "&urlpath=" + http::url_encode(urlpath_of(spec));
  if (with_target) q += "&targetpath=" + http::url_encode(folder_of(spec));
  return q;
}

}  // namespace

std::optional<Interface> parse_interface(std::string_view name) {
  std::string n = lower(name);
  if (n == "lab" || n == "jupyterlab") return Interface::lab;
  if (n == "classic" || n == "notebook" || n == "tree") return Interface::classic;
  return std::nullopt;
}

std::string_view to_string(Interface app) { return app == Interface::lab ? "lab" : "classic"; }

LinkSpec checked_spec(LinkSpec spec) {
  try {
    spec.repo = gitpuller::parse_repo_url(spec.repo).clean;
  } catch (const gitpuller::SyncError& e) {
    throw CourseError(400, std::string("repo: ") + e.what());
  }
  spec.branch = check_branch(spec.branch);
  spec.file = check_repo_path(spec.file, "file");
  spec.target = check_repo_path(spec.target, "target");
  return spec;
}

std::string folder_of(const LinkSpec& spec) {
  return spec.target.empty() ? gitpuller::default_folder_name(spec.repo) : spec.target;
}

std::string urlpath_of(const LinkSpec& spec) {
  std::string path = folder_of(spec);
  if (!spec.file.empty()) path += "/" + spec.file;
  std::string encoded = http::url_encode_path(path);
  if (spec.app == Interface::lab) return "lab/tree/" + encoded;
  if (ends_with(lower(spec.file), ".ipynb")) return "notebooks/" + encoded;
  return "tree/" + encoded;
}

std::string normalize_hub_url(std::string_view raw) {
  std::string_view url = raw;
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.front()))) url.remove_prefix(1);
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) url.remove_suffix(1);
  auto bad = [] { return CourseError(400, "hub: give the other hub's address, like https://hub.example.edu/"); };
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) throw bad();
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") throw bad();
  std::string_view rest = url.substr(scheme_end + 3);
  auto slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (host.empty() || host.find('@') != std::string_view::npos) throw bad();
  for (unsigned char c : host)
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_')) throw bad();
  for (unsigned char c : path)
    if (c <= 0x20 || c == 0x7f || c == '?' || c == '#' || c == '"' || c == '<' || c == '>' || c == '\\') throw bad();
  // A link to the hub's own pages ("…/hub/home") means the hub itself.
  std::string p(path);
  if (auto at = p.find("/hub/"); at != std::string::npos) p.resize(at + 1);
  else if (ends_with(p, "/hub")) p.resize(p.size() - 3);
  if (p.empty() || p.back() != '/') p += '/';
  return scheme + "://" + lower(host) + p;
}

std::string coursehub_link(std::string_view hub_root, const LinkSpec& spec) {
  std::string root(hub_root);
  if (root.empty() || root.back() != '/') root += '/';
  bool custom_target = !spec.target.empty() && spec.target != gitpuller::default_folder_name(spec.repo);
  return root + "hub/user-redirect/git-pull?" + query_of(spec, custom_target);
}

std::string nbgitpuller_link(std::string_view other_hub_url, const LinkSpec& spec) {
  std::string root = normalize_hub_url(other_hub_url);
  bool needs_target = folder_of(spec) != nbgitpuller_default_folder(spec.repo);
  return root + "hub/user-redirect/git-pull?" + query_of(spec, needs_target);
}

nlohmann::json spec_json(const LinkSpec& spec) {
  return {{"repo", spec.repo},     {"branch", spec.branch},       {"file", spec.file},
          {"app", to_string(spec.app)}, {"target", spec.target}, {"folder", folder_of(spec)},
          {"urlpath", urlpath_of(spec)}};
}

}  // namespace hub::courses
