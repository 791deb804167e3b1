#include "gitpuller/mirror_cache.hpp"

#include <openssl/evp.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/file_lock.hpp"
#include "common/time_util.hpp"
#include "git_util.hpp"
#include "gitpuller/credentials.hpp"
#include "snapshot.hpp"
#include "transfer.hpp"

namespace gitpuller {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

struct MirrorCache::Entry {
  std::mutex fetch_mutex;
  std::optional<std::string> last_check;  // guarded by MirrorCache::mutex_
};

namespace {

constexpr std::string_view kHeads = "refs/heads/";
constexpr std::string_view kTags = "refs/tags/";

std::string sha256_hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

// "<readable part>-<hash>": readable for an admin, unique by the hash, and
// not guessable without the installation's secret (see the header).
std::string mirror_name(const RepoUrl& url, const std::string& secret) {
  std::string key = url.key;
  auto pos = key.find("://");
  if (pos != std::string::npos) key = key.substr(pos + 3);
  std::string readable;
  for (char c : key) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    readable += ok ? c : '_';
  }
  while (!readable.empty() && (readable.front() == '_' || readable.front() == '.')) readable.erase(0, 1);
  if (readable.size() > 60) readable = readable.substr(readable.size() - 60);
  return readable + "-" + sha256_hex(secret + '\n' + url.key).substr(0, 24);
}

// The installation's naming secret, created (0600, first writer wins) on first use.
std::string naming_secret(const fs::path& root) {
  fs::path file = root / ".name-secret";
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::ifstream in(file);
    std::string secret;
    if (in && std::getline(in, secret) && secret.size() >= 32) return secret;
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) break;
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    for (unsigned char b : bytes) {
      hex += kHex[b >> 4];
      hex += kHex[b & 15];
    }
    fs::path tmp = file;
    tmp += ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) break;
    std::string line = hex + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (ok) ::link(tmp.c_str(), file.c_str());  // fails when another process won: read theirs
    ::unlink(tmp.c_str());
  }
  // Unwritable root (read-only use): names stay stable, only unguessability is lost.
  return "coursehub";
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Commits at the tip of a branch: their snapshots are worth keeping.
std::set<std::string> tips(const RefSnapshot& refs) {
  std::set<std::string> out;
  for (const auto& [name, id] : refs.refs)
    if (starts_with(name, kHeads)) out.insert(id);
  return out;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return json::object();
  try {
    json j = json::parse(in);
    return j.is_object() ? j : json::object();
  } catch (const json::exception&) {
    return json::object();
  }
}

void write_json(const fs::path& path, const json& j) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
    if (!out) return;
  }
  ::chmod(tmp.c_str(), 0644);
  std::error_code ec;
  fs::rename(tmp, path, ec);
}

// World-readable files, traversable folders: what a worker running as the
// student needs to copy from the mirror.
void make_readable(const fs::path& dir) {
  std::error_code ec;
  auto fix = [](const fs::path& p, mode_t want) {
    struct stat st{};
    if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return;
    if ((st.st_mode & want) != want) ::chmod(p.c_str(), (st.st_mode & 07777) | want);
  };
  fix(dir, 0755);
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    bool is_dir = it->is_directory(e) && !it->is_symlink(e);
    fix(it->path(), is_dir ? 0755 : 0444);
  }
}

std::uint64_t disk_size(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->is_regular_file(e)) total += it->file_size(e);
  }
  return total;
}

// Waits until nobody holds the lock exclusively (true), or gives up after `wait`.
bool wait_shared(const fs::path& lock_path, std::chrono::milliseconds wait) {
  return common::FileLock::try_acquire(lock_path.string(), wait, common::FileLock::Mode::shared).has_value();
}

std::optional<MirrorSnapshot> try_read_mirror(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path / "HEAD", ec)) return std::nullopt;
  try {
    return read_mirror(path);
  } catch (const SyncError&) {
    return std::nullopt;
  }
}

bool mirror_matches(const fs::path& path, const RefSnapshot& upstream, MirrorSnapshot* out) {
  auto snap = try_read_mirror(path);
  if (!snap || !(snap->refs == upstream)) return false;
  if (out) *out = std::move(*snap);
  return true;
}

