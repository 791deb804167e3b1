#include "gitpull/pull_service.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <system_error>

#include "app.hpp"
#include "auth/auth.hpp"
#include "common/process.hpp"
#include "common/sqlite.hpp"
#include "common/time_util.hpp"
#include "gitpull/source_policy.hpp"
#include "gitpuller/json.hpp"
#include "gitpuller/sync.hpp"
#include "gitpuller/target_path.hpp"
#include "gitpuller/url.hpp"
#include "hub/spawner.hpp"
#include "http/handler.hpp"
#include "spawner/accounts.hpp"
#include "util/log.hpp"

namespace hub::gitpull {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using gitpuller::ErrorCode;
using gitpuller::SyncError;

// How often a progress bar of one stage is redrawn on the page.
constexpr auto kTickInterval = std::chrono::milliseconds(100);

json to_plain(const nlohmann::ordered_json& j) { return json::parse(j.dump()); }

// Drops progress ticks that come faster than the page can show them; the
// last tick of a stage (done == total) always passes.
class Throttle {
 public:
  bool pass(const gitpuller::SyncEvent& e) {
    if (!e.progress) return true;
    const auto& p = *e.progress;
    bool final = (p.files_total && p.files_done >= p.files_total) ||
                 (p.objects_total && p.objects_received >= p.objects_total) || (!p.files_total && !p.objects_total);
    auto now = std::chrono::steady_clock::now();
    auto& last = last_[static_cast<int>(p.stage)];
    if (!final && last.time_since_epoch().count() != 0 && now - last < kTickInterval) return false;
    last = now;
    return true;
  }

 private:
  std::map<int, std::chrono::steady_clock::time_point> last_;
};

json error_event(std::string_view code, const std::string& message) {
  json e = to_plain(gitpuller::event_to_json(gitpuller::SyncEvent::failed(ErrorCode::unknown, message)));
  e["error"]["code"] = std::string(code);
  e["message"] = message;  // nbgitpuller's pages read data.message
  return e;
}

std::string relative_to(const fs::path& p, const fs::path& home) {
  if (gitpuller::path_is_within(p, home)) return p.lexically_relative(home).generic_string();
  return p.generic_string();
}

// The worker is this very binary.  Exec'ing it through /proc/self/exe needs
// no permission on the folders above the binary (the student may not be
// allowed to walk to a coursehub built in root's home), only its x bit.
std::string self_exe() { return "/proc/self/exe"; }

}  // namespace

void PullJob::attach(const std::shared_ptr<http::EventStream>& stream) {
  std::lock_guard lock(mutex_);
  for (const auto& e : history_) stream->send(e);
  if (done_) {
    stream->close();
    return;
  }
  streams_.push_back(stream);
}

void PullJob::publish(const json& event) {
  std::lock_guard lock(mutex_);
  if (done_) return;
  bool is_tick = event.contains("progress");
  if (is_tick && !history_.empty() && history_.back().contains("progress") &&
      history_.back()["progress"].value("stage", "") == event["progress"].value("stage", ""))
    history_.back() = event;
  else
    history_.push_back(event);
  std::erase_if(streams_, [](const auto& s) { return s->closed(); });
  for (const auto& s : streams_) s->send(event);
}

void PullJob::finish(const json& event) {
  std::vector<std::shared_ptr<http::EventStream>> streams;
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
    history_.push_back(event);
    streams.swap(streams_);
    for (const auto& s : streams) {
      s->send(event);
      s->close();
    }
  }
}

bool PullJob::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

