#include "hub/spawner.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/process.hpp"
#include "hub/config.hpp"
#include "common/time_util.hpp"
#include "spawner/accounts.hpp"
#include "spawner/cgroup.hpp"
#include "spawner/http_probe.hpp"
#include "spawner/launch.hpp"
#include "spawner/proc.hpp"
#include "spawner/store.hpp"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace hub {

namespace sp = spawner;
using Clock = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

const char* to_string(ServerState s) {
  switch (s) {
    case ServerState::stopped: return "stopped";
    case ServerState::starting: return "starting";
    case ServerState::running: return "running";
    case ServerState::stopping: return "stopping";
  }
  return "unknown";
}

// The first `chars` hex digits of the SHA-256 of `text`.
std::string sha256_prefix(const std::string& text, std::size_t chars) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len && hex.size() < chars; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex.substr(0, chars);
}

std::string system_username(const std::string& hub_name) {
  std::string full = "jupyter-" + hub_name;
  std::vector<std::size_t> starts;  // byte offset of each code point
  for (std::size_t i = 0; i < full.size(); ++i)
    if ((static_cast<unsigned char>(full[i]) & 0xC0) != 0x80) starts.push_back(i);
  if (starts.size() < 26) return full;
  std::size_t cut = starts.size() > 26 ? starts[26] : full.size();
  return full.substr(0, cut) + "-" + sha256_prefix(full, 5);
}

namespace {

double to_unix(Clock::time_point t) { return common::unix_seconds(t); }
Clock::time_point from_unix(double s) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)));
}

// JupyterHub quotes user names in URLs with Python's quote(name, safe='@~').
std::string url_escape_name(const std::string& name) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// File names for logs and cgroups: the same escaping, '%' kept readable.
std::string file_safe(const std::string& name) {
  std::string e = url_escape_name(name);
  std::replace(e.begin(), e.end(), '%', '=');
  return e;
}

void validate_name(const std::string& name) {
  if (name.empty() || name.size() > 255) throw SpawnerError("invalid_name", "a user name must have 1 to 255 bytes");
  if (name[0] == '.' || name[0] == '-')
    throw SpawnerError("invalid_name", "a user name cannot start with '.' or '-': " + name);
  for (unsigned char c : name) {
    if (c == '/' || c < 0x20 || c == 0x7f)
      throw SpawnerError("invalid_name", "a user name cannot contain '/' or control characters");
  }
}

std::string random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw SpawnerError("spawn", "no randomness for the server token");
  static const char* kHex = "0123456789abcdef";
  std::string t;
  for (unsigned char b : bytes) {
    t += kHex[b >> 4];
    t += kHex[b & 15];
  }
  return t;
}

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw SpawnerError("spawn", std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int err = errno;
    ::close(s);
    throw SpawnerError("spawn", std::string("no free port: ") + std::strerror(err));
  }
  ::close(s);
  return ntohs(a.sin_port);
}

bool is_executable_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// Creates `path` with `mode` (parents that are missing get 0755).
void make_dirs(const std::string& path, mode_t mode) {
  std::string cur;
  std::istringstream in(path);
  for (std::string part; std::getline(in, part, '/');) {
    if (part.empty()) {
      if (cur.empty()) cur = "/";
      continue;
    }
    cur += (cur.empty() || cur.back() == '/' ? "" : "/") + part;
    bool last = cur.size() >= path.size() || path.find_first_not_of('/', cur.size()) == std::string::npos;
    if (::mkdir(cur.c_str(), last ? mode : 0755) != 0 && errno != EEXIST)
      throw SpawnerError("config", "cannot create " + cur + ": " + std::strerror(errno));
  }
}

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    auto size = static_cast<std::size_t>(st.st_size);
    std::size_t n = std::min(size, max_bytes);
    out.resize(n);
    ssize_t got = ::pread(fd, out.data(), n, static_cast<off_t>(size - n));
    out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    if (n < size) {
      auto nl = out.find('\n');
      if (nl != std::string::npos) out.erase(0, nl + 1);
    }
  }
  ::close(fd);
  return out;
}

std::string describe_exit(const std::optional<int>& code, const std::optional<int>& sig) {
  if (sig) return "killed by signal " + std::to_string(*sig) + " (" + strsignal(*sig) + ")";
  if (code) return "exited with status " + std::to_string(*code);
  return "exited";
}

LimitsInfo compute_limits(const sp::CgroupSupport& cgroups, const SpawnerOptions& o) {
  LimitsInfo l;
  const auto& mem = o.memory_limit_bytes;
  const auto& cpu = o.cpu_limit;
  l.detail = cgroups.reason;
  auto cpu_text = [](double c) {
    std::ostringstream s;
    s << c;
    return s.str();
  };
  if (cgroups.usable) {
    const bool v1 = cgroups.version == 1;
    l.mechanism = v1 ? "cgroup1" : "cgroup2";
    l.cgroup_base = cgroups.base + (cgroups.cpu_base.empty() ? "" : ", " + cgroups.cpu_base);
    l.memory = mem ? std::to_string(*mem) + " bytes via cgroup " + (v1 ? "v1 memory.limit_in_bytes" : "memory.max")
                   : "not limited";
    if (!cpu) l.cpu = "not limited";
    else if (cgroups.cpu) l.cpu = cpu_text(*cpu) + " CPU via cgroup " + (v1 ? "v1 cpu.cfs_quota_us" : "cpu.max");
    else l.cpu = std::string("not enforced (no usable cpu controller in cgroup ") + (v1 ? "v1)" : "v2)");
  } else {
    l.mechanism = mem || cpu ? "rlimit" : "none";
    l.memory = mem ? std::to_string(*mem) + " bytes per process via RLIMIT_DATA" : "not limited";
    l.cpu = cpu ? "not enforced (needs cgroups)" : "not limited";
  }
  return l;
}

struct FdGuard {
  int fd = -1;
  explicit FdGuard(int f = -1) : fd(f) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

// The events of one start and who follows them.
struct Progress {
  struct Sub {
    std::function<void(const ProgressEvent&)> fn;
    bool alive = true;
  };
  std::recursive_mutex m;
  std::vector<ProgressEvent> events;
  std::list<std::shared_ptr<Sub>> subs;
  bool done = false;

  void emit(const ProgressEvent& ev) {
    std::lock_guard lock(m);
    if (done) return;
    events.push_back(ev);
    if (ev.ready || ev.failed) done = true;
    std::vector<std::shared_ptr<Sub>> snapshot(subs.begin(), subs.end());
    for (auto& s : snapshot) {
      if (!s->alive) continue;
      try {
        s->fn(ev);
      } catch (...) {
      }
    }
  }
};

class SubscriptionImpl : public Spawner::Subscription {
 public:
  SubscriptionImpl(std::shared_ptr<Progress> p, std::shared_ptr<Progress::Sub> s)
      : progress_(std::move(p)), sub_(std::move(s)) {}
  ~SubscriptionImpl() override {
    std::lock_guard lock(progress_->m);
    sub_->alive = false;
    progress_->subs.remove(sub_);
  }