GitRepository open_mirror(const fs::path& path) {
  git_repository* raw = nullptr;
  int rc = git_repository_open_ext(&raw, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, nullptr);
  GitRepository repo(raw);
  if (rc < 0) repo.reset();
  return repo;
}

}  // namespace

MirrorSnapshot read_mirror(const fs::path& mirror) {
  git_repository* raw = nullptr;
  int rc = git_repository_open_ext(&raw, mirror.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, nullptr);
  GitRepository repo(raw);
  if (rc < 0)
    throw SyncError(ErrorCode::fetch, "The course cache at " + mirror.string() + " cannot be read: " + last_git_error());
  MirrorSnapshot snap;
  snap.path = mirror;
  git_reference_iterator* it_raw = nullptr;
  check(git_reference_iterator_new(&it_raw, repo.get()), ErrorCode::fetch, "cannot list the cache's branches");
  GitRefIterator it(it_raw);
  git_reference* ref_raw = nullptr;
  while (git_reference_next(&ref_raw, it.get()) == 0) {
    GitReference ref(ref_raw);
    std::string name = git_reference_name(ref.get());
    if (!starts_with(name, kHeads) && !starts_with(name, kTags)) continue;
    if (git_reference_type(ref.get()) != GIT_REFERENCE_DIRECT) continue;
    const git_oid* target = git_reference_target(ref.get());
    snap.refs.refs[name] = oid_hex(*target);
    if (starts_with(name, kTags)) {
      git_object* peeled_raw = nullptr;
      if (git_reference_peel(&peeled_raw, ref.get(), GIT_OBJECT_COMMIT) == 0) {
        GitObject peeled(peeled_raw);
        if (git_oid_cmp(git_object_id(peeled.get()), target) != 0)
          snap.refs.peeled[name] = oid_hex(*git_object_id(peeled.get()));
      }
    }
  }
  git_reference* head_raw = nullptr;
  if (git_reference_lookup(&head_raw, repo.get(), "HEAD") == 0) {
    GitReference head(head_raw);
    if (git_reference_type(head.get()) == GIT_REFERENCE_SYMBOLIC) {
      std::string target = git_reference_symbolic_target(head.get());
      if (starts_with(target, kHeads)) snap.refs.head = target;
    }
  }
  return snap;
}

MirrorCache::MirrorCache(fs::path root, const CredentialProvider* credentials)
    : root_(std::move(root)), credentials_(credentials) {
  std::error_code ec;
  if (!fs::exists(root_, ec)) {
    fs::create_directories(root_, ec);
    ::chmod(root_.c_str(), 0711);
  }
  secret_ = naming_secret(root_);
}

MirrorCache::~MirrorCache() = default;

MirrorCache::Entry& MirrorCache::entry_for(const std::string& key) {
  std::lock_guard guard(mutex_);
  auto& slot = entries_[key];
  if (!slot) slot = std::make_unique<Entry>();
  return *slot;
}

fs::path MirrorCache::path_for(const RepoUrl& url) const { return root_ / (mirror_name(url, secret_) + ".git"); }

