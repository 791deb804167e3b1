#include "spawner/accounts.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/process.hpp"
#include "hub/spawner.hpp"

namespace hub::spawner {
namespace {

std::mutex& accounts_mutex() {
  static std::mutex m;
  return m;
}

std::string tool(const char* name) {
  for (const char* dir : {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"}) {
    std::string p = std::string(dir) + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return name;
}

void run_tool(const std::vector<std::string>& argv) {
  common::ProcessOptions o;
  o.merge_stderr = true;
  o.timeout = std::chrono::seconds(60);
  o.clear_env = true;
  o.env = {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}, {"LC_ALL", "C"}};
  common::ProcessResult r;
  try {
    r = common::run_process(argv, o);
  } catch (const common::ProcessError& e) {
    throw SpawnerError("account", std::string("cannot run ") + argv[0] + ": " + e.what());
  }
  if (!r.ok()) {
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw SpawnerError("account", cmd + " failed: " + (out.empty() ? "exit status " + std::to_string(r.exit_code) : out));
  }
}

std::optional<group> group_entry(const std::string& name, std::vector<char>& buf, std::vector<std::string>* members) {
  group g{};
  group* res = nullptr;
  buf.resize(1 << 16);
  for (;;) {
    int rc = ::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &res);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || !res) return std::nullopt;
    break;
  }
  if (members) {
    members->clear();
    for (char** m = g.gr_mem; m && *m; ++m) members->emplace_back(*m);
  }
  return g;
}

bool group_exists(const std::string& name) {
  std::vector<char> buf;
  return group_entry(name, buf, nullptr).has_value();
}

bool is_member(const std::string& user, const std::string& group_name) {
  std::vector<char> buf;
  std::vector<std::string> members;
  if (!group_entry(group_name, buf, &members)) return false;
  return std::find(members.begin(), members.end(), user) != members.end();
}

void ensure_group(const std::string& name) {
  if (!group_exists(name)) run_tool({tool("groupadd"), "--force", name});
}

}  // namespace

std::optional<Account> lookup_account(const std::string& name) {
  passwd pw{};
  passwd* res = nullptr;
  std::vector<char> buf(1 << 16);
  for (;;) {
    int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &res);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || !res) return std::nullopt;
    break;
  }
  Account a;
  a.name = name;
  a.uid = pw.pw_uid;
  a.gid = pw.pw_gid;
  a.home = pw.pw_dir ? pw.pw_dir : "";
  int n = 64;
  for (;;) {
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    int count = n;
    if (::getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<std::size_t>(count));
      a.groups = std::move(groups);
      break;
    }
    n = count > n ? count : n * 2;
  }
  return a;
}

Account ensure_account(const std::string& name, bool admin, const std::string& home_root) {
  if (::geteuid() != 0) throw SpawnerError("account", "system mode needs the hub to run as root");
  std::lock_guard lock(accounts_mutex());
  ensure_group(kUsersGroup);
  ensure_group(kAdminsGroup);
  std::string home = home_root + "/" + name;
  auto existing = lookup_account(name);
  if (!existing) {
    run_tool({tool("useradd"), "--create-home", "--home-dir", home, "--shell", "/bin/bash", name});
    struct stat st {};
    if (::stat(home.c_str(), &st) == 0) ::chmod(home.c_str(), st.st_mode & 07770);
  }
  if (!is_member(name, kUsersGroup)) run_tool({tool("gpasswd"), "--add", name, kUsersGroup});
  bool in_admins = is_member(name, kAdminsGroup);
  if (admin && !in_admins) run_tool({tool("gpasswd"), "--add", name, kAdminsGroup});
  if (!admin && in_admins) run_tool({tool("gpasswd"), "--delete", name, kAdminsGroup});
  auto account = lookup_account(name);
  if (!account) throw SpawnerError("account", "account " + name + " does not exist after useradd");
  struct stat st {};
  if (::stat(account->home.c_str(), &st) != 0) {
    if (::mkdir(account->home.c_str(), 0700) != 0 ||
        ::chown(account->home.c_str(), account->uid, account->gid) != 0)
      throw SpawnerError("account", "cannot recreate the home " + account->home + ": " + std::strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    throw SpawnerError("account", "the home " + account->home + " is not a folder");
  }
  return *account;
}

}  // namespace hub::spawner
