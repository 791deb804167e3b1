#include "spawner/store.hpp"

#include "db/migrations.hpp"

namespace hub::spawner {

// The tables come from the hub's migration list ("spawner: ..."), so a
// spawner on a fresh database (tests, the driver) gets the same schema.
Store::Store(const std::string& db_path) : db_(db_path) { db::migrate(db_); }

void Store::upsert(const ServerRow& r) {
  auto st = db_.prepare(
      "INSERT OR REPLACE INTO servers (user, pid, start_ticks, boot_id, uid, port, token, url_prefix, landing,"
      " unix_user, home, log_path, cgroup, started, ready, last_activity)"
      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, r.user).bind(2, static_cast<std::int64_t>(r.pid)).bind(3, r.start_ticks).bind(4, r.boot_id);
  st.bind(5, static_cast<std::int64_t>(r.uid)).bind(6, r.port).bind(7, r.token).bind(8, r.url_prefix);
  st.bind(9, r.landing).bind(10, r.unix_user).bind(11, r.home).bind(12, r.log_path).bind(13, r.cgroup);
  st.bind(14, r.started).bind(15, r.ready).bind(16, r.last_activity);
  st.run();
}

void Store::set_ready(const std::string& user, double ready, const std::string& landing) {
  auto st = db_.prepare("UPDATE servers SET ready = ?, landing = ? WHERE user = ?");
  st.bind(1, ready).bind(2, landing).bind(3, user);
  st.run();
}

void Store::set_activity(const std::vector<std::pair<std::string, double>>& updates) {
  if (updates.empty()) return;
  db_.transaction([&] {
    auto st = db_.prepare("UPDATE servers SET last_activity = ? WHERE user = ?");
    for (const auto& [user, at] : updates) {
      st.bind(1, at).bind(2, user);
      st.run();
      st.reset();
    }
  });
}

void Store::remove(const std::string& user) {
  auto st = db_.prepare("DELETE FROM servers WHERE user = ?");
  st.bind(1, user);
  st.run();
}

std::vector<ServerRow> Store::all() {
  auto st = db_.prepare(
      "SELECT user, pid, start_ticks, boot_id, uid, port, token, url_prefix, landing, unix_user, home, log_path,"
      " cgroup, started, ready, last_activity FROM servers ORDER BY user");
  std::vector<ServerRow> rows;
  while (st.step()) {
    ServerRow r;
    r.user = st.column_text(0);
    r.pid = static_cast<pid_t>(st.column_int64(1));
    r.start_ticks = st.column_int64(2);
    r.boot_id = st.column_text(3);
    r.uid = static_cast<uid_t>(st.column_int64(4));
    r.port = static_cast<int>(st.column_int64(5));
    r.token = st.column_text(6);
    r.url_prefix = st.column_text(7);
    r.landing = st.column_text(8);
    r.unix_user = st.column_text(9);
    r.home = st.column_text(10);
    r.log_path = st.column_text(11);
    r.cgroup = st.column_text(12);
    r.started = st.column_double(13);
    if (!st.column_is_null(14)) r.ready = st.column_double(14);
    if (!st.column_is_null(15)) r.last_activity = st.column_double(15);
    rows.push_back(std::move(r));
  }
  return rows;
}

void Store::record_exit(const ExitRow& r) {
  auto st = db_.prepare(
      "INSERT OR REPLACE INTO server_exits (user, at, exit_code, term_signal, requested, reason, log_tail)"
      " VALUES (?,?,?,?,?,?,?)");
  st.bind(1, r.user).bind(2, r.at).bind(3, r.exit_code).bind(4, r.term_signal).bind(5, r.requested);
  st.bind(6, r.reason).bind(7, r.log_tail);
  st.run();
}

std::vector<ExitRow> Store::exits() {
  auto st = db_.prepare("SELECT user, at, exit_code, term_signal, requested, reason, log_tail FROM server_exits");
  std::vector<ExitRow> rows;
  while (st.step()) {
    ExitRow r;
    r.user = st.column_text(0);
    r.at = st.column_double(1);
    if (!st.column_is_null(2)) r.exit_code = static_cast<int>(st.column_int64(2));
    if (!st.column_is_null(3)) r.term_signal = static_cast<int>(st.column_int64(3));
    r.requested = st.column_int64(4) != 0;
    r.reason = st.column_text(5);
    r.log_tail = st.column_text(6);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace hub::spawner
