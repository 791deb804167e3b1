#pragma once
// The hub's side of a git-pull click: runs the sync of one student's folder
// on a bounded pool, streams its events to every browser tab that asks, and
// records the outcome in the `pulls` table.
//
//   service.attach(who, params, stream);   // from the SSE handler
//
// One PullJob per (user, folder) at a time: a second tab or click for the
// same folder attaches to the running job's stream (the events sent so far
// are replayed, then live ones follow) instead of starting another sync.
// Events are nbgitpuller's shape, each sent once per stream:
//   {"phase":"syncing","output":"...","progress":{...}}   (progress optional)
//   {"phase":"finished","output":"...","report":{...}}
//   {"phase":"error","message":"...","output":"...","error":{"code","message"}}
//
// Where the files come from: the hub's mirror cache (P/state/mirrors, shared
// with `coursehub pull --prefix P` through its lock files; one upstream
// download per burst, every sync still lists upstream's refs) using the
// stored credentials (P/state/credentials.json).  Who writes them:
//   spawner.mode local   this process, into P/home/<name>;
//   spawner.mode system  a worker process, `coursehub pull --json
//                        --from-mirror`, running as the student's unix
//                        account (uid, gid, groups, no_new_privs), which
//                        reads the mirror and never sees a credential.
//
// Thread-safety: all members are thread-safe; attach() does not block (the
// work is posted to the service's own pool).
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gitpull/link.hpp"
#include "gitpuller/credentials.hpp"
#include "gitpuller/mirror_cache.hpp"
#include "util/worker_pool.hpp"

namespace hub {
class App;
struct Identity;
namespace http {
class EventStream;
}
}  // namespace hub

namespace hub::gitpull {

class SourcePolicy;

// One running sync and the streams following it.
class PullJob {
 public:
  // Replays the events so far, then follows; a finished job replays its
  // last event and closes the stream.
  void attach(const std::shared_ptr<http::EventStream>& stream);
  // A syncing event.  A progress tick of the same stage as the previous
  // recorded event replaces it in the replay history (live streams get both).
  void publish(const nlohmann::json& event);
  // The last event (finished or error); closes every stream.
  void finish(const nlohmann::json& event);
  bool done() const;

 private:
  mutable std::mutex mutex_;
  std::vector<nlohmann::json> history_;
  std::vector<std::shared_ptr<http::EventStream>> streams_;
  bool done_ = false;
};

class PullService {
 public:
  // Creates the mirror root and, in system mode, makes P/state traversable
  // (0711) for the workers, with the hub's database files kept 0600.
  explicit PullService(App& app);
  ~PullService();

  // Starts (or joins) the sync of `params.targetpath` for `who` and attaches
  // `stream` to it.
  void attach(const Identity& who, const LinkParams& params, const std::shared_ptr<http::EventStream>& stream);

  // The hub's mirror cache and credential store (for the admin pages).
  gitpuller::MirrorCache& mirror() { return mirror_; }
  gitpuller::CredentialStore& credentials() { return credentials_; }

  // Reconfigure after a reload (allowed_sources).
  void reconfigure();

  // Rows left 'running' by a hub that stopped mid-sync become errors with
  // code 'interrupted'.  At start, on a worker thread.
  void mark_interrupted();

  // Syncs started but not finished; for diagnostics.
  std::size_t running() const;

  void shutdown();

 private:
  struct Home {
    std::filesystem::path dir;
    std::optional<unsigned> uid, gid;
    std::vector<unsigned> groups;
  };
  void run(std::shared_ptr<PullJob> job, std::string key, std::int64_t user_id, std::string user, bool admin,
           LinkParams params);
  Home home_of(const std::string& user, bool admin) const;

  App& app_;
  // The hub's own (App::credentials(), App::mirrors()), shared with the
  // course pages so cache stats and credential records stay in one place.
  gitpuller::CredentialStore& credentials_;
  gitpuller::MirrorCache& mirror_;
  WorkerPool pool_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<PullJob>> jobs_;
  std::shared_ptr<const SourcePolicy> policy_;
};

}  // namespace hub::gitpull