 private:
  std::shared_ptr<Progress> progress_;
  std::shared_ptr<Progress::Sub> sub_;
};

struct Server {
  std::string user;
  bool admin = false;
  ServerState state = ServerState::stopped;
  std::uint64_t version = 0;  // bumped on every state change, orders listener calls
  // The live process, when there is one.
  bool alive = false;
  pid_t pid = 0;
  int pidfd = -1;  // owned by the monitor while alive
  bool is_child = false;
  std::int64_t start_ticks = 0;
  int port = 0;
  std::string token;
  std::string url_prefix;
  std::string landing;
  std::string unix_user;
  uid_t uid = 0;
  bool system_account = false;
  std::string home;
  std::string log_path;
  std::string cgroup;
  bool adopted = false;
  Clock::time_point started{};
  std::optional<Clock::time_point> ready_at;
  Clock::time_point last_activity{};
  bool activity_dirty = false;
  std::vector<sp::ProcRef> leftovers;  // local mode: processes to kill once the server has exited
  // Coordination with the one operation thread (start or stop) of this server.
  bool op_running = false;
  bool cancel = false;  // stop() during a start
  std::optional<UserSpec> restart;  // start() during a stop
  std::optional<ServerExit> pending_exit;  // set by the monitor for the operation thread
  std::optional<ServerExit> last_exit;
  std::shared_ptr<Progress> progress;
};

}  // namespace

class Spawner::Impl {
 public:
  explicit Impl(SpawnerOptions o);
  ~Impl();

  AdoptReport adopt(std::chrono::milliseconds answer_timeout);
  bool start(const UserSpec& user);
  bool stop(const std::string& user);
  std::optional<ServerInfo> find(const std::string& user) const;
  std::vector<ServerInfo> list() const;
  std::optional<ServerRoute> route(const std::string& user) const;
  std::unique_ptr<Subscription> subscribe(const std::string& user, std::function<void(const ProgressEvent&)> fn);
  void note_activity(const std::string& user, Clock::time_point when);
  std::string log_tail(const std::string& user, std::size_t max_bytes) const;
  std::optional<ServerInfo> wait_settled(const std::string& user, std::chrono::milliseconds timeout);
  bool wait_stopped(const std::string& user, std::chrono::milliseconds timeout);

  void reconfigure(const SpawnerOptions& o);
  LimitsInfo limits() const {
    std::lock_guard lock(mutex_);
    return limits_;
  }
  SpawnerOptions options() const {
    std::lock_guard lock(mutex_);
    return options_;
  }

  std::function<void(const ServerInfo&)> listener_;
  SpawnerOptions options_;  // guarded by mutex_ after construction
  LimitsInfo limits_;       // guarded by mutex_

 private:
  struct Command {
    std::string executable;
    std::vector<std::string> argv;
  };
  enum class WaitOutcome { ready, died, timed_out, cancelled, abandoned };

  ServerInfo snapshot(const Server& s) const;
  std::shared_ptr<Server> get(const std::string& user) const;
  std::shared_ptr<Server> get_or_create(const std::string& user);
  void changed(Server& s, std::unique_lock<std::mutex>& lock);  // bumps version, notifies (unlocks)
  void spawn_op(std::function<void()> fn);
  void finish_op(const std::shared_ptr<Server>& s);

  void run_start(std::shared_ptr<Server> s, UserSpec spec);
  void run_stop(std::shared_ptr<Server> s);
  void fail_start(const std::shared_ptr<Server>& s, const std::string& message, std::optional<ServerExit> ex);
  WaitOutcome wait_ready(const std::shared_ptr<Server>& s, int pidfd, Steady::time_point deadline);
  // Stops the live process of `s` (SIGTERM, grace, SIGKILL) and waits for the
  // monitor to see it exit; returns the exit record (nullopt on shutdown).
  std::optional<ServerExit> terminate(const std::shared_ptr<Server>& s, int pidfd);
  std::optional<ServerExit> take_exit(const std::shared_ptr<Server>& s, std::chrono::milliseconds timeout);

  Command resolve_command(const SpawnerOptions& o);
  std::string landing_for(const Command& cmd, int port, const std::string& prefix, const std::string& token,
                          const std::string& default_app);
  std::string url_prefix(const std::string& user) const;

  void monitor_loop();
  void wake_monitor();
  void on_exit(const std::string& user, int pidfd);
  void cleanup_after_exit(const std::string& cgroup, bool system_account, uid_t uid,
                          const std::vector<sp::ProcRef>& leftovers);
  void flush_activity();

  template <class F>
  auto with_db(F&& f) {
    std::lock_guard lock(db_mutex_);
    return f(*store_);
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Server>> servers_;
  std::map<int, std::string> watches_;  // pidfd → user, read by the monitor
  bool shutting_down_ = false;
  int active_ops_ = 0;

  std::mutex listener_mutex_;
  std::map<std::string, std::uint64_t> delivered_;
  // Per user, the last state version the listener has returned from (under
  // mutex_): the waits count a state as reached only once it was heard.
  std::map<std::string, std::uint64_t> heard_;
  bool heard(const Server& s) const;  // under mutex_

  std::mutex db_mutex_;
  std::unique_ptr<sp::Store> store_;

  sp::CgroupSupport cgroups_;
  std::mutex command_mutex_;
  std::map<std::string, std::string> landing_cache_;  // command → landing
  std::set<std::string> pythons_with_server_;
  std::mutex cleanup_mutex_;
  std::vector<std::string> pending_cgroup_removals_;  // retried by the monitor

  int wake_fd_ = -1;
  std::thread monitor_;
};

Spawner::Impl::Impl(SpawnerOptions o) : options_(std::move(o)) {
  if (options_.mode != "local" && options_.mode != "system")
    throw SpawnerError("config", "spawner.mode must be local or system, not '" + options_.mode + "'");
  if (options_.mode == "system" && ::geteuid() != 0)
    throw SpawnerError("config", "spawner.mode system needs the hub to run as root");
  if (options_.base_url.empty() || options_.base_url.back() != '/') options_.base_url += '/';
  if (options_.base_url.front() != '/') options_.base_url.insert(options_.base_url.begin(), '/');
  if (options_.log_dir.empty()) {
    make_dirs(options_.prefix + "/state", 0700);  // the hub's state folder: private
    options_.log_dir = options_.prefix + "/state/servers";
  }
  if (options_.home_root.empty()) options_.home_root = options_.prefix + "/home";
  if (options_.db_path.empty()) options_.db_path = options_.prefix + "/state/hub.sqlite";
  make_dirs(options_.log_dir, 0700);
  try {
    store_ = std::make_unique<sp::Store>(options_.db_path);
    for (auto& row : store_->exits()) {
      auto s = std::make_shared<Server>();
      s->user = row.user;
      ServerExit ex;
      ex.at = from_unix(row.at);
      ex.exit_code = row.exit_code;
      ex.term_signal = row.term_signal;
      ex.requested = row.requested;
      ex.reason = row.reason;
      ex.log_tail = row.log_tail;
      s->last_exit = ex;
      servers_[row.user] = s;
    }
  } catch (const common::SqliteError& e) {
    throw SpawnerError("database", std::string("spawner database: ") + e.what());
  }

  if (options_.cgroup_base != "none") cgroups_ = sp::detect_cgroup_support(options_.cgroup_base);
  else cgroups_.reason = "cgroups disabled by configuration";
  limits_ = compute_limits(cgroups_, options_);

  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw SpawnerError("config", std::string("eventfd: ") + std::strerror(errno));
  monitor_ = std::thread([this] { monitor_loop(); });
}

Spawner::Impl::~Impl() {
  {
    std::unique_lock lock(mutex_);
    shutting_down_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return active_ops_ == 0; });
  }
  wake_monitor();
  if (monitor_.joinable()) monitor_.join();
  try {
    flush_activity();
  } catch (...) {
  }
  for (auto& [fd, user] : watches_) ::close(fd);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Spawner::Impl::reconfigure(const SpawnerOptions& o) {
  std::lock_guard lock(mutex_);
  bool cmd_changed = options_.cmd != o.cmd;
  options_.cmd = o.cmd;
  options_.start_timeout = o.start_timeout;
  options_.stop_grace = o.stop_grace;
  options_.memory_limit_bytes = o.memory_limit_bytes;
  options_.cpu_limit = o.cpu_limit;
  options_.default_app = o.default_app;
  options_.hub_api_url = o.hub_api_url;
  limits_ = compute_limits(cgroups_, options_);
  if (cmd_changed) {
    std::lock_guard c(command_mutex_);
    landing_cache_.clear();
  }
}

