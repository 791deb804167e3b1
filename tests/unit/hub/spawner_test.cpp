// The spawner's own behaviour, with real processes (no Jupyter needed here;
// tests/integration/test_spawner.py runs real Jupyter servers).
#include "hub/spawner.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include "common/sqlite.hpp"
#include "spawner/cgroup.hpp"
#include "spawner/proc.hpp"

extern char** environ;

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct TempPrefix {
  fs::path path;
  TempPrefix() {
    std::string tmpl = (fs::temp_directory_path() / "spawner-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempPrefix() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

hub::SpawnerOptions options_for(const TempPrefix& t, std::vector<std::string> cmd) {
  hub::SpawnerOptions o;
  o.prefix = t.path.string();
  o.cmd = std::move(cmd);
  o.cgroup_base = "none";
  o.stop_grace = 2000ms;
  return o;
}

// A child process that is not a server: `sleep 60`.
pid_t spawn_sleeper() {
  pid_t pid = 0;
  const char* argv[] = {"sleep", "60", nullptr};
  REQUIRE(::posix_spawnp(&pid, "sleep", nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
  return pid;
}

bool alive(pid_t pid) {
  auto id = hub::spawner::process_identity(pid);
  return id.has_value();
}

void reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

struct EventLog {
  std::mutex m;
  std::condition_variable cv;
  std::vector<hub::ProgressEvent> events;
  bool done = false;
  std::function<void(const hub::ProgressEvent&)> fn() {
    return [this](const hub::ProgressEvent& e) {
      std::lock_guard lock(m);
      events.push_back(e);
      done = done || e.ready || e.failed;
      cv.notify_all();
    };
  }
  bool wait_done(std::chrono::milliseconds t) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, t, [&] { return done; });
  }
};

}  // namespace

TEST_CASE("system account names follow TLJH's rule, hashing names of 26 characters and more") {
  CHECK(hub::system_username("alice") == "jupyter-alice");
  CHECK(hub::system_username("abcdefghijklmnopq") == "jupyter-abcdefghijklmnopq");
  CHECK(hub::system_username("abcdefghijklmnopqr") == "jupyter-abcdefghijklmnopqr-e375e");
  CHECK(hub::system_username("a-very-long-student-name-from-lms") == "jupyter-a-very-long-studen-48fa5");
  // TLJH counts characters, not bytes.
  CHECK(hub::system_username("élève-with-accents-and-more-x") == "jupyter-élève-with-accents-71921");
  CHECK(hub::system_username("短い名前") == "jupyter-短い名前");
}

TEST_CASE("process identity is read from /proc even when the command name has spaces and parentheses") {
  auto id = hub::spawner::parse_proc_stat(
      "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0");
  REQUIRE(id);
  CHECK(id->state == 'S');
  CHECK(id->ppid == 1);
  CHECK(id->start_ticks == 987654);
  auto self = hub::spawner::process_identity(::getpid());
  REQUIRE(self);
  CHECK(self->uid == ::getuid());
  CHECK(self->ppid == ::getppid());
}

TEST_CASE("the cgroup v2 mount point and limit values are derived the way the kernel expects") {
  std::string mountinfo =
      "25 30 0:23 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  CHECK(hub::spawner::cgroup2_mount_point(mountinfo) == "/sys/fs/cgroup/unified");
  CHECK_FALSE(hub::spawner::cgroup2_mount_point("25 30 0:23 / /proc rw - proc proc rw\n"));
  CHECK(hub::spawner::cpu_max_value(0.5) == "50000 100000");
  CHECK(hub::spawner::cpu_max_value(2) == "200000 100000");
  CHECK(hub::spawner::memory_max_value(1073741824) == "1073741824");
}

TEST_CASE("on a hybrid system the cgroup v1 memory and cpu hierarchies and the hub's place in them are found") {
  std::string mountinfo =
      "24 30 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "23 30 0:21 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
      "25 30 0:23 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  CHECK(hub::spawner::cgroup1_mount_point(mountinfo, "memory") == "/sys/fs/cgroup/memory");
  CHECK(hub::spawner::cgroup1_mount_point(mountinfo, "cpu") == "/sys/fs/cgroup/cpu,cpuacct");  // not cpuset
  CHECK_FALSE(hub::spawner::cgroup1_mount_point(mountinfo, "pids"));
  CHECK_FALSE(hub::spawner::cgroup1_mount_point("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "memory"));
  std::string own =
      "12:pids:/system.slice/coursehub.service\n"
      "4:memory:/system.slice/coursehub.service\n"
      "3:cpuset:/\n"
      "2:cpu,cpuacct:/system.slice\n"
      "1:name=systemd:/system.slice/coursehub.service\n"
      "0::/system.slice/coursehub.service\n";
  CHECK(hub::spawner::cgroup1_own_path(own, "memory") == "/system.slice/coursehub.service");
  CHECK(hub::spawner::cgroup1_own_path(own, "cpu") == "/system.slice");
  CHECK_FALSE(hub::spawner::cgroup1_own_path("0::/user.slice\n", "memory"));
  CHECK(hub::spawner::cgroup_dirs("/a/x\n/b/x") == std::vector<std::string>{"/a/x", "/b/x"});
  CHECK(hub::spawner::cgroup_dirs("/sys/fs/cgroup/coursehub/user-ann") == std::vector<std::string>{"/sys/fs/cgroup/coursehub/user-ann"});
  CHECK(hub::spawner::cgroup_dirs("").empty());
}

TEST_CASE("a name that cannot be a folder name is refused before anything starts") {
  TempPrefix t;
  hub::Spawner s(options_for(t, {"/bin/true"}));
  for (const std::string& bad : std::vector<std::string>{"", "../x", "a/b", ".hidden", "-rf", std::string("nul\0x", 5)}) {
    try {
      s.start({bad, false});
      FAIL("accepted " << bad);
    } catch (const hub::SpawnerError& e) {
      CHECK(e.code() == "invalid_name");
    }
  }
  CHECK(s.list().empty());
}

TEST_CASE("a server that exits during start fails with its exit status and the tail of its log") {
  TempPrefix t;
  hub::Spawner s(options_for(t, {"/bin/sh", "-c", "echo 'boom: no module named jupyter' >&2; exit 3", "sh"}));
  REQUIRE(s.start({"dora", false}));
  EventLog log;
  auto sub = s.subscribe_progress("dora", log.fn());
  REQUIRE(sub);
  REQUIRE(log.wait_done(30s));
  auto info = s.wait_until_settled("dora", 30s);
  REQUIRE(info);
  CHECK(info->state == hub::ServerState::stopped);
  REQUIRE(info->last_exit);
  CHECK(info->last_exit->exit_code == 3);
  CHECK(info->last_exit->log_tail.find("boom: no module named jupyter") != std::string::npos);
  std::lock_guard lock(log.m);
  REQUIRE(!log.events.empty());
  CHECK(log.events.back().failed);
  CHECK(log.events.back().message.find("exited with status 3") != std::string::npos);
  CHECK(log.events.front().progress == 0);
}

TEST_CASE("a server that never answers is killed when the start timeout passes") {
  TempPrefix t;
  auto o = options_for(t, {"/bin/sh", "-c", "exec sleep 60", "sh"});
  o.start_timeout = 1500ms;
  hub::Spawner s(o);
  REQUIRE(s.start({"eve", false}));
  auto starting = s.find("eve");
  REQUIRE(starting);
  CHECK(starting->state == hub::ServerState::starting);
  auto info = s.wait_until_settled("eve", 60s);
  REQUIRE(info);
  CHECK(info->state == hub::ServerState::stopped);
  REQUIRE(info->last_exit);
  CHECK(info->last_exit->reason == "did not answer within 1 s");
  CHECK(info->last_exit->term_signal == SIGTERM);
  // The database forgot it: a new hub has nothing to adopt.
  hub::Spawner again(o);
  auto report = again.adopt(1s);
  CHECK(report.adopted.empty());
  CHECK(report.forgotten.empty());
}

TEST_CASE("stopping a server while it starts cancels the start and ends the process") {
  TempPrefix t;
  hub::Spawner s(options_for(t, {"/bin/sh", "-c", "exec sleep 60", "sh"}));
  EventLog log;
  REQUIRE(s.start({"finn", false}));
  auto sub = s.subscribe_progress("finn", log.fn());
  pid_t pid = 0;
  for (int i = 0; i < 1000 && pid == 0; ++i) {
    auto info = s.find("finn");
    if (info && info->pid) pid = info->pid;
    else std::this_thread::sleep_for(10ms);
  }
  REQUIRE(pid != 0);
  CHECK_FALSE(s.start({"finn", false}));  // already starting
  CHECK(s.stop("finn"));
  REQUIRE(s.wait_until_stopped("finn", 30s));
  CHECK_FALSE(alive(pid));
  REQUIRE(log.wait_done(5s));
  std::lock_guard lock(log.m);
  CHECK(log.events.back().failed);
  CHECK(log.events.back().message.find("stopped before it was ready") != std::string::npos);
  CHECK_FALSE(s.stop("finn"));
}

TEST_CASE("adoption forgets a recorded pid that now belongs to another process, and leaves that process alone") {
  TempPrefix t;
  auto o = options_for(t, {"/bin/true"});
  pid_t other = spawn_sleeper();
  auto id = hub::spawner::process_identity(other);
  REQUIRE(id);
  {
    hub::Spawner s(o);  // creates the database and its tables
  }
  {
    common::Database db(t.path.string() + "/state/hub.sqlite");
    auto st = db.prepare(
        "INSERT INTO servers (user, pid, start_ticks, boot_id, uid, port, token, url_prefix, unix_user, home,"
        " log_path, started) VALUES ('gus', ?, ?, ?, ?, 1, 'tok', '/user/gus/', 'x', '/tmp', '/nonexistent', 0)");
    st.bind(1, static_cast<std::int64_t>(other)).bind(2, id->start_ticks + 1);
    st.bind(3, hub::spawner::boot_id()).bind(4, static_cast<std::int64_t>(::getuid()));
    st.run();
  }
  hub::Spawner s(o);
  auto report = s.adopt(2s);
  CHECK(report.adopted.empty());
  CHECK(report.forgotten == std::vector<std::string>{"gus"});
  CHECK(alive(other));
  auto info = s.find("gus");
  REQUIRE(info);
  CHECK(info->state == hub::ServerState::stopped);
  REQUIRE(info->last_exit);
  CHECK(info->last_exit->reason == "the server was gone when the hub restarted");
  reap(other);
}

TEST_CASE("adoption stops a recorded server of ours that no longer answers") {
  TempPrefix t;
  auto o = options_for(t, {"/bin/true"});
  pid_t ours = spawn_sleeper();
  auto id = hub::spawner::process_identity(ours);
  REQUIRE(id);
  {
    hub::Spawner s(o);
  }
  {
    common::Database db(t.path.string() + "/state/hub.sqlite");
    auto st = db.prepare(
        "INSERT INTO servers (user, pid, start_ticks, boot_id, uid, port, token, url_prefix, unix_user, home,"
        " log_path, started) VALUES ('hal', ?, ?, ?, ?, 1, 'tok', '/user/hal/', 'x', '/tmp', '/nonexistent', 0)");
    st.bind(1, static_cast<std::int64_t>(ours)).bind(2, id->start_ticks);
    st.bind(3, hub::spawner::boot_id()).bind(4, static_cast<std::int64_t>(::getuid()));
    st.run();
  }
  hub::Spawner s(o);
  auto report = s.adopt(500ms);
  CHECK(report.forgotten == std::vector<std::string>{"hal"});
  int status = 0;
  REQUIRE(::waitpid(ours, &status, 0) == ours);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
}

TEST_CASE("activity is kept in memory and written to the database in batches") {
  TempPrefix t;
  auto o = options_for(t, {"/bin/sh", "-c", "exec sleep 60", "sh"});
  o.activity_flush_interval = 100ms;
  o.start_timeout = 60s;
  hub::Spawner s(o);
  REQUIRE(s.start({"ivy", false}));
  pid_t pid = 0;
  for (int i = 0; i < 1000 && pid == 0; ++i) {
    auto info = s.find("ivy");
    if (info && info->pid) pid = info->pid;
    else std::this_thread::sleep_for(10ms);
  }
  REQUIRE(pid != 0);
  auto when = std::chrono::system_clock::now() + 1h;
  s.note_activity("ivy", when);
  CHECK(s.find("ivy")->last_activity == when);
  common::Database db(t.path.string() + "/state/hub.sqlite");
  double stored = 0;
  for (int i = 0; i < 500 && stored == 0; ++i) {
    auto st = db.prepare("SELECT last_activity FROM servers WHERE user = 'ivy'");
    if (st.step() && !st.column_is_null(0)) stored = st.column_double(0);
    if (stored == 0) std::this_thread::sleep_for(10ms);
  }
  CHECK(stored == doctest::Approx(std::chrono::duration<double>(when.time_since_epoch()).count()));
  CHECK(s.stop("ivy"));
  CHECK(s.wait_until_stopped("ivy", 30s));
}