PullService::PullService(App& app)
    : app_(app),
      credentials_(app.credentials()),
      mirror_(app.mirrors()),
      pool_("gitpull", std::max(2u, std::thread::hardware_concurrency() * 2)) {
  reconfigure();
  if (app.config()->spawner_mode == "system") {
    // Workers run as students and read the mirrors: they must be able to
    // pass through P/state, whose secrets stay readable by the hub only.
    std::error_code ec;
    fs::permissions(app.state_dir(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
    for (const char* f : {"hub.sqlite", "hub.sqlite-wal", "hub.sqlite-shm", "cookie_secret"})
      fs::permissions(fs::path(app.state_dir()) / f, fs::perms::owner_read | fs::perms::owner_write, ec);
  }
}

PullService::~PullService() { shutdown(); }

void PullService::mark_interrupted() {
  auto st = app_.db().prepare(
      "UPDATE pulls SET outcome='error', error_code='interrupted', "
      "error_message='The hub stopped during this sync.', finished=? WHERE finished IS NULL");
  st.bind(1, common::unix_seconds());
  st.run();
}

void PullService::shutdown() { pool_.stop(); }

void PullService::reconfigure() {
  auto policy = std::make_shared<const SourcePolicy>(app_.config()->gitpuller_allowed_sources);
  for (const auto& bad : policy->bad_entries())
    log::warning("gitpuller.allowed_sources: ignoring '" + bad + "': not an http(s):// or file:// URL prefix or an absolute path");
  set_guard_policy(policy);
  std::lock_guard lock(mutex_);
  policy_ = std::move(policy);
}

std::size_t PullService::running() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void PullService::attach(const Identity& who, const LinkParams& params,
                         const std::shared_ptr<http::EventStream>& stream) {
  // One job per user and folder as written in the link ("course", "course/"
  // and "./course" are the same folder).
  std::string folder;
  for (const auto& part : fs::path(params.targetpath).lexically_normal())
    if (!part.empty() && part != ".") folder += "/" + part.string();
  std::string key = who.name + "\n" + folder;
  std::shared_ptr<PullJob> job;
  bool fresh = false;
  {
    std::lock_guard lock(mutex_);
    auto& slot = jobs_[key];
    if (!slot) {
      slot = std::make_shared<PullJob>();
      fresh = true;
    }
    job = slot;
  }
  job->attach(stream);
  if (fresh)
    pool_.post([this, job, key, id = who.user_id, name = who.name, admin = who.admin, params] {
      run(job, key, id, name, admin, params);
    });
}

PullService::Home PullService::home_of(const std::string& user, bool admin) const {
  Home h;
  if (app_.config()->spawner_mode == "system") {
    auto account = spawner::ensure_account(system_username(user), admin, "/home");
    h.dir = account.home;
    h.uid = account.uid;
    h.gid = account.gid;
    for (auto g : account.groups) h.groups.push_back(g);
    return h;
  }
  fs::path root = fs::path(app_.prefix()) / "home";
  std::error_code ec;
  fs::create_directories(root, ec);
  h.dir = root / user;
  if (::mkdir(h.dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create " + h.dir.string() + ": " + std::strerror(errno));
  return h;
}

void PullService::run(std::shared_ptr<PullJob> job, std::string key, std::int64_t user_id, std::string user,
                      bool admin, LinkParams params) {
  const double started = common::unix_seconds();
  std::int64_t row = 0;
  const std::string repo_shown = gitpuller::strip_userinfo(params.repo);
  try {
    auto& db = app_.db();
    auto st = db.prepare(
        "INSERT INTO pulls (user_id, user_name, repo, repo_key, branch, target, started) VALUES (?,?,?,?,?,?,?)");
    st.bind(1, user_id).bind(2, user).bind(3, repo_shown).bind(4, gitpuller::repo_key(repo_shown));
    st.bind(5, params.branch.value_or("")).bind(6, params.targetpath).bind(7, started);
    st.run();
    row = db.last_insert_rowid();
  } catch (const std::exception& e) {
    log::error("git-pull: cannot record the pull of " + repo_shown + " for " + user + ": " + e.what());
  }

  Throttle throttle;
  auto on_event = [&](const gitpuller::SyncEvent& e) {
    if (e.phase != gitpuller::Phase::syncing || !throttle.pass(e)) return;
    job->publish(to_plain(gitpuller::event_to_json(e)));
  };

  std::optional<gitpuller::SyncReport> report;
  std::string code, message;
  std::optional<std::string> backup_rel;
  Home home;
  try {
    std::shared_ptr<const SourcePolicy> policy;
    {
      std::lock_guard lock(mutex_);
      policy = policy_;
    }
    if (auto refusal = policy->check(params.repo)) {
      code = "source_refused";
      message = *refusal;
      throw std::runtime_error("refused");
    }
    if (auto bad = check_targetpath(params.targetpath)) throw SyncError(ErrorCode::target_invalid, *bad);
    home = home_of(user, admin);
    const fs::path dir = gitpuller::resolve_in_home(home.dir, params.targetpath);
    const gitpuller::RepoUrl url = gitpuller::parse_repo_url(params.repo);

    if (!home.uid) {
      gitpuller::SyncOptions options;
      options.mirror = &mirror_;
      options.on_event = on_event;
      gitpuller::SyncRequest request{params.repo, dir, params.branch};
      request.backup_first = params.backup;  // the engine moves the clone aside (report.backup_dir)
      report = gitpuller::sync(request, options);
    } else {
      std::error_code ec;
      const bool fresh = !fs::exists(fs::symlink_status(dir, ec)) || params.backup;
      gitpuller::MirrorSnapshot snap = mirror_.refresh(url, on_event, fresh ? ErrorCode::clone : ErrorCode::fetch);
      if (fresh) {
        auto resolved = params.branch ? snap.refs.resolve(*params.branch) : snap.refs.resolve_default();
        if (resolved) mirror_.prepare_snapshot(url, resolved->commit);
      }
      std::vector<std::string> argv = {self_exe(), "pull", "--json", "--from-mirror", snap.path.string()};
      if (params.branch) argv.insert(argv.end(), {"--branch", *params.branch});
      if (params.backup) argv.push_back("--backup");
      argv.insert(argv.end(), {url.clean, dir.string()});
      common::ProcessOptions po;
      po.clear_env = true;
      po.env = {{"HOME", home.dir.string()}, {"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}};
      po.cwd = home.dir.string();
      po.run_as = common::ProcessOptions::RunAs{*home.uid, *home.gid, {}};
      for (auto g : home.groups) po.run_as->groups.push_back(g);
      po.timeout = std::chrono::minutes(30);
      std::optional<gitpuller::SyncEvent> last;
      po.on_line = [&](const std::string& line) {
        gitpuller::SyncEvent e;
        try {
          e = gitpuller::event_from_line(line);
        } catch (const std::exception&) {
          return;
        }
        if (e.phase == gitpuller::Phase::syncing) {
          on_event(e);
        } else {
          last = e;
        }
      };
      auto result = common::run_process(argv, po);
      if (last && last->report) {
        report = *last->report;
      } else if (last && last->error) {
        throw SyncError(last->error->code, last->error->message);
      } else {
        log::error("git-pull worker for " + user + " ended without a result (status " +
                   std::to_string(result.exit_code) + "): " + result.err.substr(0, 2000));
        throw SyncError(ErrorCode::unknown, "The sync stopped unexpectedly. Try again; if it keeps failing, tell your instructor.");
      }
    }
  } catch (const SyncError& e) {
    code = std::string(gitpuller::to_string(e.code()));
    message = e.what();
    if (e.code() == ErrorCode::auth) {
      std::optional<gitpuller::CredentialInfo> cred;
      try {
        cred = credentials_.info_for(params.repo);
      } catch (const std::exception&) {
      }
      message = cred ? "This course's access to its repository is broken: tell your instructor."
                     : "This repository is private (or does not exist), and the hub has no access to it: tell your instructor.";
      log::warning("git-pull: " + user + ": " + repo_shown + ": access refused by upstream (" +
                (cred ? "stored credential for " + cred->prefix + " rejected or expired" : "no stored credential") + ")");
    }
  } catch (const std::exception& e) {
    if (code.empty()) {
      code = "unknown";
      message = "The sync could not run. Try again; if it keeps failing, tell your instructor.";
      log::error("git-pull: " + user + ": " + repo_shown + ": " + e.what());
    }
  }

  json last;
  if (report) {
    if (report->backup_dir) backup_rel = relative_to(*report->backup_dir, home.dir);
    last = to_plain(gitpuller::event_to_json(gitpuller::SyncEvent::finished(*report)));
    if (backup_rel) last["backup"] = *backup_rel;
    log::info("git-pull: " + user + ": " + repo_shown + " -> " + params.targetpath + ": " +
              std::string(gitpuller::to_string(report->outcome)) + " " + report->commit.substr(0, 10));
  } else {
    last = error_event(code, message);
    log::warning("git-pull: " + user + ": " + repo_shown + " -> " + params.targetpath + ": error " + code + ": " + message);
  }

  if (row) {
    try {
      auto st = app_.db().prepare(
          "UPDATE pulls SET commit_id=?, upstream_commit=?, outcome=?, error_code=?, error_message=?, files_kept=?, "
          "backup=?, finished=? WHERE id=?");
      if (report) {
        st.bind(1, report->commit).bind(2, report->upstream_commit).bind(3, gitpuller::to_string(report->outcome));
        st.bind_null(4).bind_null(5).bind(6, json(report->files_kept_local).dump());
      } else {
        st.bind_null(1).bind_null(2).bind(3, "error").bind(4, code).bind(5, message).bind(6, "[]");
      }
      st.bind(7, backup_rel).bind(8, common::unix_seconds()).bind(9, row);
      st.run();
    } catch (const std::exception& e) {
      log::error(std::string("git-pull: cannot record a pull's outcome: ") + e.what());
    }
  }

  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(key);
    if (it != jobs_.end() && it->second == job) jobs_.erase(it);
  }
  job->finish(last);
}

}  // namespace hub::gitpull
