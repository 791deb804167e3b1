#include "envmgr/env_manager.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "bundle.hpp"
#include "common/file_lock.hpp"
#include "common/process.hpp"
#include "common/time_util.hpp"
#include "envmgr/installer.hpp"
#include "envmgr/requirement.hpp"
#include "envmgr/version.hpp"
#include "history.hpp"
#include "wheelhouse.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace envmgr {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::not_an_env: return "not_an_env";
    case ErrorCode::bad_spec: return "bad_spec";
    case ErrorCode::bad_requirements: return "bad_requirements";
    case ErrorCode::not_installed: return "not_installed";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::missing_wheel: return "missing_wheel";
    case ErrorCode::bad_bundle: return "bad_bundle";
    case ErrorCode::installer: return "installer";
    case ErrorCode::busy: return "busy";
    case ErrorCode::io: return "io";
  }
  return "unknown";
}

const char* to_string(Change::Kind kind) {
  switch (kind) {
    case Change::Kind::added: return "added";
    case Change::Kind::removed: return "removed";
    case Change::Kind::upgraded: return "upgraded";
    case Change::Kind::downgraded: return "downgraded";
    case Change::Kind::reinstalled: return "reinstalled";
  }
  return "changed";
}

const char* to_string(TxnKind kind) {
  switch (kind) {
    case TxnKind::init: return "init";
    case TxnKind::install: return "install";
    case TxnKind::upgrade: return "upgrade";
    case TxnKind::remove: return "remove";
    case TxnKind::rollback: return "rollback";
    case TxnKind::import: return "import";
  }
  return "install";
}

const char* to_string(TxnState state) {
  switch (state) {
    case TxnState::running: return "running";
    case TxnState::succeeded: return "succeeded";
    case TxnState::failed: return "failed";
    case TxnState::interrupted: return "interrupted";
  }
  return "failed";
}

std::vector<Change> diff(const PackageSet& before, const PackageSet& after) {
  std::vector<Change> out;
  for (const auto& [key, b] : before) {
    auto it = after.find(key);
    if (it == after.end()) {
      out.push_back({Change::Kind::removed, b.name, b.version, ""});
      continue;
    }
    if (it->second.version == b.version) continue;
    auto cmp = Version::parse(it->second.version) <=> Version::parse(b.version);
    out.push_back({cmp > 0 ? Change::Kind::upgraded : cmp < 0 ? Change::Kind::downgraded : Change::Kind::reinstalled,
                   it->second.name, b.version, it->second.version});
  }
  for (const auto& [key, a] : after)
    if (!before.count(key)) out.push_back({Change::Kind::added, a.name, "", a.version});
  std::sort(out.begin(), out.end(), [](const Change& x, const Change& y) {
    return canonical_name(x.name) < canonical_name(y.name);
  });
  return out;
}

namespace {

using detail::HistoryStore;
using detail::Wheelhouse;

// Runs pip's command-line entry point once per step, in one interpreter, so
// a transaction pays for Python and pip's imports once.  Each step is exactly
// the argv of a `python -m pip ...` command, recorded as such.
constexpr const char* kDriver =
    "import json, sys\n"
    "from pip._internal.cli.main import main\n"
    "steps = json.loads(sys.argv[1])\n"
    "for i, argv in enumerate(steps, 1):\n"
    "    print('coursehub: step %d/%d: pip %s' % (i, len(steps), ' '.join(argv)), flush=True)\n"
    "    rc = main(argv)\n"
    "    if rc:\n"
    "        sys.exit(rc)\n";

const std::vector<std::string>& pip_general_options() {
  static const std::vector<std::string> kOptions = {"--isolated", "--disable-pip-version-check", "--no-input",
                                                    "--no-color"};
  return kOptions;
}

void append(std::vector<std::string>& to, const std::vector<std::string>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

std::string join(const std::vector<std::string>& v, const std::string& sep = " ") {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

bool path_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

void make_dir(const std::string& p, mode_t mode) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) return;
  fs::create_directories(p, ec);
  if (ec) throw EnvError(ErrorCode::io, "cannot create " + p + ": " + ec.message());
  ::chmod(p.c_str(), mode);
}

PackageSet to_set(const std::map<std::string, InstalledDist>& dists) {
  PackageSet out;
  for (const auto& [k, d] : dists) out[k] = PackageRef{d.name, d.version};
  return out;
}

std::string describe(const PackageSet& set) {
  std::vector<std::string> parts;
  for (const auto& [k, p] : set) parts.push_back(p.name + " " + p.version);
  return join(parts, ", ");
}

std::string summarize(const std::vector<Change>& changes) {
  if (changes.empty()) return "Nothing changed.";
  std::map<Change::Kind, std::vector<std::string>> by;
  for (const auto& c : changes) {
    std::string s = c.name + " ";
    if (c.kind == Change::Kind::added) s += c.to;
    else if (c.kind == Change::Kind::removed) s += c.from;
    else s += c.from + " -> " + c.to;
    by[c.kind].push_back(s);
  }
  std::string out;
  auto add = [&](Change::Kind k, const char* label) {
    if (!by.count(k)) return;
    out += std::string(out.empty() ? "" : "; ") + label + ": " + join(by[k], ", ");
  };
  add(Change::Kind::added, "installed");
  add(Change::Kind::upgraded, "upgraded");
  add(Change::Kind::downgraded, "downgraded");
  add(Change::Kind::reinstalled, "reinstalled");
  add(Change::Kind::removed, "removed");
  return out + ".";
}

// The gist of a failed pip run: its error lines (ERROR:, error:, and the
// "×" headlines of its rich errors) and what it was working on.
std::string error_summary(const std::string& output) {
  std::vector<std::string> errors, tail;
  std::string working_on;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::string t = line.substr(std::min(line.find_first_not_of(' '), line.size()));
    if (t.rfind("ERROR: ", 0) == 0) errors.push_back(t.substr(7));
    else if (t.rfind("error: ", 0) == 0) errors.push_back(t.substr(7));
    else if (t.rfind("\xc3\x97 ", 0) == 0) errors.push_back(t.substr(3));
    if (t.rfind("Collecting ", 0) == 0 || t.rfind("Processing ", 0) == 0) working_on = t;
    if (!t.empty() && t.rfind("coursehub:", 0) != 0) {
      tail.push_back(t);
      if (tail.size() > 3) tail.erase(tail.begin());
    }
  }
  const auto& pick = errors.empty() ? tail : errors;
  std::string out;
  for (std::size_t i = pick.size() > 4 ? pick.size() - 4 : 0; i < pick.size(); ++i)
    out += (out.empty() ? "" : " ") + pick[i];
  if (!working_on.empty() && !errors.empty()) out += " (while: " + working_on + ")";
  return out;
}

