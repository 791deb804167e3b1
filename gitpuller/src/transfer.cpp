#include "transfer.hpp"

#include <cstdio>

#include "git_util.hpp"
#include "tls_certs.hpp"
#include "gitpuller/error.hpp"

namespace gitpuller::detail {

std::string human_bytes(std::uint64_t bytes) {
  char buf[32];
  if (bytes >= 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / (1024.0 * 1024.0));
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

std::string suggested_prefix(const RepoUrl& url) {
  std::string s = url.clean;
  if (s.size() > 4 && s.compare(s.size() - 4, 4, ".git") == 0) s.resize(s.size() - 4);
  return s + "/";
}

void ProgressThrottle::tick(const std::string& text, const Progress& progress, bool final) {
  if (!on_event_ || !*on_event_) return;
  auto now = std::chrono::steady_clock::now();
  if (!final && any_ && now - last_ < std::chrono::milliseconds(100)) return;
  if (any_ && text == last_text_) return;
  last_ = now;
  last_text_ = text;
  any_ = true;
  try {
    (*on_event_)(SyncEvent::progress_tick(text, progress));
  } catch (...) {
  }
}

void ProgressThrottle::line(const std::string& text) {
  if (!on_event_ || !*on_event_) return;
  try {
    (*on_event_)(SyncEvent::line(text));
  } catch (...) {
  }
}

TransferSession::TransferSession(const RepoUrl& url, const CredentialProvider* credentials,
                                 const EventCallback* on_event)
    : url_(url), credentials_(credentials), throttle_(on_event) {
  // http://: the CA bundle is loaded only if a connection goes elsewhere
  // (a redirect to https://, a proxy); see tls_certs.hpp.
  if (url.kind == RepoUrl::Kind::https) ensure_ca_certificates();
  if (url.kind == RepoUrl::Kind::http) plain_.emplace(url.clean);
}

git_remote_callbacks TransferSession::callbacks() {
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  cb.credentials = &TransferSession::on_credentials;
  cb.transfer_progress = &TransferSession::on_transfer;
  cb.sideband_progress = &TransferSession::on_sideband;
  cb.payload = this;
  return cb;
}

int TransferSession::on_credentials(git_credential** out, const char* url, const char* username_from_url,
                                    unsigned int allowed_types, void* payload) {
  auto* self = static_cast<TransferSession*>(payload);
  try {
    if (!(allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) {
      self->missing_ = true;
      return GIT_EAUTH;
    }
    if (self->attempts_++ > 0) {
      // The server turned down what we offered: do not loop.
      self->rejected_ = true;
      return GIT_EAUTH;
    }
    std::optional<Credential> cred;
    // Offer a credential only when both the repository URL and the URL the
    // server asked from lie under its prefix (a redirect elsewhere gets nothing).
    if (self->credentials_) {
      cred = self->credentials_->find(self->url_.clean);
      if (cred && url && !url_under_prefix(url, cred->prefix)) cred.reset();
    }
    if (!cred) {
      self->missing_ = true;
      return GIT_EAUTH;
    }
    self->secrets_.push_back(cred->secret);
    self->prefix_used_ = cred->prefix;
    return git_credential_userpass_plaintext_new(out, cred->username.c_str(), cred->secret.c_str());
  } catch (...) {
    self->exception_ = std::current_exception();
    return GIT_EUSER;
  }
}

int TransferSession::on_transfer(const git_indexer_progress* stats, void* payload) {
  auto* self = static_cast<TransferSession*>(payload);
  try {
    if (stats->received_objects > 0) self->received_objects_ = true;
    Progress p;
    p.stage = Stage::fetch;
    p.objects_received = stats->received_objects;
    p.objects_total = stats->total_objects;
    p.bytes_received = stats->received_bytes;
    bool done = stats->total_objects > 0 && stats->received_objects == stats->total_objects &&
                stats->indexed_deltas == stats->total_deltas;
    unsigned pct = stats->total_objects ? static_cast<unsigned>(100.0 * stats->received_objects / stats->total_objects) : 0;
    char buf[160];
    std::snprintf(buf, sizeof buf, "Receiving objects: %3u%% (%u/%u), %s", pct, stats->received_objects,
                  stats->total_objects, human_bytes(stats->received_bytes).c_str());
    self->throttle_.tick(buf, p, done);
    return 0;
  } catch (...) {
    self->exception_ = std::current_exception();
    return GIT_EUSER;
  }
}

int TransferSession::on_sideband(const char* str, int len, void* payload) {
  auto* self = static_cast<TransferSession*>(payload);
  try {
    self->sideband_.append(str, static_cast<std::size_t>(len));
    // Show only finished lines; '\r' updates are redrawn counters.
    for (;;) {
      auto nl = self->sideband_.find('\n');
      if (nl == std::string::npos) break;
      std::string line = self->sideband_.substr(0, nl);
      self->sideband_.erase(0, nl + 1);
      auto cr = line.find_last_of('\r');
      if (cr != std::string::npos) line = line.substr(cr + 1);
      if (!line.empty()) self->throttle_.line("remote: " + scrub_secrets(line, self->secrets_));
    }
    return 0;
  } catch (...) {
    self->exception_ = std::current_exception();
    return GIT_EUSER;
  }
}

void TransferSession::finish(int rc, ErrorCode failure_code) {
  if (exception_) std::rethrow_exception(exception_);
  if (rc >= 0) {
    if (prefix_used_ && credentials_) credentials_->record_use(*prefix_used_, "");
    return;
  }
  std::string detail = last_git_error(secrets_);
  std::string where = strip_userinfo(url_.clean);
  if (rejected_ && prefix_used_) {
    std::string msg = "The server rejected the stored credential for " + *prefix_used_ +
                      " (it may have expired or been revoked). An admin must replace it with "
                      "`coursehub cred add " + *prefix_used_ + " --username USER --token-stdin`.";
    // libgit2 sets no error of its own when the credential callback gives
    // up, so `detail` would be whatever failed last (often an unrelated
    // config lookup): record what is known instead.
    if (credentials_)
      credentials_->record_use(*prefix_used_, "rejected by the server: it asked for a login again (HTTP 401) "
                                              "after the stored username and token were sent");
    throw SyncError(ErrorCode::auth, msg);
  }
  if (missing_ || rc == GIT_EAUTH || detail.find("401") != std::string::npos ||
      detail.find("authentication required") != std::string::npos) {
    std::string prefix = suggested_prefix(url_);
    throw SyncError(ErrorCode::auth,
                    "The repository " + where + " needs a login and no stored credential covers it. An admin "
                    "can add one with `coursehub cred add " + prefix + " --username USER --token-stdin` "
                    "(or for a shorter prefix of that URL).");
  }
  if (rc == GIT_ECERTIFICATE)
    throw SyncError(failure_code, "The server's certificate for " + where + " is not trusted: " + detail);
  if (detail.find("404") != std::string::npos || detail.find("not found") != std::string::npos ||
      detail.find("does not appear to be a git repository") != std::string::npos ||
      detail.find("could not find repository") != std::string::npos)
    throw SyncError(failure_code, "The repository " + where + " was not found. Check the link (" + detail + ").");
  throw SyncError(failure_code, "Could not download from " + where + ": " + detail);
}

}  // namespace gitpuller::detail
