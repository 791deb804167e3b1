#pragma once
// The spawner's rows in the hub database: one per live server (so a new hub
// process can adopt it) and the last exit of each user's server (for the
// admin page).  Not thread-safe: the Spawner serialises access.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/sqlite.hpp"

namespace hub::spawner {

struct ServerRow {
  std::string user;
  pid_t pid = 0;
  std::int64_t start_ticks = 0;
  std::string boot_id;
  uid_t uid = 0;
  int port = 0;
  std::string token;
  std::string url_prefix;
  std::string landing;
  std::string unix_user;
  std::string home;
  std::string log_path;
  std::string cgroup;
  double started = 0;
  std::optional<double> ready;
  std::optional<double> last_activity;
};

struct ExitRow {
  std::string user;
  double at = 0;
  std::optional<int> exit_code;
  std::optional<int> term_signal;
  bool requested = false;
  std::string reason;
  std::string log_tail;
};

class Store {
 public:
  explicit Store(const std::string& db_path);

  void upsert(const ServerRow& row);
  void set_ready(const std::string& user, double ready, const std::string& landing);
  void set_activity(const std::vector<std::pair<std::string, double>>& updates);
  void remove(const std::string& user);
  std::vector<ServerRow> all();

  void record_exit(const ExitRow& row);
  std::vector<ExitRow> exits();

 private:
  common::Database db_;
};

}  // namespace hub::spawner
