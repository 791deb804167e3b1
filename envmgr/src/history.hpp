#pragma once
// Transaction records in P/state/envmgr.sqlite.  Private to envmgr.  One
// HistoryStore per thread (it owns one SQLite connection).
#include <optional>
#include <string>
#include <vector>

#include "common/sqlite.hpp"
#include "envmgr/env_manager.hpp"

namespace envmgr::detail {

class HistoryStore {
 public:
  explicit HistoryStore(const std::string& path);

  // Inserts a running transaction; fills in txn.id.
  void begin(Transaction& txn, const std::string& entries_before_json);
  void set_installer_pid(std::int64_t id, int pid);
  void set_commands(std::int64_t id, const std::vector<std::vector<std::string>>& commands);
  void finish(const Transaction& txn);

  std::optional<Transaction> get(std::int64_t id);
  std::vector<Transaction> list(int limit);
  // Transactions still marked running (left behind by a dead process).
  std::vector<Transaction> running();
  std::optional<std::string> entries_before(std::int64_t id);
  std::optional<int> installer_pid(std::int64_t id);

 private:
  common::Database db_;
};

std::string to_json(const PackageSet& set);
PackageSet package_set_from_json(const std::string& json);

}  // namespace envmgr::detail
