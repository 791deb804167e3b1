#include "sources.hpp"

#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "git_util.hpp"
#include "gitpuller/mirror_cache.hpp"
#include "objects.hpp"
#include "snapshot.hpp"

namespace gitpuller::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHeads = "refs/heads/";
constexpr std::string_view kTags = "refs/tags/";
constexpr std::string_view kTracking = "refs/remotes/origin/";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

fs::path objects_dir(git_repository* repo) { return fs::path(git_repository_path(repo)) / "objects"; }

void refresh_odb(git_repository* repo) {
  git_odb* raw = nullptr;
  if (git_repository_odb(&raw, repo) == 0) {
    GitOdb odb(raw);
    git_odb_refresh(odb.get());
  }
}

// Sets `name` to `target` unless it already points there.
void put_ref(git_repository* repo, const std::string& name, const std::string& target, ErrorCode code) {
  git_oid oid = oid_from_hex(target);
  git_reference* raw = nullptr;
  if (git_reference_lookup(&raw, repo, name.c_str()) == 0) {
    GitReference existing(raw);
    if (git_reference_type(existing.get()) == GIT_REFERENCE_DIRECT &&
        git_oid_equal(git_reference_target(existing.get()), &oid))
      return;
  }
  raw = nullptr;
  int rc = git_reference_create(&raw, repo, name.c_str(), &oid, 1, "coursehub: sync");
  GitReference created(raw);
  check(rc, code, "cannot record upstream's " + name);
}

bool commit_present(git_odb* odb, const std::string& hex) {
  git_oid oid = oid_from_hex(hex);
  return git_odb_exists(odb, &oid) == 1;
}

class MirrorSource : public Source {
 public:
  MirrorSource(MirrorSnapshot snapshot, MirrorCache* cache, const RepoUrl& url, const EventCallback* on_event)
      : snapshot_(std::move(snapshot)), cache_(cache), url_(url), on_event_(on_event) {}

  const RefSnapshot& refs() const override { return snapshot_.refs; }
  bool fetched_upstream() const override { return snapshot_.fetched; }

  std::optional<fs::path> snapshot_for(const std::string& commit) override {
    if (cache_) return cache_->prepare_snapshot(url_, commit);
    return find_snapshot(snapshot_.path, commit);
  }

  void bring_objects(git_repository* repo, ErrorCode code) override {
    ProgressThrottle progress(on_event_);
    copy_missing_objects(snapshot_.path / "objects", objects_dir(repo), progress, code);
    refresh_odb(repo);
    set_tracking_refs(repo, snapshot_.refs, code);
  }

 private:
  MirrorSnapshot snapshot_;
  MirrorCache* cache_;
  RepoUrl url_;
  const EventCallback* on_event_;
};

class DirectSource : public Source {
 public:
  DirectSource(const RepoUrl& url, const CredentialProvider* credentials, const EventCallback* on_event, ErrorCode code)
      : url_(url), credentials_(credentials), on_event_(on_event) {
    ProgressThrottle(on_event_).tick("Checking " + url_.clean + " for updates", Progress{Stage::check}, true);
    refs_ = ls_remote(url_, credentials_, code);
  }

  const RefSnapshot& refs() const override { return refs_; }
  bool fetched_upstream() const override { return fetched_; }

