#include "culler/culler.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

#include "hub/spawner.hpp"
#include "spawner/http_probe.hpp"

namespace hub {

using Clock = std::chrono::system_clock;

std::optional<Clock::time_point> parse_iso8601_utc(const std::string& text) {
  int y, mo, d, h, mi, s;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6)
    return std::nullopt;
  std::string rest = text.substr(static_cast<std::size_t>(consumed));
  double fraction = 0;
  if (!rest.empty() && rest[0] == '.') {
    std::size_t i = 1;
    double scale = 0.1;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
      fraction += (rest[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    rest = rest.substr(i);
  }
  if (rest != "Z" && rest != "+00:00" && rest != "") return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  time_t t = ::timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return Clock::from_time_t(t) +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(fraction));
}

Culler::Culler(Spawner& spawner, std::function<CullConfig()> config, Hooks hooks)
    : spawner_(spawner), config_(std::move(config)), hooks_(std::move(hooks)) {}

Culler::~Culler() { stop(); }

void Culler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Culler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Culler::loop() {
  for (;;) {
    auto cfg = config_();
    {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, std::chrono::seconds(std::max(1, cfg.every)), [&] { return stopping_; });
      if (stopping_) return;
    }
    cfg = config_();
    if (!cfg.enabled) continue;
    try {
      run_once();
    } catch (const std::exception& e) {
      if (hooks_.log) hooks_.log(std::string("culler: pass failed: ") + e.what());
    }
  }
}

CullReport Culler::run_once(Clock::time_point now) {
  CullReport report;
  auto cfg = config_();
  auto timeout = std::chrono::seconds(cfg.timeout);
  std::vector<std::string> to_stop;
  for (const auto& s : spawner_.list()) {
    if (s.state != ServerState::running) continue;
    if (cfg.max_age > 0 && now - s.started > std::chrono::seconds(cfg.max_age)) {
      to_stop.push_back(s.user);
      report.stopped_age.push_back(s.user);
      continue;
    }
    if (cfg.timeout <= 0 || now - s.last_activity <= timeout) continue;
    // The proxy saw nothing lately; ask the server, whose clock counts
    // kernels that are busy without a browser attached.
    auto status = spawner::http_get(s.port, s.url_prefix + "api/status", s.token, std::chrono::seconds(10));
    if (status.status == 200) {
      try {
        auto j = nlohmann::json::parse(status.body);
        if (j.contains("last_activity") && j["last_activity"].is_string()) {
          auto reported = parse_iso8601_utc(j["last_activity"].get<std::string>());
          if (reported && *reported > s.last_activity) {
            spawner_.note_activity(s.user, *reported);
            if (now - *reported <= timeout) continue;
          }
        }
      } catch (const nlohmann::json::exception&) {
      }
    }
    to_stop.push_back(s.user);
    report.stopped_idle.push_back(s.user);
  }
  std::size_t batch = static_cast<std::size_t>(std::max(1, cfg.concurrency));
  for (std::size_t i = 0; i < to_stop.size(); i += batch) {
    std::vector<std::string> started;
    for (std::size_t j = i; j < std::min(to_stop.size(), i + batch); ++j) {
      if (spawner_.stop(to_stop[j])) started.push_back(to_stop[j]);
      if (hooks_.log) hooks_.log("culler: stopping the server of " + to_stop[j]);
    }
    for (const auto& name : started) spawner_.wait_until_stopped(name, std::chrono::seconds(60));
  }
  if (cfg.users && hooks_.list_users && hooks_.delete_user) {
    for (const auto& u : hooks_.list_users()) {
      if (u.admin || now - u.last_activity <= timeout) continue;
      auto server = spawner_.find(u.name);
      if (server && server->state != ServerState::stopped) continue;
      if (server && now - server->last_activity <= timeout) continue;
      if (hooks_.log) hooks_.log("culler: deleting idle user " + u.name);
      hooks_.delete_user(u.name);
      report.deleted_users.push_back(u.name);
    }
  }
  return report;
}

}  // namespace hub
