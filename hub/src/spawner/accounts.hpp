#pragma once
// Unix accounts for system mode (TLJH parity): jupyter-<name>, with its home
// and the groups jupyterhub-users / jupyterhub-admins.
//
// Accounts are created with the passwd package's tools (useradd, groupadd,
// gpasswd), which keep /etc/passwd, /etc/shadow and /etc/group consistent and
// locked against other editors.  Calls are serialised internally (useradd
// fails when another instance holds the lock).  Needs root; blocking.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace hub::spawner {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::vector<gid_t> groups;  // supplementary groups, primary included (getgrouplist)
};

inline constexpr const char* kUsersGroup = "jupyterhub-users";
inline constexpr const char* kAdminsGroup = "jupyterhub-admins";

// The account as the system knows it now, or std::nullopt.
std::optional<Account> lookup_account(const std::string& name);

// Makes sure the account exists (home `home_root`/<name>, mode o-rwx when it
// is created, shell /bin/bash), is in jupyterhub-users, and is in
// jupyterhub-admins exactly when `admin`.  A missing home of an existing
// account is recreated (0700).  Throws SpawnerError("account", ...) with the
// tool's message.
Account ensure_account(const std::string& name, bool admin, const std::string& home_root);

}  // namespace hub::spawner