std::string Spawner::Impl::url_prefix(const std::string& user) const {
  return options_.base_url + "user/" + url_escape_name(user) + "/";
}

ServerInfo Spawner::Impl::snapshot(const Server& s) const {
  ServerInfo i;
  i.user = s.user;
  i.state = s.state;
  if (s.alive || s.state != ServerState::stopped) {
    i.pid = s.pid;
    i.port = s.port;
    i.token = s.token;
    i.url_prefix = s.url_prefix;
    i.landing = s.landing;
    i.unix_user = s.unix_user;
    i.uid = s.uid;
    i.home = s.home;
    i.cgroup = s.cgroup;
    i.adopted = s.adopted;
    i.started = s.started;
    i.ready_at = s.ready_at;
  } else {
    i.url_prefix = url_prefix(s.user);
  }
  i.log_path = s.log_path;
  i.last_activity = s.last_activity;
  i.last_exit = s.last_exit;
  return i;
}

std::shared_ptr<Server> Spawner::Impl::get(const std::string& user) const {
  auto it = servers_.find(user);
  return it == servers_.end() ? nullptr : it->second;
}

std::shared_ptr<Server> Spawner::Impl::get_or_create(const std::string& user) {
  auto& slot = servers_[user];
  if (!slot) {
    slot = std::make_shared<Server>();
    slot->user = user;
  }
  return slot;
}

void Spawner::Impl::changed(Server& s, std::unique_lock<std::mutex>& lock) {
  std::uint64_t version = ++s.version;
  ServerInfo info = snapshot(s);
  if (!listener_) {
    heard_[s.user] = version;
    cv_.notify_all();
    lock.unlock();
    return;
  }
  cv_.notify_all();
  lock.unlock();
  {
    std::lock_guard l(listener_mutex_);
    auto& last = delivered_[info.user];
    if (version > last) {
      last = version;
      try {
        listener_(info);
      } catch (...) {
      }
    }
  }
  // Only now do wait_settled()/wait_stopped() see this state: whoever waited
  // finds the listener's side (the hub's routes, a test's record) up to date.
  std::lock_guard again(mutex_);
  auto& heard = heard_[info.user];
  heard = std::max(heard, version);
  cv_.notify_all();
}

bool Spawner::Impl::heard(const Server& s) const {
  if (s.version == 0) return true;
  auto it = heard_.find(s.user);
  return it != heard_.end() && it->second >= s.version;
}

void Spawner::Impl::spawn_op(std::function<void()> fn) {
  // The caller has counted the operation in active_ops_ under mutex_.
  std::thread([this, fn = std::move(fn)] {
    try {
      fn();
    } catch (...) {
    }
    std::lock_guard lock(mutex_);
    --active_ops_;
    cv_.notify_all();
  }).detach();
}

void Spawner::Impl::finish_op(const std::shared_ptr<Server>& s) {
  std::unique_lock lock(mutex_);
  s->op_running = false;
  auto restart = std::move(s->restart);
  s->restart.reset();
  bool again = restart && s->state == ServerState::stopped && !shutting_down_;
  lock.unlock();
  if (again) start(*restart);
}

bool Spawner::Impl::start(const UserSpec& user) {
  validate_name(user.name);
  std::unique_lock lock(mutex_);
  if (shutting_down_) return false;
  auto s = get_or_create(user.name);
  switch (s->state) {
    case ServerState::running:
      return false;
    case ServerState::starting:
      return false;
    case ServerState::stopping:
      s->restart = user;
      return true;
    case ServerState::stopped:
      break;
  }
  if (s->op_running) {  // an operation is finishing; it restarts the server when done
    s->restart = user;
    return true;
  }
  s->state = ServerState::starting;
  s->admin = user.admin;
  s->cancel = false;
  s->op_running = true;
  s->pending_exit.reset();
  s->adopted = false;
  s->url_prefix = url_prefix(user.name);
  s->landing.clear();
  s->ready_at.reset();
  s->progress = std::make_shared<Progress>();
  ++active_ops_;
  changed(*s, lock);
  spawn_op([this, s, user] {
    run_start(s, user);
    finish_op(s);
  });
  return true;
}

bool Spawner::Impl::stop(const std::string& user) {
  std::unique_lock lock(mutex_);
  auto s = get(user);
  if (!s) return false;
  switch (s->state) {
    case ServerState::stopped:
      return false;
    case ServerState::stopping:
      s->restart.reset();
      return true;
    case ServerState::starting:
      s->cancel = true;
      s->restart.reset();
      s->state = ServerState::stopping;
      changed(*s, lock);
      return true;
    case ServerState::running:
      break;
  }
  if (shutting_down_) return false;
  s->state = ServerState::stopping;
  s->op_running = true;
  ++active_ops_;
  changed(*s, lock);
  spawn_op([this, s] {
    run_stop(s);
    finish_op(s);
  });
  return true;
}