struct RunOutcome {
  int exit_code = -1;
  bool ok() const { return exit_code == 0; }
  std::string describe_failure() const {
    if (exit_code == -1) return "the installer was killed";
    return "the installer exited with status " + std::to_string(exit_code);
  }
};

// Top-level entries of the environment's site folder and bin/, so files a
// killed installer left behind (and no distribution owns) can be removed.
json snapshot_entries(const EnvLayout& layout) {
  json j = json::object();
  auto names = [](const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  };
  j["site"] = names(layout.own_site_dirs.front());
  j["bin"] = names(layout.bin_dir);
  std::vector<std::string> requested;
  for (const auto& [k, d] : own_distributions(layout))
    if (path_exists(d.info_path + "/REQUESTED")) requested.push_back(k);
  j["requested"] = requested;
  return j;
}

// pip marks what it installs by name as REQUESTED (PEP 376); a restore
// installs everything by name, so put the marker back the way it was.
void set_requested(const InstalledDist& d, bool requested) {
  std::string marker = d.info_path + "/REQUESTED";
  bool has = path_exists(marker);
  if (has == requested) return;
  std::string rel = fs::path(d.info_path).filename().string() + "/REQUESTED";
  std::ifstream in(d.info_path + "/RECORD");
  std::string line, record;
  while (std::getline(in, line)) {
    if (line.rfind(rel + ",", 0) == 0) continue;
    record += line + "\n";
  }
  in.close();
  if (requested) {
    std::ofstream(marker).flush();
    record += rel + ",,\n";
  } else {
    std::error_code ec;
    fs::remove(marker, ec);
  }
  std::ofstream out(d.info_path + "/RECORD", std::ios::trunc);
  out << record;
}

bool record_complete(const InstalledDist& d) {
  for (const auto& f : record_files(d)) {
    if (f.find("/__pycache__/") != std::string::npos) continue;
    if (!path_exists(f)) return false;
  }
  return true;
}

bool process_alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string p, comm, state;
  if (!(stat >> p >> comm >> state)) return false;
  return state != "Z" && state != "X";
}

}  // namespace

namespace {

// Everything a running transaction needs; lives for one public call.
class TxnRunner {
 public:
  TxnRunner(const EnvManager& mgr, const Observer& obs) : mgr_(mgr), obs_(obs) {}

  std::string mgr_dir() const { return mgr_.state_dir() + "/envmgr"; }
  std::string lock_path() const { return mgr_dir() + "/lock"; }
  std::string marker_path() const { return mgr_dir() + "/current.json"; }
  std::string db_path() const { return mgr_.state_dir() + "/envmgr.sqlite"; }
  std::string log_path(std::int64_t id) const { return mgr_dir() + "/logs/" + std::to_string(id) + ".log"; }
  std::string txn_dir(std::int64_t id) const { return mgr_dir() + "/txn/" + std::to_string(id); }

  void ensure_dirs() const {
    if (!path_exists(mgr_.options().prefix))
      throw EnvError(ErrorCode::not_an_env, mgr_.options().prefix + " does not exist");
    make_dir(mgr_.state_dir(), 0700);
    make_dir(mgr_.wheelhouse_dir(), 0755);
    make_dir(mgr_dir(), 0755);
    make_dir(mgr_dir() + "/logs", 0755);
    make_dir(mgr_dir() + "/txn", 0755);
  }

  common::FileLock take_lock(std::optional<std::chrono::milliseconds> timeout) const {
    if (auto l = common::FileLock::try_acquire(lock_path(), 0ms)) return std::move(*l);
    if (obs_.on_wait) obs_.on_wait(read_marker(marker_path()).value_or(RunningInfo{}));
    if (timeout) {
      auto l = common::FileLock::try_acquire(lock_path(), *timeout);
      if (!l) throw EnvError(ErrorCode::busy, "another transaction is still running on the environment");
      return std::move(*l);
    }
    return common::FileLock::acquire(lock_path());
  }

  static std::optional<RunningInfo> read_marker(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
      json j = json::parse(in);
      RunningInfo r;
      r.id = j.value("id", std::int64_t{0});
      std::string kind = j.value("kind", "install");
      for (auto k : {TxnKind::init, TxnKind::install, TxnKind::upgrade, TxnKind::remove, TxnKind::rollback,
                     TxnKind::import})
        if (kind == to_string(k)) r.kind = k;
      r.requested_by = j.value("requested_by", "");
      r.request = j.value("request", std::vector<std::string>{});
      r.started = j.value("started", 0.0);
      r.pid = j.value("pid", 0);
      return r;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  void write_marker(const Transaction& t) const {
    json j = {{"id", t.id},
              {"kind", to_string(t.kind)},
              {"requested_by", t.requested_by},
              {"request", t.request},
              {"started", t.started},
              {"pid", static_cast<int>(::getpid())}};
    std::string tmp = marker_path() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << j.dump() << "\n";
    }
    fs::rename(tmp, marker_path());
  }

  void emit(const std::string& line) {
    output_ += line;
    output_ += '\n';
    if (log_) {
      log_ << line << '\n';
      log_.flush();
    }
    if (obs_.on_line) obs_.on_line(line);
  }

  std::vector<std::string> pip_command(const EnvLayout& layout, const std::vector<std::string>& args) const {
    std::vector<std::string> cmd = {layout.python, "-m", "pip"};
    append(cmd, args);
    return cmd;
  }

