#pragma once
// The sync engine: bring a teacher's repository into a student's folder and
// keep it in sync without ever losing the student's work (DESIGN.md, "Sync
// policy").
//
//   gitpuller::SyncOptions opts;
//   opts.mirror = &cache;                       // or from_mirror, or neither
//   opts.on_event = [&](const gitpuller::SyncEvent& e) { stream(e); };
//   gitpuller::SyncReport r = gitpuller::sync({url, "/home/ana/course", "main"}, opts);
//
// Where objects come from, in order of preference:
//   from_mirror   worker mode: an already refreshed bare mirror, read-only; no
//                 upstream contact and no credentials at all;
//   mirror        refresh the MirrorCache (one upstream download per burst),
//                 then fill the folder from it;
//   neither       talk to upstream directly (credentials from `credentials`).
// In every mode the folder ends up self-contained (its own copy of every
// object, no alternates) with `origin` set to the clean upstream URL.
//
// Thread-safety: sync() may run on many threads at once.  Two syncs of the
// same folder (threads or processes) exclude each other through a lock file
// in the folder's .git: the second waits for the first, then syncs what is
// there (usually: up to date).  Blocking: runs git work on the calling
// thread; never call it on an I/O thread.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "gitpuller/report.hpp"

namespace gitpuller {

class CredentialProvider;
class MirrorCache;

struct SyncRequest {
  std::string repo_url;               // https://, http://, file:// or a local path
  std::filesystem::path target_dir;   // created when missing (with its parents)
  std::optional<std::string> branch;  // branch or tag; default: upstream's default branch
  // nbgitpuller's `backup=true`: an existing clone of this repository is moved
  // to DIR_backup_<YYYYmmddHHMMSS> and a fresh clone takes its place
  // (outcome reset_with_backup).  Folders that are not such a clone are
  // still refused, never moved.
  bool backup_first = false;
};

struct SyncOptions {
  std::optional<std::filesystem::path> from_mirror;  // worker mode (see above)
  MirrorCache* mirror = nullptr;                       // must outlive the call
  const CredentialProvider* credentials = nullptr;     // direct mode only
  // An `.git/index.lock` younger than 10 minutes means another git program is
  // at work: wait this long for it to go, then fail with `lock`.
  std::chrono::milliseconds index_lock_wait{std::chrono::seconds(10)};
  // How long to wait for another sync of the same folder.
  std::chrono::milliseconds folder_lock_wait{std::chrono::minutes(10)};
  EventCallback on_event;  // syncing events only; see report/SyncError
};

// Runs one sync.  Returns the report; throws SyncError with a code and a
// message for the student.  On failure the folder is left as it was (a
// failed first clone leaves no folder behind).
SyncReport sync(const SyncRequest& request, const SyncOptions& options);

// What is at a folder path, for callers that want to decide before syncing.
enum class FolderState {
  missing,      // nothing there
  empty,        // an empty folder
  same_repo,    // a clone of the given repository
  other_repo,   // a clone of another repository (or one without origin)
  not_a_repo,   // a non-empty folder that is not a git clone
  not_a_folder, // a file or something else
};
FolderState inspect_folder(const std::filesystem::path& dir, std::string_view repo_url);

// What a synced folder holds now (for a student's list of synced folders).
struct FolderInfo {
  std::string origin;  // clean origin URL
  std::string branch;  // checked-out branch, empty when detached
  std::string commit;  // HEAD id, empty when unborn
};
// nullopt when `dir` is not a git clone.  Never searches parent folders.
std::optional<FolderInfo> read_folder(const std::filesystem::path& dir);

// Process-wide libgit2 settings the engine relies on; call once at start-up
// after git_libgit2_init() (coursehub's main does).  Idempotent.  Among
// them: plain TCP for http:// and https:// goes through a stream with
// TCP_NODELAY (libgit2's own waits ~40 ms on each POST), a 30 s connect
// timeout and a 2 min limit on silence from the server (fetch/clone error);
// $SSL_CERT_FILE (else $SSL_CERT_DIR), when set, replaces the CA
// certificates trusted for https:// (a private CA).  Certificates are
// parsed on the first network connection, not at start-up (a worker syncing
// from a mirror never pays for them).  Git config files outside a
// repository (system, XDG, ~/.gitconfig) are not read.
void configure_libgit2();

}  // namespace gitpuller