MirrorSnapshot MirrorCache::refresh(const RepoUrl& url, const EventCallback& on_event, ErrorCode failure_code) {
  Entry& entry = entry_for(url.key);
  fs::path path = path_for(url);
  fs::path base = root_ / mirror_name(url, secret_);
  fs::path stats_path = base;
  stats_path += ".json";
  fs::path lock_path = base;
  lock_path += ".lock";
  ProgressThrottle progress(&on_event);

  auto record_error = [&](const std::string& message, bool have_lock) {
    std::optional<common::FileLock> lock;
    if (!have_lock) {
      try {
        lock = common::FileLock::try_acquire(lock_path.string(), std::chrono::seconds(1));
      } catch (const std::exception&) {
      }
      if (!lock) return;
    }
    json stats = read_json(stats_path);
    stats["url"] = url.clean;
    stats["last_error"] = message;
    stats["last_error_at"] = common::iso8601_utc();
    write_json(stats_path, stats);
  };

  const char* specs[] = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
  git_strarray refspecs = {const_cast<char**>(specs), 2};

  progress.tick("Checking " + url.clean + " for updates", Progress{Stage::check}, true);
  // With a mirror in place, upstream's refs are listed through a remote on
  // it, so that a download right after reuses this connection (one request
  // fewer) instead of listing the refs again.
  RefSnapshot upstream;
  std::optional<MirrorSnapshot> before = try_read_mirror(path);
  GitRepository conn_repo = before ? open_mirror(path) : nullptr;
  GitRemote conn_remote;
  std::unique_ptr<TransferSession> conn_session;
  try {
    if (conn_repo) {
      git_remote* remote_raw = nullptr;
      int rc = git_remote_create_anonymous(&remote_raw, conn_repo.get(), url.clean.c_str());
      conn_remote.reset(remote_raw);
      check(rc, failure_code, "cannot use the repository URL " + url.clean);
      conn_session = std::make_unique<TransferSession>(url, credentials_, &on_event);
      git_remote_callbacks cb = conn_session->callbacks();
      rc = git_remote_connect(conn_remote.get(), GIT_DIRECTION_FETCH, &cb, nullptr, nullptr);
      conn_session->finish(rc, failure_code);
      upstream = detail::list_connected(conn_remote.get());
    } else {
      upstream = ls_remote(url, credentials_, failure_code);
    }
  } catch (const SyncError& e) {
    record_error(e.what(), false);
    throw;
  }
  {
    std::lock_guard guard(mutex_);
    entry.last_check = common::iso8601_utc();
  }

  MirrorSnapshot snap;
  if (before && before->refs == upstream) {
    git_remote_disconnect(conn_remote.get());
    return *before;
  }

  // Single-flight: threads of this process queue on the mutex, processes on
  // the lock file; whoever comes second finds the refs already there.
  std::unique_lock thread_lock(entry.fetch_mutex);
  std::optional<common::FileLock> file_lock;
  bool reuse_connection = false;
  try {
    file_lock = common::FileLock::try_acquire(lock_path.string(), std::chrono::milliseconds(0));
    if (file_lock) {
      if (mirror_matches(path, upstream, &snap)) return snap;
      // Our listing is still the newest unless someone downloaded since.
      auto now = try_read_mirror(path);
      reuse_connection = conn_remote && now && before && now->refs == before->refs;
    } else {
      // Waiting with a shared lock lets every waiter of a class burst look
      // at the finished download at once instead of one after another.
      if (wait_shared(lock_path, lock_wait) && mirror_matches(path, upstream, &snap)) return snap;
      file_lock = common::FileLock::try_acquire(lock_path.string(), lock_wait);
    }
  } catch (const std::system_error& e) {
    throw SyncError(failure_code, std::string("The course cache cannot be locked: ") + e.what());
  }
  if (!file_lock)
    throw SyncError(ErrorCode::lock, "The course cache for " + url.clean + " is busy (another download has taken "
                                     "too long). Try again in a few minutes.");
  if (mirror_matches(path, upstream, &snap)) return snap;

  if (reuse_connection) {
    progress.line("Downloading " + url.clean);
    git_fetch_options fetch_opts = GIT_FETCH_OPTIONS_INIT;
    fetch_opts.callbacks = conn_session->callbacks();
    fetch_opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    fetch_opts.update_fetchhead = 0;
    int rc = git_remote_download(conn_remote.get(), &refspecs, &fetch_opts);
    if (rc == 0)
      rc = git_remote_update_tips(conn_remote.get(), &fetch_opts.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, nullptr);
    if (rc == 0) rc = git_remote_prune(conn_remote.get(), &fetch_opts.callbacks);
    git_remote_disconnect(conn_remote.get());
    try {
      conn_session->finish(rc, failure_code);
    } catch (const SyncError& e) {
      record_error(e.what(), true);
      throw;
    }
    return finish_fetch(conn_repo.get(), url, path, stats_path, upstream);
  }
  if (conn_remote) git_remote_disconnect(conn_remote.get());
  conn_remote.reset();
  conn_repo.reset();

  std::error_code ec;
  git_repository* raw = nullptr;
  int rc;
  if (fs::exists(path / "HEAD", ec)) {
    rc = git_repository_open_ext(&raw, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, nullptr);
  } else {
    fs::remove_all(path, ec);  // remains of a crash during creation
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    rc = git_repository_init_ext(&raw, path.c_str(), &opts);
  }
  GitRepository repo(raw);
  if (rc < 0) {
    std::string msg = "The course cache at " + path.string() + " cannot be used: " + last_git_error();
    record_error(msg, true);
    throw SyncError(failure_code, msg);
  }

  progress.line("Downloading " + url.clean);
  git_remote* remote_raw = nullptr;
  rc = git_remote_create_anonymous(&remote_raw, repo.get(), url.clean.c_str());
  GitRemote remote(remote_raw);
  check(rc, failure_code, "cannot use the repository URL " + url.clean);
  TransferSession session(url, credentials_, &on_event);
  git_fetch_options fetch_opts = GIT_FETCH_OPTIONS_INIT;
  fetch_opts.callbacks = session.callbacks();
  fetch_opts.prune = GIT_FETCH_PRUNE;
  fetch_opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  fetch_opts.update_fetchhead = 0;
  rc = git_remote_fetch(remote.get(), &refspecs, &fetch_opts, nullptr);
  try {
    session.finish(rc, failure_code);
  } catch (const SyncError& e) {
    record_error(e.what(), true);
    throw;
  }
  return finish_fetch(repo.get(), url, path, stats_path, upstream);
}

