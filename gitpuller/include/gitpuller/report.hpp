#pragma once
// What a sync did, and the events it reports while running.
//
// These are plain values: copyable, no references into the engine.  Their JSON
// form (gitpuller/json.hpp) is exactly what `coursehub pull --json` prints,
// one event per line, and what the hub streams as Server-Sent Events.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gitpuller/error.hpp"

namespace gitpuller {

enum class SyncOutcome {
  cloned,           // the folder was created (or was empty) and now holds a fresh clone
  up_to_date,       // nothing new upstream; the student's files were left alone
  fast_forwarded,   // upstream's changes landed; the student had changed nothing
  merged,           // upstream's changes were merged with the student's own
  switched_branch,  // the folder now follows another branch (or tag)
  reset_with_backup // upstream's history was replaced; old folder kept as a backup
};

std::string_view to_string(SyncOutcome outcome);
std::optional<SyncOutcome> outcome_from_string(std::string_view text);

struct RenamedFile {
  std::string from;  // path relative to the folder, '/'-separated
  std::string to;
};

struct SyncReport {
  SyncOutcome outcome = SyncOutcome::up_to_date;
  std::string repo_url;        // the clean upstream URL (never with a credential)
  std::string target_dir;      // absolute path of the folder
  std::string branch;          // branch (or tag) now checked out
  std::string commit;          // full id of HEAD after the sync
  std::string upstream_commit; // full id of the upstream tip that was synced
  // Paths (relative, '/'-separated) whose content changed because of upstream.
  std::vector<std::string> files_updated;
  // Files the student had deleted that came back with upstream's content.
  std::vector<std::string> files_restored;
  // Untracked student files moved aside because upstream now has that path.
  std::vector<RenamedFile> files_renamed;
  // Files where the student's version was kept over upstream's.
  std::vector<std::string> files_kept_local;
  std::optional<std::string> backup_dir;  // set with reset_with_backup
  std::vector<std::string> warnings;      // lines worth showing prominently
  bool upstream_fetched = false;  // this sync downloaded from upstream (not only a refs check)
  double duration_seconds = 0;
};

// One line saying what happened, for people ("Merged upstream's changes into
// /home/ana/course (branch main, 3 files updated, 1 file kept your version)").
std::string summary(const SyncReport& report);

// The stage a progress event belongs to.
enum class Stage {
  check,     // asking upstream for its branches (cheap)
  fetch,     // downloading objects from upstream (into the mirror or the folder)
  copy,      // copying objects from the mirror into the folder
  checkout,  // writing files into the folder
  merge,     // combining the student's changes with upstream's
};

std::string_view to_string(Stage stage);
std::optional<Stage> stage_from_string(std::string_view text);

struct Progress {
  Stage stage = Stage::check;
  std::uint64_t objects_received = 0;
  std::uint64_t objects_total = 0;
  std::uint64_t bytes_received = 0;  // for copy: bytes copied so far
  std::uint64_t files_done = 0;      // checkout: files written so far
  std::uint64_t files_total = 0;
};

enum class Phase { syncing, finished, error };

std::string_view to_string(Phase phase);

struct ErrorInfo {
  ErrorCode code = ErrorCode::unknown;
  std::string message;
};

// One event of a sync.  `finished` events carry summary(report) as output.
// `syncing` events carry a readable `output` line and,
// for counted work, `progress`; `finished` carries the report; `error` the
// error.  Consumers show `output` lines in order; a syncing event with
// progress replaces the previous one of the same stage on a terminal-like view.
struct SyncEvent {
  Phase phase = Phase::syncing;
  std::string output;
  std::optional<Progress> progress;
  std::optional<SyncReport> report;
  std::optional<ErrorInfo> error;

  static SyncEvent line(std::string text);
  static SyncEvent progress_tick(std::string text, const Progress& progress);
  static SyncEvent finished(SyncReport report);
  static SyncEvent failed(ErrorCode code, std::string message);
  static SyncEvent failed(const SyncError& error) { return failed(error.code(), error.what()); }
};

// Called on the thread doing the work, in order.  It must not throw (an
// exception escaping it is caught and ignored) and should return quickly.
using EventCallback = std::function<void(const SyncEvent&)>;

}  // namespace gitpuller