  common::ProcessOptions installer_options(const EnvLayout& layout, const std::string& cwd,
                                           std::function<void(int)> on_pid) {
    common::ProcessOptions o;
    o.cwd = cwd;
    o.clear_env = true;
    o.env["PATH"] = layout.bin_dir + ":/usr/local/bin:/usr/bin:/bin";
    const char* home = std::getenv("HOME");
    o.env["HOME"] = home && *home ? home : "/root";
    o.env["LANG"] = "C.UTF-8";
    o.env["LC_ALL"] = "C.UTF-8";
    o.env["TMPDIR"] = cwd + "/tmp";
    o.env["PYTHONNOUSERSITE"] = "1";
    o.env["PYTHONUNBUFFERED"] = "1";
    for (const char* pass : {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                             "ALL_PROXY", "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"}) {
      if (const char* v = std::getenv(pass)) o.env[pass] = v;
    }
    o.merge_stderr = true;
    o.umask = 022;
    o.die_with_parent = true;
    o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(mgr_.options().installer_timeout);
    o.on_line = [this](const std::string& l) { emit(l); };
    o.on_start = std::move(on_pid);
    return o;
  }

  // Runs the pip steps in one interpreter; records each as a command.
  RunOutcome run_steps(const EnvLayout& layout, const std::vector<std::vector<std::string>>& steps,
                       const std::string& cwd, std::vector<std::vector<std::string>>& commands,
                       HistoryStore* store, std::int64_t id) {
    for (const auto& s : steps) commands.push_back(pip_command(layout, s));
    if (store) store->set_commands(id, commands);
    make_dir(cwd + "/tmp", 0700);
    return run_installer(layout, {layout.python, "-u", "-c", kDriver, json(steps).dump()}, cwd, store, id);
  }

  // Runs one installer command line (conda's or mamba's) as it is.
  RunOutcome run_native(const EnvLayout& layout, const std::vector<std::string>& argv, const std::string& cwd,
                        std::vector<std::vector<std::string>>& commands, HistoryStore* store, std::int64_t id) {
    commands.push_back(argv);
    if (store) store->set_commands(id, commands);
    make_dir(cwd + "/tmp", 0700);
    emit("coursehub: step 1/1: " + join(argv));
    return run_installer(layout, argv, cwd, store, id);
  }

  // Runs an installer process with the environment's options, recording its
  // pid on the transaction (for recovery after a crash); 127 when it cannot start.
  RunOutcome run_installer(const EnvLayout& layout, const std::vector<std::string>& argv, const std::string& cwd,
                           HistoryStore* store, std::int64_t id) {
    auto options = installer_options(layout, cwd, [&](int pid) {
      if (store) {
        try {
          store->set_installer_pid(id, pid);
        } catch (...) {
        }
      }
    });
    RunOutcome out;
    try {
      auto r = common::run_process(argv, options);
      out.exit_code = r.exit_code;
      if (r.timed_out) emit("coursehub: the installer ran longer than the limit and was stopped");
    } catch (const common::ProcessError& e) {
      emit(std::string("coursehub: cannot run the installer: ") + e.what());
      out.exit_code = 127;
    }
    return out;
  }

  struct RestoreResult {
    bool verified = false;
    PackageSet now;
  };

  // Puts the environment's own packages back to exactly `target`, installing
  // from the wheelhouse only.  Throws missing_wheel (changing nothing) when a
  // needed wheel is not there.
  RestoreResult restore_to(const EnvLayout& layout, const PackageSet& target, const std::optional<json>& entries_before,
                           const std::string& cwd, std::vector<std::vector<std::string>>& commands,
                           HistoryStore* store, std::int64_t id, bool force_all = false) {
    Wheelhouse wh(mgr_.wheelhouse_dir());
    auto current = own_distributions(layout);
    std::vector<std::string> remove, files, missing;
    for (const auto& [k, d] : current)
      if (!target.count(k)) remove.push_back(d.name);
    std::vector<std::string> reinstalled;
    for (const auto& [k, p] : target) {
      auto it = current.find(k);
      bool same = it != current.end() && it->second.version == p.version && record_complete(it->second);
      if (same && !force_all) continue;
      // By name from the wheelhouse, not by file: a file would be recorded
      // as a direct URL install (direct_url.json), unlike the original.
      if (wh.find(k, p.version)) files.push_back(p.name + "==" + p.version);
      else missing.push_back(p.name + " " + p.version);
      reinstalled.push_back(k);
    }
    if (!missing.empty())
      throw EnvError(ErrorCode::missing_wheel,
                     "the wheelhouse has no wheel for " + join(missing, ", ") + "; cannot restore offline");
    std::vector<std::vector<std::string>> steps;
    if (!remove.empty()) {
      std::vector<std::string> s = {"uninstall"};
      append(s, pip_general_options());
      append(s, {"--yes", "--root-user-action=ignore"});
      append(s, remove);
      steps.push_back(s);
    }
    if (!files.empty()) {
      std::vector<std::string> s = {"install"};
      append(s, pip_general_options());
      append(s, {"--progress-bar", "off", "--root-user-action=ignore", "--no-index", "--find-links",
                 mgr_.wheelhouse_dir(), "--no-deps", "--force-reinstall"});
      append(s, files);
      steps.push_back(s);
    }
    if (!steps.empty()) {
      auto r = run_steps(layout, steps, cwd, commands, store, id);
      if (!r.ok()) emit("coursehub: " + r.describe_failure() + " while restoring");
    }
    cleanup_leftovers(layout, entries_before);
    if (entries_before && entries_before->contains("requested")) {
      auto was = entries_before->at("requested").get<std::vector<std::string>>();
      auto now = own_distributions(layout);
      for (const auto& k : reinstalled)
        if (auto it = now.find(k); it != now.end())
          set_requested(it->second, std::find(was.begin(), was.end(), k) != was.end());
    }
    RestoreResult res;
    res.now = to_set(own_distributions(layout));
    res.verified = res.now == target;
    return res;
  }