MirrorSnapshot MirrorCache::finish_fetch(git_repository* repo, const RepoUrl& url, const fs::path& path,
                                         const fs::path& stats_path, const RefSnapshot& upstream) {
  if (upstream.head) {
    git_reference* head_raw = nullptr;
    git_reference_symbolic_create(&head_raw, repo, "HEAD", upstream.head->c_str(), 1, nullptr);
    GitReference head(head_raw);
  }
  MirrorSnapshot snap = read_mirror(path);
  json stats = read_json(stats_path);
  stats["url"] = url.clean;
  stats["mirror"] = path.filename().string();
  stats["upstream_fetches"] = stats.value("upstream_fetches", std::uint64_t{0}) + 1;
  stats["last_fetch"] = common::iso8601_utc();
  write_json(stats_path, stats);
  make_readable(path);
  snap.fetched = true;
  return snap;
}

MirrorSnapshot MirrorCache::warm(const RepoUrl& url, const std::string& branch, const EventCallback& on_event) {
  MirrorSnapshot snap = refresh(url, on_event, ErrorCode::fetch);
  auto resolved = branch.empty() ? snap.refs.resolve_default() : snap.refs.resolve(branch);
  if (!resolved)
    throw SyncError(branch.empty() ? ErrorCode::branch_resolve : ErrorCode::branch_exist,
                    branch.empty() ? "Could not tell the default branch of " + url.clean + "."
                                   : "The branch '" + branch + "' does not exist in " + url.clean + ".");
  ProgressThrottle(&on_event).line("Preparing the files of " + resolved->commit.substr(0, 10) + " for new folders");
  prepare_snapshot(url, resolved->commit);
  return snap;
}

std::optional<fs::path> MirrorCache::prepare_snapshot(const RepoUrl& url, const std::string& commit) {
  fs::path path = path_for(url);
  if (auto existing = find_snapshot(path, commit)) return existing;
  Entry& entry = entry_for(url.key);
  fs::path lock_path = root_ / (mirror_name(url, secret_) + ".lock");
  std::unique_lock thread_lock(entry.fetch_mutex);
  std::optional<common::FileLock> file_lock;
  try {
    if (wait_shared(lock_path, lock_wait))
      if (auto existing = find_snapshot(path, commit)) return existing;
    file_lock = common::FileLock::try_acquire(lock_path.string(), lock_wait);
  } catch (const std::system_error&) {
    return std::nullopt;
  }
  if (!file_lock) return std::nullopt;
  if (auto existing = find_snapshot(path, commit)) return existing;
  std::set<std::string> keep;
  try {
    keep = tips(read_mirror(path).refs);
  } catch (const SyncError&) {
    return std::nullopt;
  }
  return create_snapshot(path, commit, keep);
}

