// coursehub cred add|list|remove|test: stored git credentials for private repositories.
#include <filesystem>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "gitpuller/credentials.hpp"
#include "gitpuller/remote.hpp"
#include "gitpuller/sync.hpp"
#include "gitpuller/url.hpp"

namespace hub::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCredUsage =
    "cred add URL_PREFIX --username USER --token-stdin [--expires YYYY-MM-DD]\n"
    "       cred list [--json]\n"
    "       cred remove URL_PREFIX\n"
    "       cred test URL";

std::string read_secret_from_stdin() {
  std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto nl = all.find_first_of("\r\n");
  if (nl != std::string::npos) all.resize(nl);
  while (!all.empty() && (all.back() == ' ' || all.back() == '\t')) all.pop_back();
  while (!all.empty() && (all.front() == ' ' || all.front() == '\t')) all.erase(0, 1);
  return all;
}

int fail(const std::string& code, const std::string& message) {
  std::cerr << "error: " << code << ": " << message << "\n";
  return 1;
}

}  // namespace

int cmd_cred(const Argv& args) {
  if (args.empty()) throw UsageError(kCredUsage);
  const std::string verb = args[0];
  Argv rest(args.begin() + 1, args.end());
  Args parsed(rest, {"username", "expires"}, {"token-stdin", "json"});
  gitpuller::CredentialStore store(fs::path(parsed.prefix()) / "state");
  try {
    if (verb == "add") {
      if (parsed.positional().size() != 1) throw UsageError(kCredUsage);
      auto user = parsed.value("username");
      if (!user) throw UsageError("cred add needs --username USER");
      if (!parsed.flag("token-stdin"))
        throw UsageError("cred add reads the token from stdin: pass --token-stdin (tokens never go on the command line)");
      std::string secret = read_secret_from_stdin();
      std::string prefix = gitpuller::CredentialStore::normalize_prefix(parsed.positional()[0]);
      store.add(prefix, *user, secret, parsed.value("expires"));
      std::cout << "Stored a credential for " << prefix << " (user " << *user << ", token ending in "
                << (secret.size() > 4 ? secret.substr(secret.size() - 4) : std::string("****")) << ")\n";
      return 0;
    }
    if (verb == "list") {
      if (!parsed.positional().empty()) throw UsageError(kCredUsage);
      auto items = store.list();
      if (parsed.flag("json")) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& c : items) {
          out.push_back({{"prefix", c.prefix},
                         {"username", c.username},
                         {"last4", c.last4},
                         {"expires", c.expires ? nlohmann::json(*c.expires) : nlohmann::json(nullptr)},
                         {"expired", c.expired},
                         {"created", c.created},
                         {"last_used", c.last_used ? nlohmann::json(*c.last_used) : nlohmann::json(nullptr)},
                         {"last_error", c.last_error ? nlohmann::json(*c.last_error) : nlohmann::json(nullptr)},
                         {"last_error_at", c.last_error_at ? nlohmann::json(*c.last_error_at) : nlohmann::json(nullptr)}});
        }
        std::cout << out.dump(2) << "\n";
        return 0;
      }
      if (items.empty()) {
        std::cout << "No stored credentials.\n";
        return 0;
      }
      for (const auto& c : items) {
        std::cout << c.prefix << "  user=" << c.username << "  token=..." << c.last4
                  << "  expires=" << c.expires.value_or("never") << (c.expired ? " (EXPIRED)" : "")
                  << "  last_used=" << c.last_used.value_or("never");
        if (c.last_error) std::cout << "  last_error=" << *c.last_error;
        std::cout << "\n";
      }
      return 0;
    }
    if (verb == "remove") {
      if (parsed.positional().size() != 1) throw UsageError(kCredUsage);
      if (!store.remove(parsed.positional()[0]))
        return fail("not_found", "no stored credential has the prefix " + parsed.positional()[0]);
      std::cout << "Removed the credential for " << gitpuller::CredentialStore::normalize_prefix(parsed.positional()[0]) << "\n";
      return 0;
    }
    if (verb == "test") {
      if (parsed.positional().size() != 1) throw UsageError(kCredUsage);
      gitpuller::configure_libgit2();
      auto url = gitpuller::parse_repo_url(parsed.positional()[0]);
      auto info = store.info_for(url.clean);
      if (info) {
        std::cout << "Using the credential for " << info->prefix << " (user " << info->username << ", token ..."
                  << info->last4 << ")\n";
      } else {
        std::cout << "No stored credential covers " << url.clean << "; trying without one\n";
      }
      auto refs = gitpuller::ls_remote(url, &store, gitpuller::ErrorCode::fetch);
      std::cout << "OK: " << url.clean << " answered with " << refs.branches().size() << " branch(es)";
      if (auto d = refs.resolve_default()) std::cout << ", default " << d->ref.substr(11);
      std::cout << "\n";
      return 0;
    }
  } catch (const gitpuller::CredentialError& e) {
    return fail("invalid", e.what());
  } catch (const gitpuller::SyncError& e) {
    return fail(std::string(gitpuller::to_string(e.code())), e.what());
  }
  throw UsageError(kCredUsage);
}

}  // namespace hub::cli
