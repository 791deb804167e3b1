// coursehub: one binary, many subcommands (see README.md).
#include <git2.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "gitpuller/sync.hpp"

namespace {

struct Command {
  const char* name;
  const char* summary;
  std::function<int(const hub::cli::Argv&)> run;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"version", "print the version", hub::cli::cmd_version},
      {"env", "the shared Python environment: install, remove, history, rollback", hub::cli::cmd_env},
      {"config", "show or change config.yaml (tljh-config's verbs)", hub::cli::cmd_config},
      {"serve", "run the hub (--ip A, --port N; 0 picks a free port)", hub::cli::cmd_serve},
      {"user", "add | list | remove | set-password | admin | instructor | import (CSV)", hub::cli::cmd_user},
      {"token", "create an API token for a user", hub::cli::cmd_token},
      {"pull", "sync a git repository into a folder (REPO_URL DIR [--branch B] [--json])", hub::cli::cmd_pull},
      {"cred", "stored git credentials: add | list | remove | test", hub::cli::cmd_cred},
      {"link", "make a git-pull link (REPO_URL or --course ID; --branch, --file, --app, --target, --hub, --qr)",
       hub::cli::cmd_link},
      {"course", "course repositories: add REPO_URL [--title, --branch, --file] | list | remove ID", hub::cli::cmd_course},
  };
  return kCommands;
}

void usage(std::FILE* out) {
  std::fprintf(out, "usage: coursehub COMMAND [ARGS...] [--prefix DIR]\n\ncommands:\n");
  for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\nDIR defaults to $COURSEHUB_PREFIX, else /opt/tljh.\n");
}

// libgit2 must be initialised once per process, before any thread uses it.
struct Libgit2Guard {
  Libgit2Guard() {
    git_libgit2_init();
    gitpuller::configure_libgit2();
  }
  ~Libgit2Guard() { git_libgit2_shutdown(); }
};

}  // namespace

int main(int argc, char** argv) {
  // libgit2 (with mbedTLS) parses the system's CA store when initialised,
  // which costs milliseconds; `env` never uses git and `env list` must be fast.
  std::optional<Libgit2Guard> libgit2;
  if (argc < 2 || std::string_view(argv[1]) != "env") libgit2.emplace();
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(stdout);
    return 0;
  }
  hub::cli::Argv rest(argv + 2, argv + argc);
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    try {
      return c.run(rest);
    } catch (const hub::cli::UsageError& e) {
      std::cerr << "error: usage: " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "error: unknown: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "error: usage: unknown command '" << name << "' (see coursehub --help)\n";
  return 2;
}