std::optional<MirrorStats> MirrorCache::stats(const RepoUrl& url) const {
  fs::path base = root_ / mirror_name(url, secret_);
  fs::path stats_path = base;
  stats_path += ".json";
  std::error_code ec;
  if (!fs::exists(stats_path, ec)) return std::nullopt;
  json j = read_json(stats_path);
  MirrorStats s;
  s.url = j.value("url", url.clean);
  s.path = path_for(url).string();
  s.upstream_fetches = j.value("upstream_fetches", std::uint64_t{0});
  if (j.contains("last_fetch") && j["last_fetch"].is_string()) s.last_fetch = j["last_fetch"].get<std::string>();
  if (j.contains("last_error") && j["last_error"].is_string()) s.last_error = j["last_error"].get<std::string>();
  if (j.contains("last_error_at") && j["last_error_at"].is_string()) s.last_error_at = j["last_error_at"].get<std::string>();
  {
    std::lock_guard guard(mutex_);
    if (auto it = entries_.find(url.key); it != entries_.end()) s.last_check = it->second->last_check;
  }
  if (fs::exists(path_for(url) / "HEAD", ec)) {
    s.size_bytes = disk_size(path_for(url));
    try {
      MirrorSnapshot snap = read_mirror(path_for(url));
      s.branches = snap.refs.branches();
      if (snap.refs.head) s.default_branch = snap.refs.head->substr(kHeads.size());
    } catch (const SyncError&) {
    }
  }
  return s;
}

std::vector<MirrorStats> MirrorCache::list() const {
  std::vector<MirrorStats> out;
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    json j = read_json(it->path());
    if (!j.contains("url") || !j["url"].is_string()) continue;
    try {
      if (auto s = stats(parse_repo_url(j["url"].get<std::string>()))) out.push_back(std::move(*s));
    } catch (const SyncError&) {
    }
  }
  return out;
}

std::vector<std::string> MirrorCache::list_files(const RepoUrl& url, const std::string& branch) const {
  fs::path path = path_for(url);
  MirrorSnapshot snap = read_mirror(path);
  auto resolved = branch.empty() ? snap.refs.resolve_default() : snap.refs.resolve(branch);
  if (!resolved)
    throw SyncError(branch.empty() ? ErrorCode::branch_resolve : ErrorCode::branch_exist,
                    "The branch '" + branch + "' does not exist in " + url.clean + ".");
  git_repository* raw = nullptr;
  check(git_repository_open_ext(&raw, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, nullptr),
        ErrorCode::fetch, "cannot open the course cache");
  GitRepository repo(raw);
  GitCommit commit = lookup_commit(repo.get(), oid_from_hex(resolved->commit), ErrorCode::fetch);
  git_tree* tree_raw = nullptr;
  check(git_commit_tree(&tree_raw, commit.get()), ErrorCode::fetch, "cannot read the course's files");
  GitTree tree(tree_raw);
  std::vector<std::string> files;
  git_tree_walk(
      tree.get(), GIT_TREEWALK_PRE,
      [](const char* root, const git_tree_entry* e, void* payload) -> int {
        if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
          static_cast<std::vector<std::string>*>(payload)->push_back(std::string(root) + git_tree_entry_name(e));
        return 0;
      },
      &files);
  std::sort(files.begin(), files.end());
  return files;
}

bool MirrorCache::remove(const RepoUrl& url) {
  fs::path base = root_ / mirror_name(url, secret_);
  fs::path lock_path = base;
  lock_path += ".lock";
  fs::path stats_path = base;
  stats_path += ".json";
  Entry& entry = entry_for(url.key);
  std::unique_lock thread_lock(entry.fetch_mutex);
  auto lock = common::FileLock::acquire(lock_path.string());
  std::error_code ec;
  bool existed = fs::exists(path_for(url), ec);
  fs::remove_all(path_for(url), ec);
  fs::remove(stats_path, ec);
  return existed;
}

}  // namespace gitpuller
