#include "gitpuller/report.hpp"

#include <array>
#include <utility>

namespace gitpuller {
namespace {

constexpr std::array<std::pair<SyncOutcome, std::string_view>, 6> kOutcomes = {{
    {SyncOutcome::cloned, "cloned"},
    {SyncOutcome::up_to_date, "up_to_date"},
    {SyncOutcome::fast_forwarded, "fast_forwarded"},
    {SyncOutcome::merged, "merged"},
    {SyncOutcome::switched_branch, "switched_branch"},
    {SyncOutcome::reset_with_backup, "reset_with_backup"},
}};

constexpr std::array<std::pair<Stage, std::string_view>, 5> kStages = {{
    {Stage::check, "check"},
    {Stage::fetch, "fetch"},
    {Stage::copy, "copy"},
    {Stage::checkout, "checkout"},
    {Stage::merge, "merge"},
}};

}  // namespace

std::string_view to_string(SyncOutcome outcome) {
  for (const auto& [o, name] : kOutcomes)
    if (o == outcome) return name;
  return "up_to_date";
}

std::optional<SyncOutcome> outcome_from_string(std::string_view text) {
  for (const auto& [o, name] : kOutcomes)
    if (name == text) return o;
  return std::nullopt;
}

std::string_view to_string(Stage stage) {
  for (const auto& [s, name] : kStages)
    if (s == stage) return name;
  return "check";
}

std::optional<Stage> stage_from_string(std::string_view text) {
  for (const auto& [s, name] : kStages)
    if (name == text) return s;
  return std::nullopt;
}

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::syncing: return "syncing";
    case Phase::finished: return "finished";
    case Phase::error: return "error";
  }
  return "syncing";
}

SyncEvent SyncEvent::line(std::string text) {
  SyncEvent e;
  e.output = std::move(text);
  return e;
}

SyncEvent SyncEvent::progress_tick(std::string text, const Progress& progress) {
  SyncEvent e;
  e.output = std::move(text);
  e.progress = progress;
  return e;
}

std::string summary(const SyncReport& r) {
  std::string s;
  switch (r.outcome) {
    case SyncOutcome::cloned: s = "Cloned " + r.repo_url + " into " + r.target_dir; break;
    case SyncOutcome::up_to_date: s = "Already up to date: " + r.target_dir; break;
    case SyncOutcome::fast_forwarded: s = "Updated " + r.target_dir + " to upstream's latest"; break;
    case SyncOutcome::merged: s = "Merged upstream's changes into " + r.target_dir; break;
    case SyncOutcome::switched_branch: s = "Switched " + r.target_dir + " to " + r.branch; break;
    case SyncOutcome::reset_with_backup:
      s = "Made a fresh copy in " + r.target_dir + " (previous folder kept as " + r.backup_dir.value_or("?") + ")";
      break;
  }
  s += " (branch " + r.branch + ", commit " + r.commit.substr(0, 10);
  auto count = [&](std::size_t n, const char* what) {
    if (n) s += ", " + std::to_string(n) + (n == 1 ? " file " : " files ") + what;
  };
  count(r.files_updated.size(), "updated");
  count(r.files_restored.size(), "restored");
  count(r.files_renamed.size(), "moved aside");
  count(r.files_kept_local.size(), "kept as you had them");
  return s + ")";
}

SyncEvent SyncEvent::finished(SyncReport report) {
  SyncEvent e;
  e.phase = Phase::finished;
  e.output = summary(report);
  e.report = std::move(report);
  return e;
}

SyncEvent SyncEvent::failed(ErrorCode code, std::string message) {
  SyncEvent e;
  e.phase = Phase::error;
  e.output = message;
  e.error = ErrorInfo{code, std::move(message)};
  return e;
}

}  // namespace gitpuller