  // Removes what a killed pip leaves in site-packages: its "~xxx" stash
  // folders, and top-level files and folders that appeared during the
  // transaction and belong to no installed distribution.
  void cleanup_leftovers(const EnvLayout& layout, const std::optional<json>& entries_before) {
    const std::string site = layout.own_site_dirs.front();
    std::set<std::string> owned_site, owned_bin;
    for (const auto& [k, d] : own_distributions(layout)) {
      owned_site.insert(fs::path(d.info_path).filename().string());
      for (const auto& f : record_files(d)) {
        auto rel = fs::path(f).lexically_relative(site).string();
        if (!rel.empty() && rel.rfind("..", 0) != 0) owned_site.insert(rel.substr(0, rel.find('/')));
        auto relb = fs::path(f).lexically_relative(layout.bin_dir).string();
        if (!relb.empty() && relb.rfind("..", 0) != 0) owned_bin.insert(relb);
      }
    }
    std::set<std::string> before_site, before_bin;
    if (entries_before) {
      for (const auto& n : entries_before->value("site", std::vector<std::string>{})) before_site.insert(n);
      for (const auto& n : entries_before->value("bin", std::vector<std::string>{})) before_bin.insert(n);
    }
    auto sweep = [&](const std::string& dir, const std::set<std::string>& before, const std::set<std::string>& owned,
                     bool stash_too) {
      std::error_code ec;
      std::vector<fs::path> victims;
      for (const auto& e : fs::directory_iterator(dir, ec)) {
        auto name = e.path().filename().string();
        if (owned.count(name)) continue;
        bool stash = stash_too && !name.empty() && name[0] == '~';
        bool appeared = entries_before && !before.count(name);
        if (stash || appeared) victims.push_back(e.path());
      }
      for (const auto& v : victims) {
        std::error_code rec;
        fs::remove_all(v, rec);
        emit("coursehub: removed leftover " + v.string());
      }
    };
    sweep(site, before_site, owned_site, true);
    sweep(layout.bin_dir, before_bin, owned_bin, false);
  }

  void open_log(std::int64_t id) {
    if (log_.is_open()) log_.close();
    log_.open(log_path(id), std::ios::app);
    ::chmod(log_path(id).c_str(), 0644);
  }

  std::string take_output() { return std::move(output_); }
  void reset_output(std::string text) { output_ = std::move(text); }

 private:
  const EnvManager& mgr_;
  const Observer& obs_;
  std::string output_;
  std::ofstream log_;
};

double now_seconds() { return common::unix_seconds(); }

void finish_times(Transaction& t) {
  t.finished = now_seconds();
  t.duration_ms = static_cast<std::int64_t>((t.finished - t.started) * 1000.0);
}

// Secures a wheel for every own package, so what is there now can come back.
std::vector<std::string> secure_all(const EnvLayout& layout, const std::string& wheelhouse) {
  Wheelhouse wh(wheelhouse);
  std::vector<std::string> unsecured;
  for (const auto& [k, d] : own_distributions(layout))
    if (!wh.secure(d, layout)) unsecured.push_back(d.name + " " + d.version);
  return unsecured;
}

}  // namespace

EnvManager::EnvManager(ManagerOptions options) : options_(std::move(options)) {
  // The installer runs in its own working folder: every path must be absolute.
  std::error_code ec;
  auto abs = fs::absolute(options_.prefix, ec);
  if (!ec) options_.prefix = abs.lexically_normal().string();
  while (options_.prefix.size() > 1 && options_.prefix.back() == '/') options_.prefix.pop_back();
}

std::string EnvManager::env_dir() const { return options_.prefix + "/user"; }
std::string EnvManager::state_dir() const { return options_.prefix + "/state"; }
std::string EnvManager::wheelhouse_dir() const { return state_dir() + "/wheelhouse"; }

EnvLayout EnvManager::layout() const { return require_layout(env_dir()); }

std::vector<InstalledDist> EnvManager::list() const { return scan_distributions(layout()); }

PackageSet EnvManager::installed() const { return to_set(own_distributions(layout())); }

std::optional<DistDetails> EnvManager::show(const std::string& name) const {
  auto l = layout();
  auto all = scan_distributions(l);
  std::string key = canonical_name(name);
  auto it = std::find_if(all.begin(), all.end(), [&](const InstalledDist& d) { return canonical_name(d.name) == key; });
  if (it == all.end()) return std::nullopt;
  DistDetails out;
  out.dist = *it;
  auto h = read_metadata_headers(it->info_path);
  auto get = [&](const char* k) {
    auto f = h.find(k);
    return f == h.end() ? std::string() : f->second;
  };
  out.summary = get("summary");
  out.home_page = get("home-page");
  out.license = get("license");
  out.requires_python = get("requires-python");
  for (auto [b, e] = h.equal_range("requires-dist"); b != e; ++b) out.requires_dist.push_back(b->second);
  out.files = record_files(*it);
  for (const auto& other : all) {
    if (&other == &*it) continue;
    auto oh = read_metadata_headers(other.info_path);
    for (auto [b, e] = oh.equal_range("requires-dist"); b != e; ++b) {
      const std::string& req = b->second;
      std::size_t n = 0;
      while (n < req.size() && (std::isalnum(static_cast<unsigned char>(req[n])) || req[n] == '-' || req[n] == '_' ||
                                req[n] == '.'))
        ++n;
      if (canonical_name(req.substr(0, n)) != key) continue;
      if (req.find("extra ==") != std::string::npos || req.find("extra==") != std::string::npos) continue;
      out.required_by.push_back(other.name);
      break;
    }
  }
  return out;
}

std::vector<Transaction> EnvManager::history(int limit) const {
  std::string db = state_dir() + "/envmgr.sqlite";
  if (!path_exists(db)) return {};
  detail::HistoryStore store(db);
  return store.list(limit);
}

std::optional<Transaction> EnvManager::transaction(std::int64_t id) const {
  std::string db = state_dir() + "/envmgr.sqlite";
  if (!path_exists(db)) return std::nullopt;
  detail::HistoryStore store(db);
  return store.get(id);
}

std::optional<RunningInfo> EnvManager::running() const {
  Observer none;
  TxnRunner r(*this, none);
  auto marker = TxnRunner::read_marker(r.marker_path());
  if (!marker || !path_exists(r.lock_path())) return std::nullopt;
  // The marker is only meaningful while its writer holds the lock.
  if (auto probe = common::FileLock::try_acquire(r.lock_path(), 0ms)) return std::nullopt;
  return marker;
}

bool EnvManager::needs_recovery() const {
  Observer none;
  TxnRunner r(*this, none);
  if (!path_exists(r.marker_path())) return false;
  auto probe = common::FileLock::try_acquire(r.lock_path(), 0ms);
  return probe.has_value();
}

bool EnvManager::wait_idle(std::chrono::milliseconds timeout) const {
  Observer none;
  TxnRunner r(*this, none);
  if (!path_exists(r.lock_path())) return true;
  return common::FileLock::try_acquire(r.lock_path(), timeout).has_value();
}