std::optional<ServerInfo> Spawner::Impl::find(const std::string& user) const {
  std::lock_guard lock(mutex_);
  auto s = get(user);
  if (!s) return std::nullopt;
  return snapshot(*s);
}

std::optional<ServerRoute> Spawner::Impl::route(const std::string& user) const {
  std::lock_guard lock(mutex_);
  auto s = get(user);
  if (!s) return std::nullopt;
  ServerRoute r;
  r.state = s->state;
  if (s->state != ServerState::stopped) {
    r.port = s->port;
    r.token = s->token;
    r.url_prefix = s->url_prefix;
    r.landing = s->landing;
  }
  return r;
}

std::vector<ServerInfo> Spawner::Impl::list() const {
  std::lock_guard lock(mutex_);
  std::vector<ServerInfo> out;
  for (const auto& [name, s] : servers_) out.push_back(snapshot(*s));
  return out;
}

std::unique_ptr<Spawner::Subscription> Spawner::Impl::subscribe(const std::string& user,
                                                                 std::function<void(const ProgressEvent&)> fn) {
  std::shared_ptr<Progress> progress;
  ServerState state;
  std::string prefix;
  {
    std::lock_guard lock(mutex_);
    auto s = get(user);
    if (!s) return nullptr;
    progress = s->progress;
    state = s->state;
    prefix = s->url_prefix;
  }
  if (!progress) {
    if (state != ServerState::running) return nullptr;
    // Adopted: no start to replay, only its outcome.
    progress = std::make_shared<Progress>();
    ProgressEvent ev;
    ev.progress = 100;
    ev.ready = true;
    ev.url = prefix;
    ev.message = "Server ready at " + prefix;
    progress->emit(ev);
  }
  auto sub = std::make_shared<Progress::Sub>();
  sub->fn = std::move(fn);
  std::lock_guard lock(progress->m);
  for (const auto& ev : progress->events) sub->fn(ev);
  if (!progress->done) progress->subs.push_back(sub);
  else sub->alive = false;
  return std::make_unique<SubscriptionImpl>(progress, sub);
}

void Spawner::Impl::note_activity(const std::string& user, Clock::time_point when) {
  std::lock_guard lock(mutex_);
  auto s = get(user);
  if (!s || s->state == ServerState::stopped) return;
  if (when > s->last_activity) {
    s->last_activity = when;
    s->activity_dirty = true;
  }
}

std::string Spawner::Impl::log_tail(const std::string& user, std::size_t max_bytes) const {
  std::string path;
  {
    std::lock_guard lock(mutex_);
    auto s = get(user);
    if (!s) return {};
    path = s->log_path;
    if (path.empty() && s->last_exit) return s->last_exit->log_tail;
  }
  return path.empty() ? std::string() : read_tail(path, max_bytes);
}

std::optional<ServerInfo> Spawner::Impl::wait_settled(const std::string& user, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto settled = [&] {
    auto s = get(user);
    return !s || (heard(*s) && (s->state == ServerState::running ||
                                (s->state == ServerState::stopped && !s->op_running)));
  };
  cv_.wait_for(lock, timeout, settled);
  auto s = get(user);
  if (!s) return std::nullopt;
  return snapshot(*s);
}

bool Spawner::Impl::wait_stopped(const std::string& user, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] {
    auto s = get(user);
    return !s || (s->state == ServerState::stopped && !s->alive && !s->op_running && heard(*s));
  });
}

Spawner::Impl::Command Spawner::Impl::resolve_command(const SpawnerOptions& o) {
  std::string user_bin = o.prefix + "/user/bin";
  if (!o.cmd.empty()) {
    const std::string& prog = o.cmd[0];
    std::string exe;
    if (prog.find('/') != std::string::npos) {
      if (is_executable_file(prog)) exe = prog;
    } else {
      for (const std::string& dir : {user_bin, std::string("/usr/local/bin"), std::string("/usr/bin"),
                                    std::string("/bin")}) {
        if (is_executable_file(dir + "/" + prog)) {
          exe = dir + "/" + prog;
          break;
        }
      }
    }
    if (exe.empty()) throw SpawnerError("config", "spawner.cmd: program not found: " + prog);
    return {exe, o.cmd};
  }
  std::string lab = user_bin + "/jupyter-lab";
  if (is_executable_file(lab)) return {lab, {lab}};
  std::string python = user_bin + "/python";
  if (is_executable_file(python)) {
    bool has_server;
    {
      std::lock_guard lock(command_mutex_);
      has_server = pythons_with_server_.count(python) > 0;
    }
    if (!has_server) {
      common::ProcessOptions o;
      o.timeout = 60s;
      o.clear_env = true;
      o.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/nonexistent"}};
      try {
        has_server = common::run_process(
                         {python, "-c",
                          "import importlib.util, sys; sys.exit(importlib.util.find_spec('jupyter_server') is None)"},
                         o)
                         .ok();
      } catch (const common::ProcessError&) {
        has_server = false;
      }
      if (has_server) {
        std::lock_guard lock(command_mutex_);
        pythons_with_server_.insert(python);
      }
    }
    if (has_server) return {python, {python, "-m", "jupyter_server"}};
  }
  if (is_executable_file("/usr/bin/python3")) return {"/usr/bin/python3", {"/usr/bin/python3", "-m", "jupyter_server"}};
  throw SpawnerError("config", "no Jupyter server to run: install jupyterlab or jupyter_server into " +
                                   o.prefix + "/user, or Debian's python3-jupyter-server, or set spawner.cmd");
}

std::string Spawner::Impl::landing_for(const Command& cmd, int port, const std::string& prefix,
                                       const std::string& token, const std::string& default_app) {
  std::string key;
  for (const auto& a : cmd.argv) key += a + '\0';
  {
    std::lock_guard lock(command_mutex_);
    auto it = landing_cache_.find(key);
    if (it != landing_cache_.end()) return it->second;
  }
  std::vector<std::string> order = default_app == "classic" ? std::vector<std::string>{"tree", "lab"}
                                                                     : std::vector<std::string>{"lab", "tree"};
  std::string landing;
  for (const auto& p : order) {
    auto r = sp::http_get(port, prefix + p, token, 10s);
    if (r.status == 200) {
      landing = p;
      break;
    }
  }
  std::lock_guard lock(command_mutex_);
  landing_cache_[key] = landing;
  return landing;
}

void Spawner::Impl::fail_start(const std::shared_ptr<Server>& s, const std::string& message,
                               std::optional<ServerExit> ex) {
  ServerExit e = ex.value_or(ServerExit{});
  if (!ex) {
    e.at = Clock::now();
    e.reason = message;
  }
  std::shared_ptr<Progress> progress;
  std::string tail = e.log_tail;
  {
    std::unique_lock lock(mutex_);
    s->last_exit = e;
    s->state = ServerState::stopped;
    progress = s->progress;
    changed(*s, lock);
  }
  if (!ex) {
    try {
      sp::ExitRow row{s->user, to_unix(e.at), e.exit_code, e.term_signal, e.requested, e.reason, e.log_tail};
      with_db([&](sp::Store& st) { st.record_exit(row); });
    } catch (...) {
    }
  }
  ProgressEvent ev;
  ev.progress = 100;
  ev.failed = true;
  ev.message = "Spawn failed: " + message;
  if (progress) progress->emit(ev);
}

