// A stand-in for the hub process in spawner tests: drives hub::Spawner from
// commands on stdin and answers each with one JSON line on stdout.  Killing
// it with SIGKILL and starting it again on the same database is exactly a hub
// crash and restart, as far as user servers are concerned.
//
//   spawner_driver --prefix P [--mode local|system] [--db FILE] [--memory BYTES]
//                  [--cpu N] [--timeout-ms N] [--cmd ARG]... [--default-app A]
//                  [--cgroup-base DIR|none] [--hub-api-url URL]
// Commands (one per line, words separated by spaces):
//   start NAME [admin]        stop NAME             adopt
//   wait NAME MS              wait_stopped NAME MS  info NAME
//   events NAME MS            states NAME           tail NAME
//   limits                    activity NAME         quit
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>
#include <condition_variable>

#include "hub/spawner.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

double secs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

json to_json(const hub::ServerInfo& i) {
  json j = {{"user", i.user},       {"state", hub::to_string(i.state)}, {"pid", i.pid},
            {"port", i.port},       {"token", i.token},                {"url_prefix", i.url_prefix},
            {"landing", i.landing}, {"unix_user", i.unix_user},        {"uid", i.uid},
            {"home", i.home},       {"log_path", i.log_path},          {"cgroup", i.cgroup},
            {"adopted", i.adopted}, {"started", secs(i.started)},      {"last_activity", secs(i.last_activity)}};
  j["ready_at"] = i.ready_at ? json(secs(*i.ready_at)) : json(nullptr);
  if (i.last_exit) {
    const auto& e = *i.last_exit;
    j["last_exit"] = {{"reason", e.reason},
                      {"requested", e.requested},
                      {"exit_code", e.exit_code ? json(*e.exit_code) : json(nullptr)},
                      {"term_signal", e.term_signal ? json(*e.term_signal) : json(nullptr)},
                      {"log_tail", e.log_tail}};
  } else {
    j["last_exit"] = nullptr;
  }
  return j;
}

json event_json(const hub::ProgressEvent& e) {
  return {{"progress", e.progress}, {"message", e.message}, {"ready", e.ready}, {"failed", e.failed}, {"url", e.url}};
}

}  // namespace

int main(int argc, char** argv) {
  hub::SpawnerOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--prefix") o.prefix = next();
    else if (a == "--mode") o.mode = next();
    else if (a == "--db") o.db_path = next();
    else if (a == "--memory") o.memory_limit_bytes = std::stoll(next());
    else if (a == "--cpu") o.cpu_limit = std::stod(next());
    else if (a == "--timeout-ms") o.start_timeout = std::chrono::milliseconds(std::stoll(next()));
    else if (a == "--cmd") o.cmd.push_back(next());
    else if (a == "--default-app") o.default_app = next();
    else if (a == "--cgroup-base") o.cgroup_base = next();
    else if (a == "--hub-api-url") o.hub_api_url = next();
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  std::mutex m;
  std::map<std::string, std::vector<std::string>> states;
  std::unique_ptr<hub::Spawner> spawner;
  try {
    spawner = std::make_unique<hub::Spawner>(o);
  } catch (const hub::SpawnerError& e) {
    std::cout << json{{"error", e.code()}, {"message", e.what()}}.dump() << std::endl;
    return 1;
  }
  spawner->set_listener([&](const hub::ServerInfo& i) {
    std::lock_guard lock(m);
    states[i.user].push_back(hub::to_string(i.state));
  });
  std::cout << json{{"ready", true}}.dump() << std::endl;

  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    std::string cmd, name, arg;
    in >> cmd >> name >> arg;
    json out;
    try {
      if (cmd == "start") {
        out["started"] = spawner->start({name, arg == "admin"});
      } else if (cmd == "stop") {
        out["stopping"] = spawner->stop(name);
      } else if (cmd == "adopt") {
        auto r = spawner->adopt();
        out = {{"adopted", r.adopted}, {"forgotten", r.forgotten}};
      } else if (cmd == "wait") {
        auto i = spawner->wait_until_settled(name, std::chrono::milliseconds(std::stoll(arg)));
        out = i ? to_json(*i) : json(nullptr);
      } else if (cmd == "wait_stopped") {
        out["stopped"] = spawner->wait_until_stopped(name, std::chrono::milliseconds(std::stoll(arg)));
      } else if (cmd == "info") {
        auto i = spawner->find(name);
        out = i ? to_json(*i) : json(nullptr);
      } else if (cmd == "events") {
        std::mutex em;
        std::condition_variable cv;
        json events = json::array();
        bool done = false;
        auto sub = spawner->subscribe_progress(name, [&](const hub::ProgressEvent& e) {
          std::lock_guard lock(em);
          events.push_back(event_json(e));
          if (e.ready || e.failed) done = true;
          cv.notify_all();
        });
        if (sub) {
          std::unique_lock lock(em);
          cv.wait_for(lock, std::chrono::milliseconds(std::stoll(arg)), [&] { return done; });
        }
        sub.reset();
        out = {{"subscribed", sub != nullptr || !events.empty()}, {"events", events}};
      } else if (cmd == "states") {
        std::lock_guard lock(m);
        out["states"] = states[name];
      } else if (cmd == "tail") {
        out["tail"] = spawner->log_tail(name);
      } else if (cmd == "limits") {
        const auto& l = spawner->limits();
        out = {{"mechanism", l.mechanism}, {"memory", l.memory}, {"cpu", l.cpu}, {"detail", l.detail},
               {"cgroup_base", l.cgroup_base}};
      } else if (cmd == "activity") {
        spawner->note_activity(name);
        out["ok"] = true;
      } else if (cmd == "quit") {
        break;
      } else {
        out = {{"error", "usage"}, {"message", "unknown command " + cmd}};
      }
    } catch (const hub::SpawnerError& e) {
      out = {{"error", e.code()}, {"message", e.what()}};
    } catch (const std::exception& e) {
      out = {{"error", "unknown"}, {"message", e.what()}};
    }
    std::cout << out.dump() << std::endl;
  }
  return 0;
}
