#include "gitpuller/remote.hpp"

#include "git_util.hpp"
#include "transfer.hpp"

namespace gitpuller {
namespace {

constexpr std::string_view kHeads = "refs/heads/";
constexpr std::string_view kTags = "refs/tags/";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::vector<std::string> short_names(const std::map<std::string, std::string>& refs, std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto& [name, id] : refs)
    if (starts_with(name, prefix)) out.push_back(name.substr(prefix.size()));
  return out;
}

}  // namespace

std::vector<std::string> RefSnapshot::branches() const { return short_names(refs, kHeads); }
std::vector<std::string> RefSnapshot::tags() const { return short_names(refs, kTags); }

std::optional<RefSnapshot::Resolved> RefSnapshot::resolve(std::string_view name) const {
  std::string n(name);
  if (starts_with(n, kHeads)) n = n.substr(kHeads.size());
  if (auto it = refs.find(std::string(kHeads) + n); it != refs.end()) return Resolved{it->first, it->second, false};
  if (auto it = refs.find(std::string(kTags) + n); it != refs.end()) {
    auto peel = peeled.find(it->first);
    return Resolved{it->first, peel != peeled.end() ? peel->second : it->second, true};
  }
  return std::nullopt;
}

std::optional<RefSnapshot::Resolved> RefSnapshot::resolve_default() const {
  if (!head) return std::nullopt;
  if (auto it = refs.find(*head); it != refs.end() && starts_with(*head, kHeads)) return Resolved{it->first, it->second, false};
  return std::nullopt;
}

RefSnapshot ls_remote(const RepoUrl& url, const CredentialProvider* credentials, ErrorCode failure_code) {
  using namespace detail;
  git_remote* raw = nullptr;
  int rc = git_remote_create_detached(&raw, url.clean.c_str());
  GitRemote remote(raw);
  check(rc, failure_code, "cannot use the repository URL " + url.clean);

  EventCallback none;
  TransferSession session(url, credentials, &none);
  git_remote_callbacks cb = session.callbacks();
  rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &cb, nullptr, nullptr);
  session.finish(rc, failure_code);

  RefSnapshot snap = detail::list_connected(remote.get());
  git_remote_disconnect(remote.get());
  return snap;
}

namespace detail {

RefSnapshot list_connected(git_remote* remote) {
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  check(git_remote_ls(&heads, &count, remote), ErrorCode::fetch, "cannot list upstream's branches");

  RefSnapshot snap;
  for (size_t i = 0; i < count; ++i) {
    std::string name = heads[i]->name;
    if (name == "HEAD") {
      if (heads[i]->symref_target && starts_with(heads[i]->symref_target, kHeads)) snap.head = heads[i]->symref_target;
      continue;
    }
    if (!starts_with(name, kHeads) && !starts_with(name, kTags)) continue;
    if (name.size() > 3 && name.compare(name.size() - 3, 3, "^{}") == 0) {
      snap.peeled[name.substr(0, name.size() - 3)] = oid_hex(heads[i]->oid);
    } else {
      snap.refs[name] = oid_hex(heads[i]->oid);
    }
  }
  if (!snap.head) {
    GitBuf buf;
    if (git_remote_default_branch(&buf.buf, remote) == 0) snap.head = buf.str();
  }
  return snap;
}

}  // namespace detail
}  // namespace gitpuller