void Spawner::Impl::run_start(std::shared_ptr<Server> s, UserSpec spec) {
  auto progress = s->progress;
  auto emit = [&](int pct, std::string msg) {
    ProgressEvent ev;
    ev.progress = pct;
    ev.message = std::move(msg);
    progress->emit(ev);
  };
  SpawnerOptions o;
  {
    std::lock_guard lock(mutex_);
    o = options_;
  }
  const std::string prefix = url_prefix(spec.name);
  try {
    emit(0, "Server requested");
    // Identity and home.
    std::optional<sp::Identity> identity;
    std::string unix_user, home;
    uid_t uid = ::geteuid();
    bool system_account = o.mode == "system";
    if (system_account) {
      std::string account = system_username(spec.name);
      emit(10, "Preparing the unix account " + account);
      auto a = sp::ensure_account(account, spec.admin, o.system_home_root);
      identity = sp::Identity{a.uid, a.gid, a.groups};
      unix_user = a.name;
      home = a.home;
      uid = a.uid;
    } else {
      make_dirs(o.home_root, 0755);
      home = o.home_root + "/" + spec.name;
      if (::mkdir(home.c_str(), 0700) != 0 && errno != EEXIST)
        throw SpawnerError("spawn", "cannot create the home " + home + ": " + std::strerror(errno));
      passwd* pw = ::getpwuid(uid);
      unix_user = pw ? pw->pw_name : std::to_string(uid);
    }
    Command cmd = resolve_command(o);
    std::string cmd_key;
    for (const auto& a : cmd.argv) cmd_key += a + '\0';
    std::string preferred_landing;
    {
      std::lock_guard lock(command_mutex_);
      auto it = landing_cache_.find(cmd_key);
      preferred_landing = it != landing_cache_.end() ? it->second : (o.default_app == "classic" ? "tree" : "lab");
    }
    std::string log_path = o.log_dir + "/" + file_safe(spec.name) + ".log";

    for (int attempt = 1;; ++attempt) {
      {
        std::lock_guard lock(mutex_);
        if (s->cancel || shutting_down_) break;
      }
      int port = free_port();
      std::string token = random_token();
      ::rename(log_path.c_str(), (log_path + ".1").c_str());
      FdGuard log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
      if (log.fd < 0) throw SpawnerError("spawn", "cannot open the log " + log_path + ": " + std::strerror(errno));
      std::string head = "[coursehub] " + common::iso8601_utc() + " starting";
      for (const auto& a : cmd.argv) head += " " + a;
      head += " for " + spec.name + " as " + unix_user + " on port " + std::to_string(port) + "\n";
      (void)!::write(log.fd, head.data(), head.size());

      std::string cgroup;
      if (cgroups_.usable) {
        // Local-mode servers of two installations on one machine (two
        // prefixes) must not share a cgroup: one hub would kill the other's.
        std::string leaf = system_account ? unix_user : "user-" + file_safe(spec.name) + "." + sha256_prefix(o.prefix, 8);
        try {
          cgroup = sp::create_server_cgroup(cgroups_, leaf, o.memory_limit_bytes, o.cpu_limit);
        } catch (const std::exception& e) {
          throw SpawnerError("spawn", e.what());
        }
      }

      sp::LaunchSpec ls;
      ls.executable = cmd.executable;
      ls.argv = cmd.argv;
      for (std::string a : {"--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
                            "--ServerApp.open_browser=False", "--ServerApp.allow_remote_access=True",
                            "--ServerApp.trust_xheaders=True", "--ServerApp.quit_button=False"})
        ls.argv.push_back(a);
      ls.argv.push_back("--ServerApp.port=" + std::to_string(port));
      ls.argv.push_back("--ServerApp.base_url=" + prefix);
      ls.argv.push_back("--ServerApp.root_dir=" + home);
      ls.argv.push_back("--ServerApp.default_url=/" + preferred_landing);
      if (uid == 0) ls.argv.push_back("--ServerApp.allow_root=True");

      std::map<std::string, std::string> env;
      env["PATH"] = o.prefix + "/user/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
      env["HOME"] = home;
      env["USER"] = unix_user;
      env["LOGNAME"] = unix_user;
      env["SHELL"] = "/bin/bash";
      const char* lang = std::getenv("LANG");
      env["LANG"] = lang && *lang ? lang : "C.UTF-8";
      for (const char* keep : {"LC_ALL", "TZ"})
        if (const char* v = std::getenv(keep)) env[keep] = v;
      env["JUPYTER_TOKEN"] = token;
      env["JUPYTERHUB_API_TOKEN"] = token;
      env["JPY_API_TOKEN"] = token;
      env["JUPYTERHUB_USER"] = spec.name;
      env["JUPYTERHUB_SERVER_NAME"] = "";
      env["JUPYTERHUB_BASE_URL"] = o.base_url;
      env["JUPYTERHUB_SERVICE_PREFIX"] = prefix;
      env["JUPYTERHUB_SERVICE_URL"] = "http://127.0.0.1:" + std::to_string(port) + prefix;
      env["JUPYTERHUB_CLIENT_ID"] = "jupyterhub-user-" + url_escape_name(spec.name);
      env["JUPYTERHUB_OAUTH_CALLBACK_URL"] = prefix + "oauth_callback";
      env["JUPYTERHUB_DEFAULT_URL"] = "/" + preferred_landing;
      env["JUPYTERHUB_ROOT_DIR"] = home;
      env["JUPYTERHUB_HOST"] = "";
      if (!o.hub_api_url.empty()) {
        env["JUPYTERHUB_API_URL"] = o.hub_api_url;
        env["JUPYTERHUB_ACTIVITY_URL"] = o.hub_api_url + "/users/" + url_escape_name(spec.name) + "/activity";
      }
      if (o.memory_limit_bytes) env["MEM_LIMIT"] = std::to_string(*o.memory_limit_bytes);
      if (o.cpu_limit) {
        std::ostringstream c;
        c << *o.cpu_limit;
        env["CPU_LIMIT"] = c.str();
      }
      for (const auto& [k, v] : env) ls.env.push_back(k + "=" + v);
      ls.cwd = home;
      ls.log_fd = log.fd;
      ls.identity = identity;
      for (const auto& dir : sp::cgroup_dirs(cgroup)) ls.cgroup_procs.push_back(dir + "/cgroup.procs");
      if (cgroup.empty() && o.memory_limit_bytes) ls.rlimit_data = static_cast<unsigned long>(*o.memory_limit_bytes);

      emit(20, "Starting the Jupyter server");
      sp::Launched launched;
      try {
        launched = sp::launch(ls);
      } catch (...) {
        if (!cgroup.empty()) sp::remove_cgroup(cgroup);
        throw;
      }
      auto ident = sp::process_identity(launched.pid);
      FdGuard own_fd(::dup(launched.pidfd));
      auto now = Clock::now();
      {
        std::unique_lock lock(mutex_);
        s->alive = true;
        s->pid = launched.pid;
        s->pidfd = launched.pidfd;
        s->is_child = true;
        s->start_ticks = ident ? ident->start_ticks : 0;
        s->port = port;
        s->token = token;
        s->url_prefix = prefix;
        s->unix_user = unix_user;
        s->uid = uid;
        s->system_account = system_account;
        s->home = home;
        s->log_path = log_path;
        s->cgroup = cgroup;
        s->started = now;
        s->last_activity = now;
        s->leftovers.clear();
        watches_[launched.pidfd] = spec.name;
      }
      wake_monitor();
      try {
        sp::ServerRow row;
        row.user = spec.name;
        row.pid = launched.pid;
        row.start_ticks = ident ? ident->start_ticks : 0;
        row.boot_id = sp::boot_id();
        row.uid = uid;
        row.port = port;
        row.token = token;
        row.url_prefix = prefix;
        row.unix_user = unix_user;
        row.home = home;
        row.log_path = log_path;
        row.cgroup = cgroup;
        row.started = to_unix(now);
        with_db([&](sp::Store& st) { st.upsert(row); });
      } catch (const std::exception& e) {
        terminate(s, own_fd.fd);
        throw SpawnerError("database", std::string("cannot record the server: ") + e.what());
      }
      emit(30, "Server process " + std::to_string(launched.pid) + " started, waiting for it to answer");

      auto deadline = Steady::now() + o.start_timeout;
      WaitOutcome outcome = wait_ready(s, own_fd.fd, deadline);
      if (outcome == WaitOutcome::abandoned) return;  // the hub is shutting down; the next one adopts it
      if (outcome == WaitOutcome::ready) {
        std::string landing = landing_for(cmd, port, prefix, token, o.default_app);
        auto ready = Clock::now();
        {
          std::unique_lock lock(mutex_);
          if (!s->alive || s->cancel) outcome = s->alive ? WaitOutcome::cancelled : WaitOutcome::died;
        }
        if (outcome == WaitOutcome::ready) {
          try {
            with_db([&](sp::Store& st) { st.set_ready(spec.name, to_unix(ready), landing); });
          } catch (...) {
          }
          {
            std::unique_lock lock(mutex_);
            s->landing = landing;
            s->ready_at = ready;
            s->state = ServerState::running;
            changed(*s, lock);
          }
          ProgressEvent ev;
          ev.progress = 100;
          ev.ready = true;
          ev.url = prefix;
          ev.message = "Server ready at " + prefix;
          progress->emit(ev);
          return;
        }
      }
      if (outcome == WaitOutcome::died) {
        auto ex = take_exit(s, 10s);
        if (!ex) return;
        bool port_taken = ex->log_tail.find("already in use") != std::string::npos;
        if (port_taken && attempt < 3) {
          emit(20, "The port was taken meanwhile; trying another");
          continue;
        }
        fail_start(s, "the server " + ex->reason + " before it was ready", ex);
        return;
      }
      if (outcome == WaitOutcome::timed_out) {
        auto ex = terminate(s, own_fd.fd);
        if (!ex) return;
        auto secs = std::chrono::duration_cast<std::chrono::seconds>(o.start_timeout).count();
        ex->reason = "did not answer within " + std::to_string(secs) + " s";
        ex->requested = true;
        try {
          sp::ExitRow row{spec.name, to_unix(ex->at), ex->exit_code, ex->term_signal, true, ex->reason, ex->log_tail};
          with_db([&](sp::Store& st) { st.record_exit(row); });
        } catch (...) {
        }
        fail_start(s, "the server " + ex->reason, ex);
        return;
      }
      // cancelled by stop()
      auto ex = terminate(s, own_fd.fd);
      if (!ex) return;
      fail_start(s, "the server was stopped before it was ready", ex);
      return;
    }
    // Cancelled before a process existed.
    fail_start(s, "the server was stopped before it was ready", std::nullopt);
  } catch (const SpawnerError& e) {
    fail_start(s, e.what(), std::nullopt);
  } catch (const std::exception& e) {
    fail_start(s, e.what(), std::nullopt);
  }
}