  void bring_objects(git_repository* repo, ErrorCode code) override {
    if (all_present(repo)) {
      set_tracking_refs(repo, refs_, code);
      return;
    }
    if (git_repository_is_shallow(repo)) {
      // libgit2 1.5 cannot deepen a shallow clone (it would claim to have
      // the missing history): download a full copy into a scratch bare
      // repository inside .git and copy its objects over.
      fs::path scratch = fs::path(git_repository_path(repo)) / ("coursehub-fetch-" + std::to_string(::getpid()));
      std::error_code ec;
      fs::remove_all(scratch, ec);
      struct Cleanup {
        fs::path p;
        ~Cleanup() {
          std::error_code e;
          fs::remove_all(p, e);
        }
      } cleanup{scratch};
      git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
      opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
      git_repository* raw = nullptr;
      int rc = git_repository_init_ext(&raw, scratch.c_str(), &opts);
      GitRepository bare(raw);
      check(rc, code, "cannot prepare a download area");
      fetch_into(bare.get(), nullptr, {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}, code);
      ProgressThrottle progress(on_event_);
      copy_missing_objects(scratch / "objects", objects_dir(repo), progress, code);
      refresh_odb(repo);
    } else {
      fetch_into(repo, "origin", {"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}, code);
    }
    set_tracking_refs(repo, refs_, code);
  }

 private:
  bool all_present(git_repository* repo) {
    git_odb* raw = nullptr;
    if (git_repository_odb(&raw, repo) != 0) return false;
    GitOdb odb(raw);
    if (git_repository_is_shallow(repo)) return false;
    for (const auto& [name, id] : refs_.refs)
      if (!commit_present(odb.get(), id)) return false;
    return true;
  }

  void fetch_into(git_repository* repo, const char* remote_name, std::vector<const char*> specs, ErrorCode code) {
    git_remote* raw = nullptr;
    int rc = -1;
    if (remote_name) rc = git_remote_lookup(&raw, repo, remote_name);
    if (rc < 0) rc = git_remote_create_anonymous(&raw, repo, url_.clean.c_str());
    GitRemote remote(raw);
    check(rc, code, "cannot use the repository URL " + url_.clean);
    ProgressThrottle(on_event_).line("Downloading " + url_.clean);
    TransferSession session(url_, credentials_, on_event_);
    git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
    opts.callbacks = session.callbacks();
    opts.prune = GIT_FETCH_PRUNE;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    opts.update_fetchhead = 0;
    git_strarray refspecs = {const_cast<char**>(specs.data()), specs.size()};
    rc = git_remote_fetch(remote.get(), &refspecs, &opts, "coursehub: fetch");
    session.finish(rc, code);
    fetched_ = true;
  }

  RepoUrl url_;
  const CredentialProvider* credentials_;
  const EventCallback* on_event_;
  RefSnapshot refs_;
  bool fetched_ = false;
};

}  // namespace

std::unique_ptr<Source> mirror_source(MirrorSnapshot snapshot, MirrorCache* cache, const RepoUrl& url,
                                      const EventCallback* on_event) {
  return std::make_unique<MirrorSource>(std::move(snapshot), cache, url, on_event);
}

std::unique_ptr<Source> direct_source(const RepoUrl& url, const CredentialProvider* credentials,
                                      const EventCallback* on_event, ErrorCode code) {
  return std::make_unique<DirectSource>(url, credentials, on_event, code);
}

void set_tracking_refs(git_repository* repo, const RefSnapshot& refs, ErrorCode code) {
  std::set<std::string> wanted;
  for (const auto& [name, id] : refs.refs) {
    if (starts_with(name, kHeads)) {
      std::string tracking = std::string(kTracking) + name.substr(kHeads.size());
      wanted.insert(tracking);
      put_ref(repo, tracking, id, code);
    } else if (starts_with(name, kTags)) {
      put_ref(repo, name, id, code);
    }
  }
  // Prune remote-tracking branches upstream deleted.
  git_reference_iterator* it_raw = nullptr;
  if (git_reference_iterator_glob_new(&it_raw, repo, "refs/remotes/origin/*") == 0) {
    GitRefIterator it(it_raw);
    std::vector<std::string> stale;
    git_reference* ref_raw = nullptr;
    while (git_reference_next(&ref_raw, it.get()) == 0) {
      GitReference ref(ref_raw);
      std::string name = git_reference_name(ref.get());
      if (name != "refs/remotes/origin/HEAD" && !wanted.count(name)) stale.push_back(name);
    }
    for (const auto& name : stale) {
      git_reference* r = nullptr;
      if (git_reference_lookup(&r, repo, name.c_str()) == 0) {
        GitReference ref(r);
        git_reference_delete(ref.get());
      }
    }
  }
  if (refs.head && starts_with(*refs.head, kHeads)) {
    std::string target = std::string(kTracking) + refs.head->substr(kHeads.size());
    git_reference* raw = nullptr;
    bool same = false;
    if (git_reference_lookup(&raw, repo, "refs/remotes/origin/HEAD") == 0) {
      GitReference existing(raw);
      same = git_reference_type(existing.get()) == GIT_REFERENCE_SYMBOLIC &&
             target == git_reference_symbolic_target(existing.get());
    }
    if (!same && wanted.count(target)) {
      raw = nullptr;
      git_reference_symbolic_create(&raw, repo, "refs/remotes/origin/HEAD", target.c_str(), 1, "coursehub: sync");
      GitReference created(raw);
    }
  }
}

bool complete_shallow(git_repository* repo) {
  fs::path shallow = fs::path(git_repository_path(repo)) / "shallow";
  std::ifstream in(shallow);
  if (!in) return true;
  git_odb* raw = nullptr;
  if (git_repository_odb(&raw, repo) != 0) return false;
  GitOdb odb(raw);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    git_oid oid;
    if (git_oid_fromstrn(&oid, line.c_str(), line.size()) < 0) continue;
    git_commit* c_raw = nullptr;
    if (git_commit_lookup(&c_raw, repo, &oid) != 0) return false;
    GitCommit commit(c_raw);
    for (unsigned i = 0; i < git_commit_parentcount(commit.get()); ++i)
      if (git_odb_exists(odb.get(), git_commit_parent_id(commit.get(), i)) != 1) return false;
  }
  in.close();
  std::error_code ec;
  fs::remove(shallow, ec);
  return !ec;
}

}  // namespace gitpuller::detail
