#pragma once
// The shared environment manager: one Python environment P/user that every
// user's server and kernels run from, changed only through transactions.
//
// Layout under the prefix P:
//   P/user/                    the environment (a venv, or a conda prefix)
//   P/state/wheelhouse/        every wheel ever installed; rollbacks and
//                              bundles install from here, offline
//   P/state/envmgr.sqlite      transaction history (own file, own schema)
//   P/state/envmgr/lock        flock(2): one transaction at a time, across
//                              processes (CLI and hub share it)
//   P/state/envmgr/current.json  who runs the transaction in progress
//   P/state/envmgr/logs/N.log  output of transaction N, written line by line
//
// A change (install, upgrade, remove, rollback, bundle import) is one
// transaction: take the lock (waiting behind a running one), record the
// installed set before, resolve and download what is needed into the
// wheelhouse, install from the wheelhouse only (pip --no-index), record the set
// after, the exact installer commands, the full output, exit status, duration
// and who asked.  When the installer fails, the environment is put back to
// the set before from the wheelhouse and verified.  When the process running a
// transaction dies (kill -9), the next operation that takes the lock (or
// recover()) finds the transaction still marked running and rolls it back.
//
// Thread-safety: every method may be called from any thread, concurrently;
// each opens its own SQLite connection and file lock.  Change operations
// block the calling thread (they run pip): never call them on an I/O thread.
// Installer processes die with the thread that started them, so run a
// transaction on a thread that outlives it.
//
// Errors: bad input and impossible requests throw EnvError before anything is
// changed.  A transaction that ran and failed is not an exception: it comes
// back as a Transaction with state failed (and restored set).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "envmgr/error.hpp"
#include "envmgr/site.hpp"

namespace envmgr {

// user_environment.index_url / extra_index_urls / find_links / trusted_hosts.
struct IndexSettings {
  std::string index_url;  // "" = pip's default
  std::vector<std::string> extra_index_urls;
  std::vector<std::string> find_links;
  std::vector<std::string> trusted_hosts;
};

struct ManagerOptions {
  std::string prefix = "/opt/tljh";
  IndexSettings index;
  // An installer run taking longer is killed (and the transaction undone).
  std::chrono::seconds installer_timeout{3600};
};

struct PackageRef {
  std::string name;     // as its metadata spells it
  std::string version;  // normalised
  friend bool operator==(const PackageRef&, const PackageRef&) = default;
};
// Keyed by canonical name.  Only the environment's own packages: what is
// inherited from the system's site-packages is not the environment's to change.
using PackageSet = std::map<std::string, PackageRef>;

struct Change {
  enum class Kind { added, removed, upgraded, downgraded, reinstalled };
  Kind kind;
  std::string name;
  std::string from;  // "" when added
  std::string to;    // "" when removed
};
const char* to_string(Change::Kind kind);
std::vector<Change> diff(const PackageSet& before, const PackageSet& after);

enum class TxnKind { init, install, upgrade, remove, rollback, import };
enum class TxnState { running, succeeded, failed, interrupted };
const char* to_string(TxnKind kind);
const char* to_string(TxnState state);

struct Transaction {
  std::int64_t id = 0;
  TxnKind kind = TxnKind::install;
  TxnState state = TxnState::running;
  std::string requested_by;
  std::vector<std::string> request;                // specs, names, or the target, as asked
  std::vector<std::vector<std::string>> commands;  // every installer command, exactly (argv)
  PackageSet before;
  PackageSet after;  // equals `before` when a failure was undone
  std::optional<int> exit_code;
  double started = 0;   // unix seconds
  double finished = 0;  // 0 while running
  std::int64_t duration_ms = 0;
  std::string output;   // the installer's full output (stdout and stderr)
  std::string message;  // one paragraph for humans: what changed, or why it failed
  bool restored = false;  // failed or interrupted, and the set before was verified back
  std::optional<std::int64_t> rollback_of;

