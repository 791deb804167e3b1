// A long-lived process that runs the sync engine in-process, the way the hub
// does in local mode (one MirrorCache and CredentialStore for the process,
// gitpuller::sync called per request), for bench/sync/run.py.
//
//   sync_server PREFIX        then, on stdin, one request per line:
//   URL<TAB>DIR               -> one line on stdout: "ok OUTCOME" or "error CODE"
//
// The benchmark times each request from the outside (write the line, read
// the answer), as it times nbgitpuller's in-process GitPuller.pull().
#include <git2.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "gitpuller/credentials.hpp"
#include "gitpuller/error.hpp"
#include "gitpuller/mirror_cache.hpp"
#include "gitpuller/report.hpp"
#include "gitpuller/sync.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sync_server PREFIX\n";
    return 2;
  }
  git_libgit2_init();
  gitpuller::configure_libgit2();
  const std::filesystem::path state = std::filesystem::path(argv[1]) / "state";
  std::filesystem::create_directories(state);
  gitpuller::CredentialStore store(state);
  gitpuller::MirrorCache mirror(state / "mirrors", &store);
  gitpuller::SyncOptions options;
  options.mirror = &mirror;

  std::string line;
  while (std::getline(std::cin, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) {
      std::cout << "error usage" << std::endl;
      continue;
    }
    try {
      gitpuller::SyncReport report = gitpuller::sync({line.substr(0, tab), line.substr(tab + 1), std::nullopt}, options);
      std::cout << "ok " << gitpuller::to_string(report.outcome) << std::endl;
    } catch (const gitpuller::SyncError& e) {
      std::cout << "error " << gitpuller::to_string(e.code()) << std::endl;
    }
  }
  git_libgit2_shutdown();
  return 0;
}
