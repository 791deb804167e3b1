#include "history.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace envmgr::detail {
namespace {

using nlohmann::json;

constexpr const char* kColumns =
    "id, kind, state, requested_by, request, commands, before, after, exit_code, started, finished, "
    "duration_ms, output, message, restored, rollback_of";

TxnKind kind_from(const std::string& s) {
  for (auto k : {TxnKind::init, TxnKind::install, TxnKind::upgrade, TxnKind::remove, TxnKind::rollback,
                 TxnKind::import})
    if (s == to_string(k)) return k;
  return TxnKind::install;
}

TxnState state_from(const std::string& s) {
  for (auto st : {TxnState::running, TxnState::succeeded, TxnState::failed, TxnState::interrupted})
    if (s == to_string(st)) return st;
  return TxnState::failed;
}

Transaction read_row(common::Statement& st) {
  Transaction t;
  t.id = st.column_int64(0);
  t.kind = kind_from(st.column_text(1));
  t.state = state_from(st.column_text(2));
  t.requested_by = st.column_text(3);
  t.request = json::parse(st.column_text(4)).get<std::vector<std::string>>();
  t.commands = json::parse(st.column_text(5)).get<std::vector<std::vector<std::string>>>();
  t.before = package_set_from_json(st.column_text(6));
  t.after = st.column_is_null(7) ? t.before : package_set_from_json(st.column_text(7));
  if (!st.column_is_null(8)) t.exit_code = static_cast<int>(st.column_int64(8));
  t.started = st.column_double(9);
  t.finished = st.column_is_null(10) ? 0 : st.column_double(10);
  t.duration_ms = st.column_int64(11);
  t.output = st.column_text(12);
  t.message = st.column_text(13);
  t.restored = st.column_int64(14) != 0;
  if (!st.column_is_null(15)) t.rollback_of = st.column_int64(15);
  return t;
}

}  // namespace

std::string to_json(const PackageSet& set) {
  json j = json::object();
  for (const auto& [k, v] : set) j[k] = {{"name", v.name}, {"version", v.version}};
  return j.dump();
}

PackageSet package_set_from_json(const std::string& text) {
  PackageSet out;
  auto j = json::parse(text);
  for (auto it = j.begin(); it != j.end(); ++it)
    out[it.key()] = PackageRef{it.value().at("name").get<std::string>(), it.value().at("version").get<std::string>()};
  return out;
}

HistoryStore::HistoryStore(const std::string& path) : db_(path) {
  if (db_.user_version() < 1) {
    db_.transaction([&] {
      db_.exec(R"sql(
        CREATE TABLE IF NOT EXISTS transactions (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          kind TEXT NOT NULL,
          state TEXT NOT NULL,
          requested_by TEXT NOT NULL,
          request TEXT NOT NULL,
          commands TEXT NOT NULL DEFAULT '[]',
          before TEXT NOT NULL,
          after TEXT,
          entries_before TEXT,
          exit_code INTEGER,
          started REAL NOT NULL,
          finished REAL,
          duration_ms INTEGER NOT NULL DEFAULT 0,
          output TEXT NOT NULL DEFAULT '',
          message TEXT NOT NULL DEFAULT '',
          restored INTEGER NOT NULL DEFAULT 0,
          rollback_of INTEGER,
          pid INTEGER,
          installer_pid INTEGER
        );
        CREATE INDEX IF NOT EXISTS transactions_state ON transactions(state);
      )sql");
      db_.set_user_version(1);
    });
  }
}

void HistoryStore::begin(Transaction& t, const std::string& entries_before_json) {
  auto st = db_.prepare(
      "INSERT INTO transactions (kind, state, requested_by, request, commands, before, entries_before, started, "
      "rollback_of, pid) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)");
  st.bind(1, to_string(t.kind));
  st.bind(2, t.requested_by);
  st.bind(3, json(t.request).dump());
  st.bind(4, json(t.commands).dump());
  st.bind(5, to_json(t.before));
  st.bind(6, entries_before_json);
  st.bind(7, t.started);
  st.bind(8, t.rollback_of);
  st.bind(9, static_cast<std::int64_t>(::getpid()));
  st.run();
  t.id = db_.last_insert_rowid();
}

void HistoryStore::set_installer_pid(std::int64_t id, int pid) {
  auto st = db_.prepare("UPDATE transactions SET installer_pid = ? WHERE id = ?");
  st.bind(1, pid).bind(2, id).run();
}

void HistoryStore::set_commands(std::int64_t id, const std::vector<std::vector<std::string>>& commands) {
  auto st = db_.prepare("UPDATE transactions SET commands = ? WHERE id = ?");
  st.bind(1, json(commands).dump()).bind(2, id).run();
}

void HistoryStore::finish(const Transaction& t) {
  auto st = db_.prepare(
      "UPDATE transactions SET state = ?, commands = ?, after = ?, exit_code = ?, finished = ?, duration_ms = ?, "
      "output = ?, message = ?, restored = ? WHERE id = ?");
  st.bind(1, to_string(t.state));
  st.bind(2, json(t.commands).dump());
  st.bind(3, to_json(t.after));
  st.bind(4, t.exit_code);
  st.bind(5, t.finished);
  st.bind(6, t.duration_ms);
  st.bind(7, t.output);
  st.bind(8, t.message);
  st.bind(9, t.restored);
  st.bind(10, t.id);
  st.run();
}

std::optional<Transaction> HistoryStore::get(std::int64_t id) {
  auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM transactions WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_row(st);
}

std::vector<Transaction> HistoryStore::list(int limit) {
  auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM transactions ORDER BY id DESC LIMIT ?");
  st.bind(1, limit);
  std::vector<Transaction> out;
  while (st.step()) out.push_back(read_row(st));
  return out;
}

std::vector<Transaction> HistoryStore::running() {
  auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM transactions WHERE state = 'running' ORDER BY id");
  std::vector<Transaction> out;
  while (st.step()) out.push_back(read_row(st));
  return out;
}

std::optional<std::string> HistoryStore::entries_before(std::int64_t id) {
  auto st = db_.prepare("SELECT entries_before FROM transactions WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return st.column_optional_text(0);
}

std::optional<int> HistoryStore::installer_pid(std::int64_t id) {
  auto st = db_.prepare("SELECT installer_pid FROM transactions WHERE id = ?");
  st.bind(1, id);
  if (!st.step() || st.column_is_null(0)) return std::nullopt;
  return static_cast<int>(st.column_int64(0));
}

}  // namespace envmgr::detail
