#pragma once
// Private: libgit2 remote callbacks (credentials, progress) and the mapping
// of network failures to SyncError codes.
#include <git2.h>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "gitpuller/credentials.hpp"
#include "gitpuller/remote.hpp"
#include "gitpuller/report.hpp"
#include "gitpuller/url.hpp"
#include "tls_certs.hpp"

namespace gitpuller::detail {

// Emits progress events no more often than every 100 ms (plus the last one).
class ProgressThrottle {
 public:
  explicit ProgressThrottle(const EventCallback* on_event) : on_event_(on_event) {}
  void tick(const std::string& text, const Progress& progress, bool final = false);
  void line(const std::string& text);

 private:
  const EventCallback* on_event_;
  std::chrono::steady_clock::time_point last_{};
  bool any_ = false;
  std::string last_text_;
};

// Payload of the callbacks of one remote operation.  Lives on the stack of
// the calling thread for the duration of the libgit2 call.
class TransferSession {
 public:
  TransferSession(const RepoUrl& url, const CredentialProvider* credentials, const EventCallback* on_event);

  git_remote_callbacks callbacks();
  // After a libgit2 network call: rethrows a stashed exception, or maps a
  // failure (rc < 0) to SyncError: auth when credentials were missing or
  // rejected, else `failure_code` with a readable message.  On success,
  // records the credential's use.
  void finish(int rc, ErrorCode failure_code);

  bool received_objects() const { return received_objects_; }
  const std::vector<std::string>& secrets() const { return secrets_; }

 private:
  static int on_credentials(git_credential** out, const char* url, const char* username_from_url,
                            unsigned int allowed_types, void* payload);
  static int on_transfer(const git_indexer_progress* stats, void* payload);
  static int on_sideband(const char* str, int len, void* payload);

  const RepoUrl& url_;
  std::optional<PlainHttpScope> plain_;  // for http:// URLs
  const CredentialProvider* credentials_;
  ProgressThrottle throttle_;
  std::exception_ptr exception_;
  std::vector<std::string> secrets_;
  std::optional<std::string> prefix_used_;
  std::string sideband_;
  int attempts_ = 0;
  bool missing_ = false;
  bool rejected_ = false;
  bool received_objects_ = false;
};

// The heads, tags and default branch a connected remote advertised.
RefSnapshot list_connected(git_remote* remote);

// "12.3 MiB"
std::string human_bytes(std::uint64_t bytes);

// The prefix an admin should register for `url` (its URL minus ".git", plus '/').
std::string suggested_prefix(const RepoUrl& url);

}  // namespace gitpuller::detail