Spawner::Impl::WaitOutcome Spawner::Impl::wait_ready(const std::shared_ptr<Server>& s, int pidfd,
                                                     Steady::time_point deadline) {
  int port;
  std::string token, prefix;
  {
    std::lock_guard lock(mutex_);
    port = s->port;
    token = s->token;
    prefix = s->url_prefix;
  }
  auto begin = Steady::now();
  auto next_note = begin + 1s;
  auto total = std::chrono::duration<double>(deadline - begin).count();
  const std::string path = prefix + "api/status";
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (shutting_down_) return WaitOutcome::abandoned;
      if (s->cancel) return WaitOutcome::cancelled;
    }
    auto now = Steady::now();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (left.count() <= 0) return WaitOutcome::timed_out;
    auto r = sp::http_get(port, path, token, std::min<std::chrono::milliseconds>(left, 5s));
    if (r.status == 200) return WaitOutcome::ready;
    now = Steady::now();
    auto elapsed = now - begin;
    auto interval = elapsed < 2s ? 10ms : elapsed < 10s ? 20ms : 50ms;
    if (now >= next_note) {
      next_note = now + 1s;
      double frac = std::chrono::duration<double>(elapsed).count() / (total > 0 ? total : 1);
      ProgressEvent ev;
      ev.progress = 30 + static_cast<int>(60 * std::min(1.0, frac));
      ev.message = "Waiting for the server to answer (" +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count()) + " s)";
      s->progress->emit(ev);
    }
    pollfd p{pidfd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(interval.count()));
    if (rc > 0) return WaitOutcome::died;
  }
}

std::optional<ServerExit> Spawner::Impl::take_exit(const std::shared_ptr<Server>& s,
                                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return s->pending_exit.has_value() || shutting_down_; });
  if (!s->pending_exit) return std::nullopt;
  auto ex = std::move(s->pending_exit);
  s->pending_exit.reset();
  return ex;
}

