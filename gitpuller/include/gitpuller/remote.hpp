#pragma once
// Upstream's branches and tags, as a cheap refs listing (like `git ls-remote`).
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gitpuller/error.hpp"
#include "gitpuller/url.hpp"

namespace gitpuller {

class CredentialProvider;

// The heads and tags of a repository at one moment.
struct RefSnapshot {
  // "refs/heads/main" or "refs/tags/v1" -> id (hex) the ref points to.
  std::map<std::string, std::string> refs;
  // Annotated tags only: "refs/tags/v1" -> id of the commit it peels to.
  std::map<std::string, std::string> peeled;
  // The default branch ("refs/heads/main") when upstream names one.
  std::optional<std::string> head;

  std::vector<std::string> branches() const;  // short names, sorted
  std::vector<std::string> tags() const;      // short names, sorted

  struct Resolved {
    std::string ref;     // full name, "refs/heads/x" or "refs/tags/x"
    std::string commit;  // commit id (tags peeled)
    bool is_tag = false;
  };
  // A branch name, else a tag name; nullopt when neither exists.
  std::optional<Resolved> resolve(std::string_view name) const;
  // The default branch, nullopt when upstream names none (or it is missing).
  std::optional<Resolved> resolve_default() const;

  bool operator==(const RefSnapshot& other) const {
    return refs == other.refs && head == other.head;
  }
};

// Lists upstream's refs: one small request for smart HTTP, no objects
// downloaded.  Uses `credentials` (may be null) for URLs under a registered
// prefix.  Throws SyncError: auth when credentials are needed and missing or
// rejected; `failure_code` (clone or fetch) when upstream cannot be reached.
// Thread-safe.
RefSnapshot ls_remote(const RepoUrl& url, const CredentialProvider* credentials,
                      ErrorCode failure_code = ErrorCode::fetch);

}  // namespace gitpuller
