#include "git_util.hpp"

#include <fstream>

#include "gitpuller/credentials.hpp"

namespace gitpuller::detail {

std::string last_git_error(const std::vector<std::string>& secrets) {
  const git_error* e = git_error_last();
  std::string text = (e && e->message) ? e->message : "unknown libgit2 error";
  return scrub_secrets(std::move(text), secrets);
}

void check(int rc, ErrorCode code, std::string_view what) {
  if (rc >= 0) return;
  throw SyncError(code, std::string(what) + ": " + last_git_error());
}

std::string oid_hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

git_oid oid_from_hex(const std::string& hex) {
  git_oid oid;
  if (git_oid_fromstrn(&oid, hex.c_str(), hex.size()) < 0)
    throw SyncError(ErrorCode::unknown, "invalid object id '" + hex + "'");
  return oid;
}

GitCommit lookup_commit(git_repository* repo, const git_oid& oid, ErrorCode code) {
  git_commit* raw = nullptr;
  int rc = git_commit_lookup(&raw, repo, &oid);
  GitCommit commit(raw);
  check(rc, code, "cannot read commit " + oid_hex(oid));
  return commit;
}

GitSignature engine_signature() {
  git_signature* raw = nullptr;
  int rc = git_signature_now(&raw, "coursehub", "coursehub@localhost");
  GitSignature sig(raw);
  check(rc, ErrorCode::unknown, "cannot make a commit signature");
  return sig;
}

unsigned process_umask() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Umask:", 0) == 0) return static_cast<unsigned>(std::stoul(line.substr(6), nullptr, 8));
  return 022;
}

}  // namespace gitpuller::detail
