// coursehub pull REPO_URL DIR [--branch B] [--json] [--prefix P] [--from-mirror MIRROR]
#include <git2.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "gitpuller/credentials.hpp"
#include "gitpuller/json.hpp"
#include "gitpuller/mirror_cache.hpp"
#include "gitpuller/sync.hpp"

namespace hub::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPullUsage =
    "pull REPO_URL DIR [--branch BRANCH] [--json] [--backup] [--prefix P] [--from-mirror MIRROR] [--lock-wait SECONDS]";

void print_human_report(const gitpuller::SyncReport& r) {
  using gitpuller::SyncOutcome;
  std::string commit = r.commit.substr(0, 10);
  switch (r.outcome) {
    case SyncOutcome::cloned: std::cout << "Cloned " << r.repo_url << " into " << r.target_dir; break;
    case SyncOutcome::up_to_date: std::cout << "Already up to date: " << r.target_dir; break;
    case SyncOutcome::fast_forwarded: std::cout << "Updated " << r.target_dir << " to upstream's latest"; break;
    case SyncOutcome::merged: std::cout << "Merged upstream's changes into " << r.target_dir; break;
    case SyncOutcome::switched_branch: std::cout << "Switched " << r.target_dir << " to " << r.branch; break;
    case SyncOutcome::reset_with_backup: std::cout << "Made a fresh copy in " << r.target_dir; break;
  }
  std::cout << " (branch " << r.branch << ", commit " << commit << ")\n";
  auto list = [](const char* title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    std::cout << title << " (" << items.size() << "):\n";
    for (const auto& i : items) std::cout << "  " << i << "\n";
  };
  list("Files updated from upstream", r.files_updated);
  list("Deleted files restored", r.files_restored);
  if (!r.files_renamed.empty()) {
    std::cout << "Your files moved aside (" << r.files_renamed.size() << "):\n";
    for (const auto& f : r.files_renamed) std::cout << "  " << f.from << " -> " << f.to << "\n";
  }
  list("Files where your version was kept over upstream's", r.files_kept_local);
  if (r.backup_dir) std::cout << "Backup of your previous folder: " << *r.backup_dir << "\n";
  for (const auto& w : r.warnings) std::cout << "warning: " << w << "\n";
}

}  // namespace

int cmd_pull(const Argv& args) {
  Args parsed(args, {"branch", "from-mirror", "lock-wait"}, {"json", "backup"});
  if (parsed.positional().size() != 2) throw UsageError(kPullUsage);
  const std::string repo = parsed.positional()[0];
  const std::string dir = parsed.positional()[1];
  const bool json = parsed.flag("json");
  gitpuller::configure_libgit2();

  gitpuller::SyncRequest request{repo, dir, parsed.value("branch")};
  request.backup_first = parsed.flag("backup");
  gitpuller::SyncOptions options;
  if (auto wait = parsed.value("lock-wait")) {
    try {
      options.index_lock_wait = std::chrono::milliseconds(static_cast<long long>(std::stod(*wait) * 1000));
    } catch (const std::exception&) {
      throw UsageError("--lock-wait takes a number of seconds");
    }
  }

  const bool tty = !json && ::isatty(STDOUT_FILENO);
  bool mid_line = false;
  options.on_event = [&](const gitpuller::SyncEvent& e) {
    if (json) {
      std::cout << gitpuller::event_to_line(e) << "\n" << std::flush;
      return;
    }
    if (e.progress) {
      const auto& p = *e.progress;
      bool final = (p.files_total && p.files_done == p.files_total) ||
                   (p.objects_total && p.objects_received == p.objects_total) ||
                   (!p.files_total && !p.objects_total);
      if (tty) {
        std::cout << "\r\033[K" << e.output << (final ? "\n" : "") << std::flush;
        mid_line = !final;
      } else if (final) {
        std::cout << e.output << "\n" << std::flush;
      }
      return;
    }
    if (mid_line) std::cout << "\n";
    mid_line = false;
    std::cout << e.output << "\n" << std::flush;
  };

  std::optional<gitpuller::CredentialStore> store;
  std::optional<gitpuller::MirrorCache> mirror;
  if (auto from = parsed.value("from-mirror")) {
    // Worker mode: runs as the student, reads a mirror owned by the hub.
    git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
    options.from_mirror = fs::path(*from);
  } else if (auto prefix = parsed.explicit_prefix()) {
    fs::path state = fs::path(*prefix) / "state";
    std::error_code ec;
    if (!fs::exists(state, ec)) {
      fs::create_directories(fs::path(*prefix), ec);
      fs::create_directory(state, ec);
      fs::permissions(state, fs::perms::owner_all, ec);
    }
    store.emplace(state);
    mirror.emplace(state / "mirrors", &*store);
    options.mirror = &*mirror;
  }

  try {
    gitpuller::SyncReport report = gitpuller::sync(request, options);
    if (json) {
      std::cout << gitpuller::event_to_line(gitpuller::SyncEvent::finished(report)) << "\n" << std::flush;
    } else {
      if (mid_line) std::cout << "\n";
      print_human_report(report);
    }
    return 0;
  } catch (const gitpuller::SyncError& e) {
    if (json) std::cout << gitpuller::event_to_line(gitpuller::SyncEvent::failed(e)) << "\n" << std::flush;
    if (mid_line) std::cout << "\n" << std::flush;
    // One line, so the last line of stderr is always the whole error.
    std::string message = e.what();
    for (char& c : message)
      if (c == '\n' || c == '\r') c = ' ';
    std::cerr << "error: " << gitpuller::to_string(e.code()) << ": " << message << "\n";
    return 1;
  }
}

}  // namespace hub::cli
