// The idle culler against real processes that answer like Jupyter's
// /api/status (a few lines of Python's http.server).
#include "culler/culler.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "hub/spawner.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

// A user server whose /api/status reports argv[1] as its last activity.
const char* kStatusServer = R"py(
import http.server, json, sys
port = int([a for a in sys.argv if a.startswith('--ServerApp.port=')][0].split('=', 1)[1])
activity = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"last_activity": activity, "kernels": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
)py";

struct TempPrefix {
  fs::path path;
  TempPrefix() {
    std::string tmpl = (fs::temp_directory_path() / "culler-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempPrefix() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

hub::SpawnerOptions options(const TempPrefix& t, const std::string& reported_activity) {
  hub::SpawnerOptions o;
  o.prefix = t.path.string();
  o.cmd = {"/usr/bin/python3", "-c", kStatusServer, reported_activity};
  o.cgroup_base = "none";
  o.stop_grace = 2000ms;
  return o;
}

void start_all(hub::Spawner& s, const std::vector<std::string>& names) {
  for (const auto& n : names) REQUIRE(s.start({n, false}));
  for (const auto& n : names) {
    auto info = s.wait_until_settled(n, 120s);
    REQUIRE(info);
    REQUIRE(info->state == hub::ServerState::running);
  }
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("Jupyter's activity times are read to the microsecond") {
  auto t = hub::parse_iso8601_utc("2026-11-26T05:54:00.298644Z");
  REQUIRE(t);
  CHECK(Clock::to_time_t(*t) == 1795672440);
  CHECK(std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count() % 1000000 == 298644);
  CHECK(hub::parse_iso8601_utc("2026-11-26T05:54:00+00:00"));
  CHECK_FALSE(hub::parse_iso8601_utc("yesterday"));
  CHECK_FALSE(hub::parse_iso8601_utc("2026-11-26T05:54:00+02:00"));
}

TEST_CASE("the culler stops idle servers and leaves active ones alone") {
  TempPrefix t;
  hub::Spawner s(options(t, "2000-01-01T00:00:00.000000Z"));
  start_all(s, {"idle1", "idle2", "busy"});
  hub::CullConfig cfg;
  cfg.timeout = 600;
  cfg.concurrency = 1;
  hub::Culler culler(s, [&] { return cfg; }, {});
  auto later = Clock::now() + 700s;
  s.note_activity("busy", later - 10s);  // a proxied request 10 s before the pass
  auto report = culler.run_once(later);
  CHECK(as_set(report.stopped_idle) == std::set<std::string>{"idle1", "idle2"});
  CHECK(report.stopped_age.empty());
  CHECK(s.find("idle1")->state == hub::ServerState::stopped);
  CHECK(s.find("idle2")->state == hub::ServerState::stopped);
  CHECK(s.find("busy")->state == hub::ServerState::running);
  // Nothing idle now: a second pass does nothing.
  CHECK(culler.run_once(later).stopped_idle.empty());
  s.stop("busy");
  CHECK(s.wait_until_stopped("busy", 30s));
}

TEST_CASE("a server whose kernels were busy without a browser is not culled") {
  TempPrefix t;
  auto later = Clock::now() + 700s;
  std::time_t tt = Clock::to_time_t(later - 5s);
  char reported[64];
  std::strftime(reported, sizeof reported, "%Y-%m-%dT%H:%M:%S.000000Z", std::gmtime(&tt));
  hub::Spawner s(options(t, reported));
  start_all(s, {"cruncher"});
  hub::CullConfig cfg;
  hub::Culler culler(s, [&] { return cfg; }, {});
  auto report = culler.run_once(later);
  CHECK(report.stopped_idle.empty());
  auto info = s.find("cruncher");
  CHECK(info->state == hub::ServerState::running);
  CHECK(info->last_activity > later - 10s);  // the server's own clock was taken in
  s.stop("cruncher");
  CHECK(s.wait_until_stopped("cruncher", 30s));
}

TEST_CASE("max_age stops old servers even when active, and users without servers are deleted") {
  TempPrefix t;
  hub::Spawner s(options(t, "2000-01-01T00:00:00Z"));
  start_all(s, {"old"});
  hub::CullConfig cfg;
  cfg.max_age = 3600;
  cfg.users = true;
  std::vector<std::string> deleted;
  hub::Culler::Hooks hooks;
  auto later = Clock::now() + 2h;
  hooks.list_users = [&] {
    return std::vector<hub::Culler::UserActivity>{{"gone-quiet", false, later - 1h},
                                                  {"the-admin", true, later - 10h},
                                                  {"just-here", false, later - 1min},
                                                  {"old", false, later - 3h}};
  };
  hooks.delete_user = [&](const std::string& n) { deleted.push_back(n); };
  hub::Culler culler(s, [&] { return cfg; }, hooks);
  s.note_activity("old", later - 1s);
  auto report = culler.run_once(later);
  CHECK(report.stopped_age == std::vector<std::string>{"old"});
  CHECK(s.find("old")->state == hub::ServerState::stopped);
  // "old" had a server active a second ago: not an idle user.
  CHECK(as_set(deleted) == std::set<std::string>{"gone-quiet"});
  CHECK(report.deleted_users == deleted);
}