LogChunk EnvManager::read_log(std::int64_t id, std::uint64_t offset) const {
  Observer none;
  TxnRunner r(*this, none);
  LogChunk out;
  auto txn = transaction(id);
  if (!txn) throw EnvError(ErrorCode::not_found, "no transaction #" + std::to_string(id));
  out.finished = txn->state != TxnState::running;
  std::ifstream in(r.log_path(id), std::ios::binary);
  std::string text;
  if (in) {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    text = txn->output;
  }
  if (offset < text.size()) {
    std::string rest = text.substr(offset);
    // Hand out whole lines only while the log still grows.
    if (!out.finished) {
      auto nl = rest.rfind('\n');
      rest = nl == std::string::npos ? std::string() : rest.substr(0, nl + 1);
    }
    out.text = rest;
  }
  out.next_offset = offset + out.text.size();
  return out;
}

bool EnvManager::ensure_kernel_spec() const {
  auto l = detect_layout(env_dir());
  if (!l || l->kind != EnvKind::venv) return false;
  const std::string dir = l->root + "/share/jupyter/kernels/python3";
  if (path_exists(dir + "/kernel.json")) return false;
  auto all = scan_distributions(*l);
  if (std::none_of(all.begin(), all.end(), [](const InstalledDist& d) { return d.canonical == "ipykernel"; }))
    return false;
  json spec = {{"argv", {l->python, "-m", "ipykernel_launcher", "-f", "{connection_file}"}},
               {"display_name", "Python 3 (ipykernel)"},
               {"language", "python"},
               {"metadata", {{"debugger", true}}}};
  for (const auto& d : {l->root + "/share", l->root + "/share/jupyter", l->root + "/share/jupyter/kernels", dir})
    make_dir(d, 0755);
  std::string tmp = dir + "/kernel.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << spec.dump(1) << "\n";
    if (!out) throw EnvError(ErrorCode::io, "cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0644);
  std::error_code ec;
  fs::rename(tmp, dir + "/kernel.json", ec);
  if (ec) throw EnvError(ErrorCode::io, "cannot write " + dir + "/kernel.json: " + ec.message());
  return true;
}

CheckReport EnvManager::check() const {
  auto l = layout();
  Observer none;
  TxnRunner r(*this, none);
  CheckReport rep;
  rep.command = {l.python, "-m", "pip", "check", "--isolated", "--disable-pip-version-check", "--no-input"};
  common::ProcessOptions o;
  o.merge_stderr = true;
  o.env["PYTHONNOUSERSITE"] = "1";
  o.env["PYTHONPATH"] = "";
  o.cwd = "/";
  auto res = common::run_process(rep.command, o);
  rep.output = res.out;
  rep.ok = res.ok();
  if (!rep.ok) {
    std::istringstream in(res.out);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty() && line.rfind("WARNING", 0) != 0) rep.problems.push_back(line);
  }
  return rep;
}

InitResult EnvManager::init(const InitOptions& io) {
  InitResult result;
  if (auto l = detect_layout(env_dir())) {
    result.layout = *l;
    return result;
  }
  std::error_code ec;
  if (fs::exists(env_dir(), ec)) {
    if (!fs::is_directory(env_dir(), ec) || !fs::is_empty(env_dir(), ec))
      throw EnvError(ErrorCode::not_an_env, env_dir() +
                                                " exists, is not empty and is not a Python environment; "
                                                "refusing to touch it (move it away or choose another --prefix)");
  }
  if (!path_exists(options_.prefix)) make_dir(options_.prefix, 0755);
  Observer none;
  TxnRunner r(*this, none);
  r.ensure_dirs();
  auto lock = r.take_lock(std::nullopt);
  if (::access(io.python.c_str(), X_OK) != 0)
    throw EnvError(ErrorCode::installer, io.python + " is not an executable Python interpreter");

  Transaction t;
  t.kind = TxnKind::init;
  t.requested_by = io.requested_by;
  t.request = {io.python};
  if (io.system_site_packages) t.request.push_back("--system-site-packages");
  t.started = now_seconds();
  std::vector<std::string> argv = {io.python, "-m", "venv"};
  if (io.system_site_packages) argv.push_back("--system-site-packages");
  argv.push_back(env_dir());
  t.commands.push_back(argv);
  common::ProcessOptions o;
  o.merge_stderr = true;
  o.umask = 022;
  o.die_with_parent = true;
  o.env["PYTHONNOUSERSITE"] = "1";
  o.cwd = "/";
  auto res = common::run_process(argv, o);
  auto made = detect_layout(env_dir());
  if (!res.ok() || !made) {
    fs::remove_all(env_dir(), ec);
    throw EnvError(ErrorCode::installer, "creating the environment failed: " + error_summary(res.out + res.err) +
                                             " (is python3-venv installed?)");
  }
  secure_all(*made, wheelhouse_dir());
  ensure_kernel_spec();
  t.after = to_set(own_distributions(*made));
  t.exit_code = 0;
  t.output = res.out;
  t.state = TxnState::succeeded;
  t.message = "Created the environment " + env_dir() + " (Python " + made->python_version +
              (io.system_site_packages ? ", with the system's site-packages visible" : "") + ") with " +
              describe(t.after) + ".";
  detail::HistoryStore store(r.db_path());
  store.begin(t, "null");
  finish_times(t);
  store.finish(t);
  result.created = true;
  result.layout = *made;
  result.transaction = t;
  return result;
}

namespace {

// Shared shape of every change: lock, recover, before, run, verify, record.
struct Plan {
  TxnKind kind;
  std::vector<std::string> request;
  std::string requested_by;
  std::optional<std::chrono::milliseconds> lock_timeout;
  std::optional<std::int64_t> rollback_of;
  // Validates against the current set and returns the pip steps (or, for
  // restores, leaves them empty and sets `restore_target`).
  std::function<std::vector<std::vector<std::string>>(const EnvLayout&, const PackageSet& before,
                                                      const std::string& txn_dir)>
      steps;
  std::optional<PackageSet> restore_target;
  std::function<void(const EnvLayout&, const PackageSet&)> pre_check;  // throws before anything is recorded
  // The environment's own installer command (conda/mamba), used instead of
  // `steps` when it returns one.
  // `note` says why pip is used in a conda environment.
  std::function<std::optional<std::vector<std::string>>(const EnvLayout&, const PackageSet& before, std::string& note)>
      native;
};

}  // namespace

