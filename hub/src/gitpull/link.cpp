#include "gitpull/link.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "gitpuller/url.hpp"
#include "http/message.hpp"

namespace hub::gitpull {
namespace {

std::optional<std::string> first_of(const std::multimap<std::string, std::string>& q,
                                    std::initializer_list<std::string_view> names) {
  // nbgitpuller: `get_argument(lower) or get_argument(camel)`: an empty
  // lower-case value falls through to the other spelling.
  for (auto name : names) {
    auto it = q.find(std::string(name));
    if (it != q.end() && !it->second.empty()) return it->second;
  }
  return std::nullopt;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool truthy(std::string_view v) {
  std::string s = trim(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return !(s.empty() || s == "0" || s == "false" || s == "no" || s == "off");
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

// Joins path pieces, dropping empty and "." segments, each segment
// percent-encoded for a URL path.
std::string join_segments(std::initializer_list<std::string_view> pieces) {
  std::string out;
  for (auto piece : pieces)
    for (const auto& seg : split(piece, '/')) {
      if (seg.empty() || seg == ".") continue;
      if (!out.empty()) out += '/';
      out += http::url_encode(seg);
    }
  return out;
}

// Encodes what may not appear raw in a URL (spaces, non-ASCII, quotes),
// keeping existing %XX escapes and URL punctuation.
std::string encode_loose(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || std::string_view("-._~/:@!$&'()*+,;=%?#").find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

ParsedLink parse_link(const std::multimap<std::string, std::string>& query) {
  ParsedLink out;
  LinkParams& p = out.params;
  if (auto r = first_of(query, {"repo"})) p.repo = trim(*r);
  if (p.repo.empty()) {
    out.error = LinkError{"This link names no repository: it needs a repo=... parameter."};
    return out;
  }
  p.branch = first_of(query, {"branch"});
  p.urlpath = first_of(query, {"urlpath", "urlPath"});
  if (auto s = first_of(query, {"subpath", "subPath"})) p.subpath = *s;
  p.app = first_of(query, {"app"});
  if (auto t = first_of(query, {"targetpath", "targetPath"}))
    p.targetpath = *t;
  else
    p.targetpath = gitpuller::default_folder_name(p.repo);
  if (auto d = first_of(query, {"depth"})) {
    int value = 0;
    std::string text = trim(*d);
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
      out.error = LinkError{"depth must be a whole number (the link says depth=" + *d + ")."};
      return out;
    }
    p.depth = value;
  }
  if (auto b = query.find("backup"); b != query.end()) p.backup = truthy(b->second);
  return out;
}

std::string to_query(const LinkParams& p) {
  std::string q = "repo=" + http::url_encode(p.repo);
  auto add = [&](std::string_view key, std::string_view value) {
    q += '&';
    q += key;
    q += '=';
    q += http::url_encode(value);
  };
  if (p.branch) add("branch", *p.branch);
  if (p.urlpath) add("urlpath", *p.urlpath);
  add("targetpath", p.targetpath);
  if (p.subpath != ".") add("subpath", p.subpath);
  if (p.app) add("app", *p.app);
  if (p.depth) add("depth", std::to_string(*p.depth));
  if (p.backup) add("backup", "1");
  return q;
}

bool wants_lab(const LinkParams& params, std::string_view default_app) {
  if (!params.app) return default_app == "jupyterlab";
  std::string a = trim(*params.app);
  std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return std::tolower(c); });
  return a == "lab" || a == "jupyterlab";
}

std::optional<std::string> landing_path(const LinkParams& params, std::string_view default_app,
                                        std::string_view server_prefix) {
  if (params.urlpath) {
    std::string u = trim(*params.urlpath);
    for (unsigned char c : u)
      if (c < 0x20 || c == 0x7f || c == '\\') return std::nullopt;
    std::string_view path = u;
    std::string suffix;
    if (auto q = path.find_first_of("?#"); q != std::string_view::npos) {
      suffix = std::string(path.substr(q));
      path = path.substr(0, q);
    }
    if (path.find("://") != std::string_view::npos || path.rfind("//", 0) == 0) return std::nullopt;
    if (!path.empty() && path.front() == '/') {
      std::string_view prefix = server_prefix;
      std::string_view bare = prefix;
      if (!bare.empty() && bare.back() == '/') bare.remove_suffix(1);
      if (path == bare) {
        path = "";
      } else if (path.rfind(prefix, 0) == 0) {
        path.remove_prefix(prefix.size());
      } else {
        return std::nullopt;
      }
    }
    for (const auto& seg : split(path, '/')) {
      std::string decoded = http::url_decode(seg, false);
      if (decoded == ".." || decoded.find('/') != std::string::npos || decoded.find('\\') != std::string::npos)
        return std::nullopt;
    }
    std::string rel(path);
    while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    return encode_loose(rel + suffix);
  }
  const bool lab = wants_lab(params, default_app);
  if (params.backup) return std::string(lab ? "lab/tree/" : "tree/");
  std::string inner = join_segments({params.targetpath, params.subpath});
  if (lab) return "lab/tree/" + inner;
  std::string lower = inner;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.size() >= 6 && lower.compare(lower.size() - 6, 6, ".ipynb") == 0) return "notebooks/" + inner;
  return "tree/" + inner;
}

std::optional<std::string> check_targetpath(std::string_view t) {
  if (t.empty()) return "The folder name (targetpath) is empty.";
  if (t.find('\0') != std::string_view::npos || t.find('\\') != std::string_view::npos)
    return "The folder name (targetpath) has characters that cannot be used.";
  if (t.front() == '/' || t.front() == '~') return "The folder (targetpath) must be a name inside your home, not an absolute path.";
  for (const auto& seg : split(t, '/'))
    if (seg == "..") return "The folder (targetpath) must stay inside your home: \"..\" is not allowed.";
  std::string inner = join_segments({t});
  if (inner.empty()) return "The folder (targetpath) must name a folder inside your home, not your home itself.";
  return std::nullopt;
}

}  // namespace hub::gitpull