  std::vector<Change> changes() const { return diff(before, after); }
};

// The transaction holding the environment lock right now.
struct RunningInfo {
  std::int64_t id = 0;
  TxnKind kind = TxnKind::install;
  std::string requested_by;
  std::vector<std::string> request;
  double started = 0;
  int pid = 0;  // process running it
};

// Callbacks of a change operation, all called on the calling thread.  They
// must not throw.
struct Observer {
  // The environment is busy: called once before waiting behind `holder`.
  std::function<void(const RunningInfo& holder)> on_wait;
  // The transaction got its id and the lock (state running, `before` known).
  std::function<void(const Transaction& txn)> on_start;
  // One line of installer output (or a line coursehub adds), as it happens.
  std::function<void(const std::string& line)> on_line;
};

struct ChangeRequest {
  std::vector<std::string> specs;             // PEP 508 requirements (install, upgrade) or names (remove)
  std::optional<std::string> requirements;    // contents of a requirements file (install, upgrade)
  std::string requested_by;                   // who asked, e.g. "alice (web)"
  // How long to wait for a running transaction; nullopt waits as long as it takes.
  std::optional<std::chrono::milliseconds> lock_timeout;
};

struct InitOptions {
  std::string python = "/usr/bin/python3";  // interpreter that creates the venv
  bool system_site_packages = false;
  std::string requested_by;
};

struct InitResult {
  bool created = false;  // false: it already was an environment
  EnvLayout layout;
  std::optional<Transaction> transaction;  // the init transaction when created
};

struct DistDetails {
  InstalledDist dist;
  std::string summary;
  std::string home_page;
  std::string license;
  std::string requires_python;
  std::vector<std::string> requires_dist;  // Requires-Dist lines as written
  std::vector<std::string> required_by;  // installed distributions naming it in Requires-Dist
  std::vector<std::string> files;        // from RECORD (absolute paths)
};

struct CheckReport {
  bool ok = false;
  std::vector<std::string> problems;  // one line each, as pip check words them
  std::vector<std::string> command;
  std::string output;
};

struct LogChunk {
  std::string text;
  std::uint64_t next_offset = 0;
  bool finished = false;  // the transaction is over: no more text will come
};

class EnvManager {
 public:
  explicit EnvManager(ManagerOptions options);

  const ManagerOptions& options() const { return options_; }
  std::string env_dir() const;         // P/user
  std::string state_dir() const;       // P/state
  std::string wheelhouse_dir() const;  // P/state/wheelhouse

  // Creates P/user as a venv when missing or empty; recognises an existing
  // environment (venv or conda) and leaves it alone.  Throws not_an_env for a
  // non-empty folder that is not an environment, installer when the venv
  // cannot be made.
  InitResult init(const InitOptions& options);

  // --- reading (no lock, no Python started, fast) ---
  EnvLayout layout() const;                         // throws not_an_env
  std::vector<InstalledDist> list() const;          // pip list order, own and inherited
  std::optional<DistDetails> show(const std::string& name) const;
  PackageSet installed() const;                     // own packages
  std::vector<Transaction> history(int limit = 200) const;  // newest first
  std::optional<Transaction> transaction(std::int64_t id) const;
  std::optional<RunningInfo> running() const;
  // Output of transaction `id` from byte `offset` on, while it runs or after.
  LogChunk read_log(std::int64_t id, std::uint64_t offset) const;
  // Blocks until no transaction runs, at most `timeout`; false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout) const;
  // Whether an interrupted transaction waits for recovery (cheap: one stat).
  bool needs_recovery() const;

  // Makes kernels run the environment's own Python.  A venv made with
  // --system-site-packages sees the system's ipykernel, whose kernel spec
  // (/usr/share/jupyter/kernels/python3) starts /usr/bin/python3, which does
  // not see the environment's packages.  When the environment is a venv that
  // can import ipykernel (its own or inherited) and has no python3 kernel
  // spec of its own, writes ENV/share/jupyter/kernels/python3/kernel.json
  // with argv [ENV/bin/python, -m, ipykernel_launcher, ...]; Jupyter servers
  // run from the environment find it before the system's.  Returns whether
  // it wrote one.  Called by init and after every transaction; the hub calls
  // it at start.  Throws io when the file cannot be written.
  bool ensure_kernel_spec() const;

  // `pip check`: broken or missing dependencies (starts Python).
  CheckReport check() const;

  // --- changes (each one transaction; see the file comment) ---
  Transaction install(const ChangeRequest& request, const Observer& observer = {});
  Transaction upgrade(const ChangeRequest& request, const Observer& observer = {});
  Transaction remove(const ChangeRequest& request, const Observer& observer = {});
  // Puts the environment back to the set it had before transaction `target`
  // (undoing it and everything after), or with `to_after`, to the set right
  // after it.  Without a target: undoes the latest change.  Installs only from
  // the wheelhouse; throws missing_wheel before changing anything when a
  // wheel is not there.
  Transaction rollback(std::optional<std::int64_t> target, bool to_after, const std::string& requested_by,
                       const Observer& observer = {});
  // Rolls back a transaction left running by a process that died; nullopt
  // when there was none.  The hub calls it at start; every change calls it.
  std::optional<Transaction> recover(const Observer& observer = {});

  // An exact lock of the own packages: every one pinned, with the sha256 of
  // its wheel in the wheelhouse (pip --require-hashes format).
  std::string export_lock();
  // One archive (tar.gz) with the lock and every wheel it names.
  void bundle_create(const std::string& path);
  // Checks the whole archive first (layout, sizes, hashes against its lock;
  // refuses traversal, links, bombs, corruption) and writes nothing unless
  // it is sound; then stores the wheels and installs the lock, offline.
  Transaction bundle_import(const std::string& path, const std::string& requested_by,
                            const Observer& observer = {});

 private:
  ManagerOptions options_;
};

// The sentence every completed install ends with.
inline constexpr const char* kRestartHint = "Restart your kernel to use the new packages.";

}  // namespace envmgr