namespace {

std::optional<Transaction> recover_locked(EnvManager& mgr, TxnRunner& runner, const Observer& obs) {
  if (!path_exists(runner.db_path())) {
    std::error_code ec;
    fs::remove(runner.marker_path(), ec);
    return std::nullopt;
  }
  HistoryStore store(runner.db_path());
  std::optional<Transaction> last;
  for (auto t : store.running()) {
    runner.open_log(t.id);
    runner.reset_output(t.output);
    {
      std::ifstream in(runner.log_path(t.id));
      if (in) runner.reset_output(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    }
    // An installer orphaned by its dead parent may still be finishing.
    if (auto pid = store.installer_pid(t.id); pid && *pid > 0 && process_alive(*pid)) {
      std::ifstream cmd("/proc/" + std::to_string(*pid) + "/cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
      if (cmdline.find("pip") != std::string::npos || cmdline.find("conda") != std::string::npos ||
          cmdline.find("mamba") != std::string::npos) {
        ::kill(-*pid, SIGKILL);
        ::kill(*pid, SIGKILL);
        for (int i = 0; i < 500 && process_alive(*pid); ++i) std::this_thread::sleep_for(20ms);
      }
    }
    runner.emit("coursehub: transaction #" + std::to_string(t.id) +
                " was interrupted (the process running it died); restoring the packages it started from");
    auto layout = mgr.layout();
    std::optional<json> entries;
    if (auto e = store.entries_before(t.id); e && !e->empty() && *e != "null") entries = json::parse(*e);
    std::string dir = runner.txn_dir(t.id);
    make_dir(dir, 0700);
    try {
      auto res = runner.restore_to(layout, t.before, entries, dir, t.commands, &store, t.id);
      t.after = res.now;
      t.restored = res.verified;
    } catch (const EnvError& e) {
      runner.emit(std::string("coursehub: cannot restore: ") + e.what());
      t.after = mgr.installed();
      t.restored = false;
    }
    t.state = TxnState::interrupted;
    t.message = t.restored ? "Interrupted (the process running it died); the environment was rolled back to the "
                             "packages it had before."
                           : "Interrupted (the process running it died) and could not be fully rolled back; "
                             "see the log.";
    runner.emit("coursehub: " + t.message);
    t.output = runner.take_output();
    finish_times(t);
    store.finish(t);
    std::error_code ec;
    fs::remove_all(dir, ec);
    last = t;
  }
  std::error_code ec;
  fs::remove(runner.marker_path(), ec);
  return last;
}

Transaction run_plan(EnvManager& mgr, Plan& plan, const Observer& obs) {
  TxnRunner runner(mgr, obs);
  runner.ensure_dirs();
  auto lock = runner.take_lock(plan.lock_timeout);
  recover_locked(mgr, runner, obs);
  auto layout = mgr.layout();
  auto before_dists = own_distributions(layout);
  PackageSet before = to_set(before_dists);
  if (plan.pre_check) plan.pre_check(layout, before);
  auto unsecured = secure_all(layout, mgr.wheelhouse_dir());

  HistoryStore store(runner.db_path());
  Transaction t;
  t.kind = plan.kind;
  t.requested_by = plan.requested_by;
  t.request = plan.request;
  t.before = before;
  t.rollback_of = plan.rollback_of;
  t.started = now_seconds();
  json entries = snapshot_entries(layout);
  store.begin(t, entries.dump());
  runner.write_marker(t);
  runner.open_log(t.id);
  if (obs.on_start) obs.on_start(t);
  std::string dir = runner.txn_dir(t.id);
  make_dir(dir, 0700);
  make_dir(dir + "/wheels", 0755);
  if (!unsecured.empty())
    runner.emit("coursehub: warning: no wheel can be kept for " + join(unsecured, ", ") +
                " (installed without a RECORD); they cannot be restored offline");

  bool ok = false;
  std::string failure;
  try {
    if (plan.restore_target) {
      auto res = runner.restore_to(layout, *plan.restore_target, entries, dir, t.commands, &store, t.id);
      ok = res.verified;
      t.exit_code = ok ? 0 : 1;
      if (!ok) failure = "the environment did not reach the requested set of packages";
    } else {
      std::optional<std::vector<std::string>> native;
      std::string note;
      if (plan.native) native = plan.native(layout, before, note);
      if (!note.empty()) runner.emit("coursehub: " + note);
      auto r = native ? runner.run_native(layout, *native, dir, t.commands, &store, t.id)
                      : runner.run_steps(layout, plan.steps(layout, before, dir), dir, t.commands, &store, t.id);
      t.exit_code = r.exit_code;
      ok = r.ok();
      if (!ok) failure = r.describe_failure();
    }
  } catch (const EnvError& e) {
    failure = e.what();
    runner.emit(std::string("coursehub: ") + e.what());
  }
  if (!ok) {
    runner.emit("coursehub: " + failure + "; restoring the packages the environment had before");
    try {
      auto res = runner.restore_to(layout, before, entries, dir, t.commands, &store, t.id);
      t.restored = res.verified;
    } catch (const EnvError& e) {
      runner.emit(std::string("coursehub: cannot restore: ") + e.what());
    }
    if (!t.exit_code || *t.exit_code == 0) t.exit_code = 1;
  }
  Wheelhouse(mgr.wheelhouse_dir()).absorb(dir + "/wheels");
  try {
    // Removing an own ipykernel takes its kernel spec with it.
    if (mgr.ensure_kernel_spec()) runner.emit("coursehub: wrote a kernel spec for the environment's own Python");
  } catch (const EnvError& e) {
    runner.emit(std::string("coursehub: warning: ") + e.what());
  }
  t.after = to_set(own_distributions(layout));
  std::string output = runner.take_output();
  if (ok) {
    t.state = TxnState::succeeded;
    t.message = summarize(diff(t.before, t.after));
    bool added = false;
    for (const auto& c : diff(t.before, t.after)) added = added || c.kind != Change::Kind::removed;
    if (added) t.message += std::string(" ") + kRestartHint + " (A running kernel keeps the versions it started with.)";
  } else {
    t.state = TxnState::failed;
    std::string why = error_summary(output);
    t.message = "Failed: " + (why.empty() ? failure : why) + " " +
                (t.restored ? "The environment is exactly as it was before."
                            : "The environment could not be fully restored; see the log.");
  }
  t.output = output;
  finish_times(t);
  store.finish(t);
  {
    std::ofstream log(runner.log_path(t.id), std::ios::app);
    log << "coursehub: " << to_string(t.state) << ": " << t.message << "\n";
  }
  if (obs.on_line) obs.on_line("coursehub: " + std::string(to_string(t.state)) + ": " + t.message);
  std::error_code ec;
  fs::remove(runner.marker_path(), ec);
  fs::remove_all(dir, ec);
  return t;
}

}  // namespace

std::optional<Transaction> EnvManager::recover(const Observer& observer) {
  TxnRunner runner(*this, observer);
  if (!path_exists(runner.marker_path())) {
    // A transaction row left running without a marker needs recovery too.
    if (!path_exists(runner.db_path())) return std::nullopt;
    detail::HistoryStore store(runner.db_path());
    if (store.running().empty()) return std::nullopt;
  }
  runner.ensure_dirs();
  auto lock = common::FileLock::try_acquire(runner.lock_path(), 0ms);
  if (!lock) return std::nullopt;  // its owner is alive and still running it
  return recover_locked(*this, runner, observer);
}

namespace {

std::vector<Requirement> parse_request(const ChangeRequest& req) {
  std::vector<Requirement> out;
  for (const auto& s : req.specs) out.push_back(parse_requirement(s));
  if (req.requirements) {
    auto more = parse_requirements_file(*req.requirements);
    out.insert(out.end(), more.begin(), more.end());
  }
  if (out.empty()) throw EnvError(ErrorCode::bad_spec, "nothing to install: give at least one requirement");
  return out;
}

Transaction install_or_upgrade(EnvManager& mgr, const ChangeRequest& req, const Observer& obs, bool upgrade) {
  auto reqs = parse_request(req);
  bool hashed = std::any_of(reqs.begin(), reqs.end(), [](const Requirement& r) { return !r.hashes.empty(); });
  Plan plan;
  plan.kind = upgrade ? TxnKind::upgrade : TxnKind::install;
  for (const auto& r : reqs) plan.request.push_back(r.to_string());
  plan.requested_by = req.requested_by;
  plan.lock_timeout = req.lock_timeout;
  const auto& ix = mgr.options().index;
  std::string wheelhouse = mgr.wheelhouse_dir();
  plan.steps = [&, reqs, hashed, upgrade, wheelhouse](const EnvLayout&, const PackageSet&, const std::string& dir) {
    // Requirements go through a file written by us from validated tokens:
    // that is the only way to carry per-requirement hashes.
    std::vector<std::string> req_args;
    if (hashed) {
      std::string path = dir + "/requirements.txt";
      std::ofstream out(path);
      for (const auto& r : reqs) {
        out << r.to_string();
        for (const auto& h : r.hashes) out << " --hash=" << h;
        out << "\n";
      }
      req_args = {"-r", path};
    } else {
      for (const auto& r : reqs) req_args.push_back(r.to_string());
    }
    std::vector<std::string> fetch = {"wheel"};
    append(fetch, pip_general_options());
    append(fetch, {"--progress-bar", "off"});
    if (!ix.index_url.empty()) append(fetch, {"--index-url", ix.index_url});
    for (const auto& u : ix.extra_index_urls) append(fetch, {"--extra-index-url", u});
    for (const auto& u : ix.find_links) append(fetch, {"--find-links", u});
    for (const auto& h : ix.trusted_hosts) append(fetch, {"--trusted-host", h});
    append(fetch, {"--find-links", wheelhouse, "--wheel-dir", dir + "/wheels"});
    append(fetch, req_args);
    std::vector<std::string> inst = {"install"};
    append(inst, pip_general_options());
    append(inst, {"--progress-bar", "off", "--root-user-action=ignore", "--no-index", "--find-links", dir + "/wheels"});
    if (upgrade) append(inst, {"--upgrade", "--upgrade-strategy", "only-if-needed"});
    append(inst, req_args);
    return std::vector<std::vector<std::string>>{fetch, inst};
  };
  plan.native = [reqs, upgrade](const EnvLayout& layout, const PackageSet&, std::string& note) {
    auto installer = choose_installer(layout);
    auto cmd = conda_install_command(installer, layout, reqs, upgrade);
    if (!cmd && installer.kind != InstallerKind::pip)
      note = std::string(to_string(installer.kind)) +
             " cannot express this request (extras, markers or hashes): installing with pip";
    return cmd;
  };
  return run_plan(mgr, plan, obs);
}

}  // namespace

Transaction EnvManager::install(const ChangeRequest& request, const Observer& observer) {
  return install_or_upgrade(*this, request, observer, false);
}

Transaction EnvManager::upgrade(const ChangeRequest& request, const Observer& observer) {
  return install_or_upgrade(*this, request, observer, true);
}

Transaction EnvManager::remove(const ChangeRequest& request, const Observer& observer) {
  if (request.requirements) throw EnvError(ErrorCode::bad_spec, "remove takes package names, not a requirements file");
  if (request.specs.empty()) throw EnvError(ErrorCode::bad_spec, "nothing to remove: give at least one package name");
  for (const auto& n : request.specs)
    if (!valid_project_name(n)) throw EnvError(ErrorCode::bad_spec, "'" + n + "' is not a valid package name");
  Plan plan;
  plan.kind = TxnKind::remove;
  plan.request = request.specs;
  plan.requested_by = request.requested_by;
  plan.lock_timeout = request.lock_timeout;
  auto names = request.specs;
  auto mgr_layout_list = [this] { return scan_distributions(layout()); };
  plan.pre_check = [names, mgr_layout_list](const EnvLayout&, const PackageSet& before) {
    auto all = mgr_layout_list();
    for (const auto& n : names) {
      auto key = canonical_name(n);
      if (key == "pip")
        throw EnvError(ErrorCode::bad_spec, "pip is how coursehub changes the environment; it cannot be removed");
      if (before.count(key)) continue;
      bool inherited = std::any_of(all.begin(), all.end(), [&](const InstalledDist& d) { return d.canonical == key; });
      throw EnvError(ErrorCode::not_installed,
                     inherited ? n + " comes from the system's site-packages, not from this environment; it cannot "
                                     "be removed here"
                               : n + " is not installed in the environment");
    }
  };
  plan.steps = [names](const EnvLayout&, const PackageSet& before, const std::string&) {
    std::vector<std::string> s = {"uninstall"};
    append(s, pip_general_options());
    append(s, {"--yes", "--root-user-action=ignore"});
    for (const auto& n : names) s.push_back(before.at(canonical_name(n)).name);
    return std::vector<std::vector<std::string>>{s};
  };
  // conda removes what conda installed; what pip installed goes with pip.
  plan.native = [names](const EnvLayout& layout, const PackageSet&,
                         std::string& note) -> std::optional<std::vector<std::string>> {
    auto installer = choose_installer(layout);
    if (installer.kind == InstallerKind::pip) return std::nullopt;
    auto own = own_distributions(layout);
    for (const auto& n : names) {
      auto it = own.find(canonical_name(n));
      if (it == own.end() || it->second.installer != "conda") {
        note = n + " was not installed by conda: removing with pip";
        return std::nullopt;
      }
    }
    return conda_remove_command(installer, layout, names);
  };
  return run_plan(*this, plan, observer);
}

Transaction EnvManager::rollback(std::optional<std::int64_t> target, bool to_after, const std::string& requested_by,
                                 const Observer& observer) {
  std::string db = state_dir() + "/envmgr.sqlite";
  if (!path_exists(db)) throw EnvError(ErrorCode::not_found, "there is no transaction history to roll back");
  detail::HistoryStore store(db);
  std::optional<Transaction> t;
  if (target) {
    t = store.get(*target);
    if (!t) throw EnvError(ErrorCode::not_found, "no transaction #" + std::to_string(*target));
  } else {
    for (auto& c : store.list(1000)) {
      if (c.state == TxnState::succeeded && c.kind != TxnKind::init && c.before != c.after) {
        t = c;
        break;
      }
    }
    if (!t) throw EnvError(ErrorCode::not_found, "no change to roll back");
  }
  if (t->state == TxnState::running) throw EnvError(ErrorCode::busy, "transaction #" + std::to_string(t->id) + " is still running");
  Plan plan;
  plan.kind = TxnKind::rollback;
  plan.request = {to_after ? "to after #" + std::to_string(t->id) : "to before #" + std::to_string(t->id)};
  plan.requested_by = requested_by;
  plan.rollback_of = t->id;
  plan.restore_target = to_after ? t->after : t->before;
  PackageSet target_set = *plan.restore_target;
  std::string wheelhouse = wheelhouse_dir();
  plan.pre_check = [target_set, wheelhouse](const EnvLayout&, const PackageSet& now) {
    Wheelhouse wh(wheelhouse);
    std::vector<std::string> missing;
    for (const auto& [k, p] : target_set) {
      auto it = now.find(k);
      if (it != now.end() && it->second.version == p.version) continue;
      if (!wh.find(k, p.version)) missing.push_back(p.name + " " + p.version);
    }
    if (!missing.empty())
      throw EnvError(ErrorCode::missing_wheel,
                     "cannot roll back offline: the wheelhouse has no wheel for " + join(missing, ", "));
  };
  return run_plan(*this, plan, observer);
}

std::string EnvManager::export_lock() {
  Observer none;
  TxnRunner runner(*this, none);
  runner.ensure_dirs();
  auto lock = runner.take_lock(std::nullopt);
  recover_locked(*this, runner, none);
  auto l = layout();
  Wheelhouse wh(wheelhouse_dir());
  std::string out = "# coursehub environment lock: " + env_dir() + " (Python " + l.python_version + ")\n" +
                    "# created " + common::iso8601_utc() + "; every package pinned, with its wheel's sha256.\n" +
                    "# Install with: coursehub env install -r FILE   (or pip install --require-hashes -r FILE)\n";
  std::vector<std::string> missing;
  for (const auto& [k, d] : own_distributions(l)) {
    if (!wh.secure(d, l)) {
      missing.push_back(d.name + " " + d.version);
      continue;
    }
    auto wheel = wh.find(k, d.version);
    out += d.name + "==" + d.version + " \\\n    --hash=sha256:" + detail::sha256_file(*wheel) + "\n";
  }
  if (!missing.empty())
    throw EnvError(ErrorCode::missing_wheel, "cannot make an exact lock: no wheel can be kept for " + join(missing, ", "));
  return out;
}

void EnvManager::bundle_create(const std::string& path) {
  std::string lock_text = export_lock();
  auto reqs = parse_requirements_file(lock_text);
  Wheelhouse wh(wheelhouse_dir());
  std::vector<std::string> wheels;
  for (const auto& r : reqs) {
    std::string version = r.specifier.substr(2);
    auto w = wh.find(r.canonical(), Version::parse(version).str());
    if (!w) throw EnvError(ErrorCode::missing_wheel, "no wheel for " + r.to_string());
    wheels.push_back(*w);
  }
  detail::write_bundle(path, lock_text, wheels);
}

Transaction EnvManager::bundle_import(const std::string& path, const std::string& requested_by,
                                      const Observer& observer) {
  auto contents = detail::inspect_bundle(path);  // refuses before anything is written
  Plan plan;
  plan.kind = TxnKind::import;
  plan.request = {fs::path(path).filename().string()};
  for (const auto& r : contents.lock) plan.request.push_back(r.to_string());
  plan.requested_by = requested_by;
  std::string wheelhouse = wheelhouse_dir();
  plan.steps = [path, contents, wheelhouse](const EnvLayout&, const PackageSet&, const std::string& dir) {
    detail::extract_bundle_wheels(path, contents, wheelhouse);
    std::string lock = dir + "/requirements.lock";
    {
      std::ofstream out(lock);
      for (const auto& r : contents.lock) {
        out << r.to_string();
        for (const auto& h : r.hashes) out << " --hash=" << h;
        out << "\n";
      }
    }
    std::vector<std::string> inst = {"install"};
    append(inst, pip_general_options());
    append(inst, {"--progress-bar", "off", "--root-user-action=ignore", "--no-index", "--find-links", wheelhouse,
                  "--require-hashes", "-r", lock});
    return std::vector<std::vector<std::string>>{inst};
  };
  return run_plan(*this, plan, observer);
}

}  // namespace envmgr