std::optional<ServerExit> Spawner::Impl::terminate(const std::shared_ptr<Server>& s, int pidfd) {
  pid_t pid;
  std::string cgroup;
  bool system_account;
  uid_t uid;
  {
    std::lock_guard lock(mutex_);
    pid = s->pid;
    cgroup = s->cgroup;
    system_account = s->system_account;
    uid = s->uid;
    if (s->alive && cgroup.empty() && !system_account) s->leftovers = sp::descendants(pid);
  }
  sp::signal_pidfd(pidfd, SIGTERM);
  {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, options_.stop_grace, [&] { return !s->alive; })) {  // mutex_ held: reading is safe
      auto kids = s->leftovers;
      lock.unlock();
      sp::signal_pidfd(pidfd, SIGKILL);
      for (const auto& k : kids) sp::signal_if_same(k.pid, k.start_ticks, SIGKILL);
      if (!cgroup.empty()) sp::kill_cgroup(cgroup);
      if (system_account) sp::kill_all_of_uid(uid);
    }
  }
  return take_exit(s, 30s);
}

void Spawner::Impl::run_stop(std::shared_ptr<Server> s) {
  FdGuard fd;
  {
    std::lock_guard lock(mutex_);
    if (s->alive && s->pidfd >= 0) fd.fd = ::dup(s->pidfd);
  }
  std::optional<ServerExit> ex;
  if (fd.fd >= 0) {
    ex = terminate(s, fd.fd);
    if (!ex) return;  // shutting down: the process may live on; the next hub sorts it out
  } else {
    ex = take_exit(s, 1s);
    if (!ex) {
      ex = ServerExit{};
      ex->at = Clock::now();
    }
  }
  ex->requested = true;
  ex->reason = "stopped";
  try {
    sp::ExitRow row{s->user, to_unix(ex->at), ex->exit_code, ex->term_signal, true, ex->reason, ex->log_tail};
    with_db([&](sp::Store& st) { st.record_exit(row); });
  } catch (...) {
  }
  std::unique_lock lock(mutex_);
  s->last_exit = ex;
  s->state = ServerState::stopped;
  changed(*s, lock);
}

void Spawner::Impl::wake_monitor() {
  std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void Spawner::Impl::monitor_loop() {
  auto next_flush = Steady::now() + options_.activity_flush_interval;
  for (;;) {
    std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
    {
      std::lock_guard lock(mutex_);
      if (shutting_down_ && active_ops_ == 0) break;
      for (const auto& [fd, user] : watches_) fds.push_back({fd, POLLIN, 0});
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_flush - Steady::now());
    int timeout = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 60000));
    int rc = ::poll(fds.data(), fds.size(), timeout);
    if (rc < 0 && errno != EINTR) break;
    if (fds[0].revents) {
      std::uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof v);
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      std::string user;
      {
        std::lock_guard lock(mutex_);
        auto it = watches_.find(fds[i].fd);
        if (it == watches_.end()) continue;
        user = it->second;
        watches_.erase(it);
      }
      try {
        on_exit(user, fds[i].fd);
      } catch (...) {
      }
    }
    if (Steady::now() >= next_flush) {
      next_flush = Steady::now() + options_.activity_flush_interval;
      try {
        flush_activity();
      } catch (...) {
      }
      std::lock_guard lock(cleanup_mutex_);
      std::vector<std::string> still;
      for (const auto& cg : pending_cgroup_removals_)
        if (!sp::remove_cgroup(cg)) still.push_back(cg);
      pending_cgroup_removals_ = std::move(still);
    }
  }
}

void Spawner::Impl::cleanup_after_exit(const std::string& cgroup, bool system_account, uid_t uid,
                                       const std::vector<sp::ProcRef>& leftovers) {
  for (const auto& k : leftovers) sp::signal_if_same(k.pid, k.start_ticks, SIGKILL);
  if (system_account) sp::kill_all_of_uid(uid);
  if (!cgroup.empty()) {
    sp::kill_cgroup(cgroup);
    bool removed = false;
    for (int i = 0; i < 50 && !removed; ++i) {
      removed = sp::remove_cgroup(cgroup);
      if (!removed) std::this_thread::sleep_for(10ms);
    }
    if (!removed) {
      std::lock_guard lock(cleanup_mutex_);
      pending_cgroup_removals_.push_back(cgroup);
    }
  }
}

void Spawner::Impl::on_exit(const std::string& user, int pidfd) {
  ServerExit ex;
  ex.at = Clock::now();
  std::shared_ptr<Server> s;
  std::string cgroup, log_path;
  bool system_account;
  uid_t uid;
  std::vector<sp::ProcRef> leftovers;
  bool is_child;
  {
    std::lock_guard lock(mutex_);
    s = get(user);
    if (!s || s->pidfd != pidfd) {
      ::close(pidfd);
      return;
    }
    cgroup = s->cgroup;
    log_path = s->log_path;
    system_account = s->system_account;
    uid = s->uid;
    leftovers = std::move(s->leftovers);
    s->leftovers.clear();
    is_child = s->is_child;
  }
  if (is_child) {
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG) == 0 &&
        info.si_pid != 0) {
      if (info.si_code == CLD_EXITED) ex.exit_code = info.si_status;
      else ex.term_signal = info.si_status;
    }
    ex.reason = describe_exit(ex.exit_code, ex.term_signal);
  } else {
    ex.reason = "exited (status unknown: the server was adopted from an earlier hub process)";
  }
  ::close(pidfd);
  cleanup_after_exit(cgroup, system_account, uid, leftovers);
  ex.log_tail = read_tail(log_path, 16384);
  try {
    with_db([&](sp::Store& st) {
      st.remove(user);
      st.record_exit({user, to_unix(ex.at), ex.exit_code, ex.term_signal, false, ex.reason, ex.log_tail});
    });
  } catch (...) {
  }
  std::unique_lock lock(mutex_);
  s->alive = false;
  s->pidfd = -1;
  s->activity_dirty = false;
  if (s->op_running) {
    s->pending_exit = ex;
    cv_.notify_all();
    return;
  }
  s->state = ServerState::stopped;
  s->last_exit = ex;
  changed(*s, lock);
}

void Spawner::Impl::flush_activity() {
  std::vector<std::pair<std::string, double>> updates;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, s] : servers_) {
      if (s->activity_dirty && s->alive) {
        updates.emplace_back(name, to_unix(s->last_activity));
        s->activity_dirty = false;
      }
    }
  }
  if (!updates.empty()) with_db([&](sp::Store& st) { st.set_activity(updates); });
}

