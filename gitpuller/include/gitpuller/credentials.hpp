#pragma once
// Stored git credentials for private repositories.
//
// A credential is registered for a URL prefix ("https://git.example.edu/course-staff/")
// and is offered only for repository URLs under that prefix (same scheme and
// host, path prefix ending at a '/' boundary; the longest matching prefix
// wins).  Secrets are stored encrypted with AES-256-GCM in
// `<state>/credentials.json` (mode 0600), under a random key in
// `<state>/credentials.key` (mode 0600, created on first use).  The secret
// never leaves this module except to libgit2's credential callback: listings
// show its last 4 characters only.
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gitpuller {

struct Credential {
  std::string prefix;    // the registered prefix that matched
  std::string username;
  std::string secret;    // a token or password; never log or print
};

// Where the engine gets credentials from.  Implementations must be
// thread-safe: the engine calls them from whatever thread runs a sync.
class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  // The credential for `url` (a repository URL or a URL the server redirected
  // to), or nullopt when no registered prefix covers it.
  virtual std::optional<Credential> find(std::string_view url) const = 0;
  // Told after each use: `error` empty on success, else a scrubbed message.
  // Default: ignored.
  virtual void record_use(const std::string& prefix, const std::string& error) const {}
};

// What an admin may see about a stored credential.
struct CredentialInfo {
  std::string prefix;
  std::string username;
  std::string last4;                  // last 4 characters of the secret
  std::optional<std::string> expires; // "YYYY-MM-DD", informational
  std::string created;                // ISO 8601 UTC
  std::optional<std::string> last_used;   // ISO 8601 UTC, last successful use
  std::optional<std::string> last_error;  // scrubbed message of the last failed use
  std::optional<std::string> last_error_at;
  bool expired = false;               // `expires` is before today (local time)
};

class CredentialError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The file-backed store.  Thread-safe (a mutex) and safe between processes
// (a lock file next to the store; writes replace the file atomically).
// Throws CredentialError for bad input (a prefix that is not an http(s) URL,
// an empty user or secret, a malformed date) and when the store cannot be
// read or decrypted (e.g. the key file was replaced).
class CredentialStore : public CredentialProvider {
 public:
  // `state_dir` is created (mode 0700) when missing; its mode is otherwise
  // left alone.  Nothing is read until first use.
  explicit CredentialStore(std::filesystem::path state_dir);

  // Adds, or replaces the credential registered for the same prefix
  // (rotation keeps nothing of the old one).
  void add(std::string_view prefix, std::string_view username, std::string_view secret,
           std::optional<std::string> expires = std::nullopt);
  // Changes the user name and/or the expiry date (nullopt inside: none) of
  // the credential registered for `prefix`, keeping its secret, creation
  // time and use records.  false when no credential has this prefix.
  // Throws CredentialError for a bad user name or date.
  bool update(std::string_view prefix, std::optional<std::string> username,
              std::optional<std::optional<std::string>> expires);
  // true when a credential with this prefix existed.
  bool remove(std::string_view prefix);
  std::vector<CredentialInfo> list() const;
  // The info of the credential that would be offered for `url`.
  std::optional<CredentialInfo> info_for(std::string_view url) const;

  std::optional<Credential> find(std::string_view url) const override;
  void record_use(const std::string& prefix, const std::string& error) const override;

  // The canonical form a prefix is stored under (scheme and host lower-case,
  // exactly one trailing '/').  Throws CredentialError when not acceptable.
  static std::string normalize_prefix(std::string_view prefix);

 private:
  std::filesystem::path dir_;
  mutable std::mutex mutex_;
};

// Whether `url` lies under `prefix` (both normalised as above).
bool url_under_prefix(std::string_view url, std::string_view prefix);

// `text` with every occurrence of each secret, and any "user:password@" in
// URLs, replaced by "***".  Used on every libgit2 message that leaves the engine.
std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets);

}  // namespace gitpuller