Spawner::AdoptReport Spawner::Impl::adopt(std::chrono::milliseconds answer_timeout) {
  AdoptReport report;
  const SpawnerOptions o = options();
  std::vector<sp::ServerRow> rows;
  try {
    rows = with_db([](sp::Store& st) { return st.all(); });
  } catch (const std::exception& e) {
    throw SpawnerError("database", std::string("cannot read servers: ") + e.what());
  }
  std::mutex report_mutex;
  std::vector<std::thread> checks;
  for (auto& row : rows) {
    checks.emplace_back([&, row] {
      auto forget = [&](const std::string& reason, bool kill_pid, int pidfd) {
        std::vector<sp::ProcRef> leftovers;
        if (kill_pid && pidfd >= 0) {
          if (row.cgroup.empty() && row.uid == ::geteuid()) leftovers = sp::descendants(row.pid);
          sp::signal_pidfd(pidfd, SIGTERM);
          pollfd p{pidfd, POLLIN, 0};
          if (::poll(&p, 1, static_cast<int>(o.stop_grace.count())) <= 0) sp::signal_pidfd(pidfd, SIGKILL);
        }
        bool system_account = row.uid != ::geteuid() && row.uid != 0;
        cleanup_after_exit(row.cgroup, system_account && kill_pid, row.uid, leftovers);
        ServerExit ex;
        ex.at = Clock::now();
        ex.requested = kill_pid;
        ex.reason = reason;
        ex.log_tail = read_tail(row.log_path, 16384);
        try {
          with_db([&](sp::Store& st) {
            st.remove(row.user);
            st.record_exit({row.user, to_unix(ex.at), std::nullopt, std::nullopt, ex.requested, ex.reason, ex.log_tail});
          });
        } catch (...) {
        }
        {
          std::unique_lock lock(mutex_);
          auto s = get_or_create(row.user);
          s->log_path = row.log_path;
          s->last_exit = ex;
          changed(*s, lock);
        }
        std::lock_guard lock(report_mutex);
        report.forgotten.push_back(row.user);
      };
      auto id = sp::process_identity(row.pid);
      bool same = row.boot_id == sp::boot_id() && id && id->start_ticks == row.start_ticks && id->uid == row.uid;
      if (!same) return forget("the server was gone when the hub restarted", false, -1);
      int pidfd = sp::open_pidfd(row.pid);
      id = sp::process_identity(row.pid);
      if (pidfd < 0 || !id || id->start_ticks != row.start_ticks) {
        if (pidfd >= 0) ::close(pidfd);
        return forget("the server was gone when the hub restarted", false, -1);
      }
      if (row.url_prefix != url_prefix(row.user)) {
        forget("the hub's base_url changed; the server was stopped", true, pidfd);
        ::close(pidfd);
        return;
      }
      auto deadline = Steady::now() + answer_timeout;
      bool answered = false;
      while (Steady::now() < deadline) {
        auto r = sp::http_get(row.port, row.url_prefix + "api/status", row.token, 5s);
        if (r.status == 200) {
          answered = true;
          break;
        }
        pollfd p{pidfd, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) break;  // it died meanwhile
      }
      if (!answered) {
        forget("the server did not answer after the hub restarted; it was stopped", true, pidfd);
        ::close(pidfd);
        return;
      }
      std::string landing = row.landing;
      if (!row.ready) {
        std::string key;
        landing = landing.empty() ? std::string(o.default_app == "classic" ? "tree" : "lab") : landing;
        if (sp::http_get(row.port, row.url_prefix + landing, row.token, 10s).status != 200) {
          std::string other = landing == "lab" ? "tree" : "lab";
          landing = sp::http_get(row.port, row.url_prefix + other, row.token, 10s).status == 200 ? other : "";
        }
        try {
          with_db([&](sp::Store& st) { st.set_ready(row.user, to_unix(Clock::now()), landing); });
        } catch (...) {
        }
      }
      {
        std::unique_lock lock(mutex_);
        auto s = get_or_create(row.user);
        s->state = ServerState::running;
        s->alive = true;
        s->adopted = true;
        s->pid = row.pid;
        s->pidfd = pidfd;
        s->is_child = false;
        s->start_ticks = row.start_ticks;
        s->port = row.port;
        s->token = row.token;
        s->url_prefix = row.url_prefix;
        s->landing = landing;
        s->unix_user = row.unix_user;
        s->uid = row.uid;
        s->system_account = row.uid != ::geteuid() && row.uid != 0;
        s->home = row.home;
        s->log_path = row.log_path;
        s->cgroup = row.cgroup;
        s->started = from_unix(row.started);
        s->ready_at = from_unix(row.ready.value_or(to_unix(Clock::now())));
        s->last_activity = from_unix(row.last_activity.value_or(row.ready.value_or(row.started)));
        s->progress.reset();
        watches_[pidfd] = row.user;
        changed(*s, lock);
      }
      wake_monitor();
      std::lock_guard lock(report_mutex);
      report.adopted.push_back(row.user);
    });
  }
  for (auto& t : checks) t.join();
  std::sort(report.adopted.begin(), report.adopted.end());
  std::sort(report.forgotten.begin(), report.forgotten.end());
  return report;
}

// ---- public forwarding ----

Spawner::Spawner(SpawnerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Spawner::~Spawner() = default;

Spawner::AdoptReport Spawner::adopt(std::chrono::milliseconds answer_timeout) { return impl_->adopt(answer_timeout); }
bool Spawner::start(const UserSpec& user) { return impl_->start(user); }
bool Spawner::stop(const std::string& user) { return impl_->stop(user); }
std::optional<ServerInfo> Spawner::find(const std::string& user) const { return impl_->find(user); }
std::vector<ServerInfo> Spawner::list() const { return impl_->list(); }
std::optional<ServerRoute> Spawner::route(const std::string& user) const { return impl_->route(user); }
void Spawner::set_listener(std::function<void(const ServerInfo&)> listener) { impl_->listener_ = std::move(listener); }
std::unique_ptr<Spawner::Subscription> Spawner::subscribe_progress(const std::string& user,
                                                                   std::function<void(const ProgressEvent&)> fn) {
  return impl_->subscribe(user, std::move(fn));
}
void Spawner::note_activity(const std::string& user, std::chrono::system_clock::time_point when) {
  impl_->note_activity(user, when);
}
std::string Spawner::log_tail(const std::string& user, std::size_t max_bytes) const {
  return impl_->log_tail(user, max_bytes);
}
void Spawner::reconfigure(const SpawnerOptions& options) { impl_->reconfigure(options); }
LimitsInfo Spawner::limits() const { return impl_->limits(); }
SpawnerOptions Spawner::options() const { return impl_->options(); }

SpawnerOptions spawner_options(const std::string& prefix, const HubConfig& config) {
  SpawnerOptions o;
  o.prefix = prefix;
  o.mode = config.spawner_mode;
  o.cmd = config.spawner_cmd;
  o.start_timeout = std::chrono::seconds(config.spawner_start_timeout);
  o.memory_limit_bytes = config.memory_limit_bytes();
  o.cpu_limit = config.limits_cpu;
  o.default_app = config.default_app;
  o.base_url = config.base_url;
  o.db_path = prefix + "/state/hub.sqlite";
  return o;
}
std::optional<ServerInfo> Spawner::wait_until_settled(const std::string& user, std::chrono::milliseconds timeout) {
  return impl_->wait_settled(user, timeout);
}
bool Spawner::wait_until_stopped(const std::string& user, std::chrono::milliseconds timeout) {
  return impl_->wait_stopped(user, timeout);
}

}  // namespace hub
