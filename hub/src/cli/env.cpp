// coursehub env ...: the shared environment from the command line, through
// the same envmgr transactions the hub's Packages page uses.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "envmgr/env_manager.hpp"
#include "envmgr/installer.hpp"
#include "envmgr/json.hpp"
#include "hub/config.hpp"

namespace hub::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage = R"(usage: coursehub env COMMAND [ARGS...] [--prefix DIR]

commands:
  init [--python PATH] [--system-site-packages]   create DIR/user as a virtual environment
  list [--json]                  installed packages (own and inherited from the system)
  show NAME [--json]             one package's details
  install SPEC... | -r FILE      install packages (PEP 508 requirements)
  upgrade SPEC... | -r FILE      upgrade packages to the newest allowed versions
  remove NAME...                 uninstall packages
  check [--json]                 broken or missing dependencies (pip check)
  history [ID] [--json] [--limit N]   transactions with their changes; one in full
  rollback [ID] [--to-after]     undo the latest change, or go back to before (after) transaction ID
  export [--output FILE]         an exact lock: every package pinned, with hashes
  bundle create FILE             lock + wheels in one archive, for machines without internet
  bundle import FILE             install a bundle, offline
  status [--json]                the transaction running now, if any

Changes take --as WHO (recorded in the history; default: the calling user).
Package index: user_environment.index_url, extra_index_urls, find_links and
trusted_hosts in DIR/config/config.yaml, or --index-url, --extra-index-url,
--find-links, --trusted-host.
)";

// user_environment.* from the hub's config file, overridden by options.
envmgr::IndexSettings index_settings(const Args& a, const std::string& prefix) {
  envmgr::IndexSettings s;
  hub::HubConfig cfg = hub::load_config(hub::config_path(prefix));
  s.index_url = cfg.env_index_url;
  s.extra_index_urls = cfg.env_extra_index_urls;
  s.find_links = cfg.env_find_links;
  s.trusted_hosts = cfg.env_trusted_hosts;
  if (auto v = a.value("index-url")) s.index_url = *v;
  if (auto v = a.values("extra-index-url"); !v.empty()) s.extra_index_urls = v;
  if (auto v = a.values("find-links"); !v.empty()) s.find_links = v;
  if (auto v = a.values("trusted-host"); !v.empty()) s.trusted_hosts = v;
  return s;
}

std::string who(const Args& a) {
  if (auto v = a.value("as")) return *v;
  std::string name;
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo) name = sudo;
  if (name.empty())
    if (auto* pw = ::getpwuid(::getuid())) name = pw->pw_name;
  if (name.empty()) name = "uid " + std::to_string(::getuid());
  return name + " (cli)";
}

std::string local_time(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string join(const std::vector<std::string>& v, const std::string& sep = " ") {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

envmgr::Observer printing_observer(bool quiet) {
  envmgr::Observer o;
  o.on_wait = [](const envmgr::RunningInfo& h) {
    if (h.id)
      std::cerr << "waiting: transaction #" << h.id << " (" << to_string(h.kind) << " " << join(h.request) << ", by "
                << h.requested_by << ", since " << local_time(h.started) << ") holds the environment\n";
    else
      std::cerr << "waiting: another transaction holds the environment\n";
  };
  o.on_start = [](const envmgr::Transaction& t) {
    std::cerr << "transaction #" << t.id << ": " << to_string(t.kind) << " " << join(t.request) << "\n";
  };
  if (!quiet)
    o.on_line = [](const std::string& line) {
      std::cout << line << "\n";
      std::cout.flush();
    };
  return o;
}

void print_changes(const envmgr::Transaction& t, const std::string& indent) {
  for (const auto& c : t.changes()) {
    std::cout << indent << to_string(c.kind) << " " << c.name << " ";
    if (c.kind == envmgr::Change::Kind::added) std::cout << c.to;
    else if (c.kind == envmgr::Change::Kind::removed) std::cout << c.from;
    else std::cout << c.from << " -> " << c.to;
    std::cout << "\n";
  }
}

int report(const envmgr::Transaction& t, bool as_json) {
  if (as_json) {
    std::cout << envmgr::to_json(t).dump(2) << "\n";
  } else {
    std::cout << "transaction #" << t.id << " " << to_string(t.state) << ": " << t.message << "\n";
  }
  return t.state == envmgr::TxnState::succeeded ? 0 : 1;
}

void recover_first(envmgr::EnvManager& mgr) {
  if (!mgr.needs_recovery()) return;
  try {
    auto o = printing_observer(false);
    if (auto t = mgr.recover(o))
      std::cerr << "recovered: transaction #" << t->id << " had been interrupted; " << t->message << "\n";
  } catch (const std::exception& e) {
    std::cerr << "warning: an interrupted transaction needs recovery, which failed here: " << e.what() << "\n";
  }
}

int cmd_list(envmgr::EnvManager& mgr, const Args& a) {
  auto dists = mgr.list();
  if (a.flag("json")) {
    json arr = json::array();
    for (const auto& d : dists) arr.push_back(envmgr::to_json(d));
    std::cout << arr.dump() << "\n";
    return 0;
  }
  std::size_t wn = 7, wv = 7;
  for (const auto& d : dists) {
    wn = std::max(wn, d.name.size());
    wv = std::max(wv, d.version.size());
  }
  std::printf("%-*s %-*s %-9s %s\n", static_cast<int>(wn), "Package", static_cast<int>(wv), "Version", "Location",
              "Installer");
  std::printf("%s %s %s %s\n", std::string(wn, '-').c_str(), std::string(wv, '-').c_str(), "---------", "---------");
  for (const auto& d : dists)
    std::printf("%-*s %-*s %-9s %s\n", static_cast<int>(wn), d.name.c_str(), static_cast<int>(wv), d.version.c_str(),
                d.own ? "own" : "inherited", d.installer.c_str());
  return 0;
}

int cmd_show(envmgr::EnvManager& mgr, const Args& a) {
  std::string name = a.positional_at(1, "package name");
  auto d = mgr.show(name);
  if (!d) {
    std::cerr << "error: not_installed: " << name << " is not installed\n";
    return 1;
  }
  if (a.flag("json")) {
    std::cout << envmgr::to_json(*d).dump(2) << "\n";
    return 0;
  }
  std::cout << "Name: " << d->dist.name << "\nVersion: " << d->dist.version << "\nSummary: " << d->summary
            << "\nHome-page: " << d->home_page << "\nLicense: " << d->license
            << "\nLocation: " << d->dist.location << (d->dist.own ? " (own)" : " (inherited)")
            << "\nInstaller: " << d->dist.installer << "\nRequires: " << join(d->requires_dist, ", ")
            << "\nRequired-by: " << join(d->required_by, ", ") << "\n";
  return 0;
}

std::string read_requirements(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw envmgr::EnvError(envmgr::ErrorCode::bad_requirements, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int cmd_change(envmgr::EnvManager& mgr, const Args& a, const std::string& verb) {
  envmgr::ChangeRequest req;
  req.specs.assign(a.positional().begin() + 1, a.positional().end());
  if (auto r = a.value("requirement")) req.requirements = read_requirements(*r);
  req.requested_by = who(a);
  if (req.specs.empty() && !req.requirements) throw UsageError(verb + " needs at least one package");
  auto obs = printing_observer(a.flag("json"));
  envmgr::Transaction t = verb == "install"   ? mgr.install(req, obs)
                          : verb == "upgrade" ? mgr.upgrade(req, obs)
                                              : mgr.remove(req, obs);
  return report(t, a.flag("json"));
}

int cmd_history(envmgr::EnvManager& mgr, const Args& a) {
  if (a.positional().size() > 1) {
    std::int64_t id = std::stoll(a.positional_at(1, "transaction id"));
    auto t = mgr.transaction(id);
    if (!t) throw envmgr::EnvError(envmgr::ErrorCode::not_found, "no transaction #" + std::to_string(id));
    if (a.flag("json")) {
      std::cout << envmgr::to_json(*t, true).dump(2) << "\n";
      return 0;
    }
    std::cout << "transaction #" << t->id << ": " << to_string(t->kind) << " " << join(t->request) << "\n"
              << "state: " << to_string(t->state) << (t->restored ? " (environment restored)" : "") << "\n"
              << "requested by: " << t->requested_by << "\n"
              << "started: " << local_time(t->started) << ", took " << t->duration_ms << " ms\n"
              << "exit status: " << (t->exit_code ? std::to_string(*t->exit_code) : "-") << "\n"
              << "message: " << t->message << "\n";
    for (const auto& c : t->commands) std::cout << "command: " << join(c) << "\n";
    std::cout << "changes:\n";
    print_changes(*t, "  ");
    std::cout << "output:\n" << t->output;
    return 0;
  }
  int limit = a.value("limit") ? std::stoi(*a.value("limit")) : 50;
  auto list = mgr.history(limit);
  if (a.flag("json")) {
    json arr = json::array();
    for (const auto& t : list) arr.push_back(envmgr::to_json(t));
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  if (list.empty()) std::cout << "no transactions yet\n";
  for (const auto& t : list) {
    std::cout << "#" << t.id << "  " << local_time(t.started) << "  " << to_string(t.kind) << " " << join(t.request)
              << "  [" << to_string(t.state) << "]  by " << t.requested_by << ", " << t.duration_ms << " ms\n";
    print_changes(t, "    ");
  }
  return 0;
}

int cmd_rollback(envmgr::EnvManager& mgr, const Args& a) {
  std::optional<std::int64_t> target;
  if (a.positional().size() > 1) {
    std::string s = a.positional_at(1, "transaction id");
    if (!s.empty() && s[0] == '#') s.erase(0, 1);
    try {
      target = std::stoll(s);
    } catch (const std::exception&) {
      throw UsageError("'" + s + "' is not a transaction id");
    }
  }
  auto obs = printing_observer(a.flag("json"));
  auto t = mgr.rollback(target, a.flag("to-after"), who(a), obs);
  return report(t, a.flag("json"));
}

int cmd_status(envmgr::EnvManager& mgr, const Args& a) {
  auto r = mgr.running();
  if (a.flag("json")) {
    std::cout << (r ? envmgr::to_json(*r) : json(nullptr)).dump() << "\n";
    return 0;
  }
  if (!r) std::cout << "idle: no transaction is running\n";
  else
    std::cout << "running: transaction #" << r->id << " (" << to_string(r->kind) << " " << join(r->request) << ", by "
              << r->requested_by << ", since " << local_time(r->started) << ", pid " << r->pid << ")\n";
  return 0;
}

}  // namespace

int cmd_env(const Argv& raw) {
  // `-r FILE` is pip's spelling; the shared parser only knows long options.
  Argv args;
  for (const auto& a : raw) args.push_back(a == "-r" ? "--requirement" : a);
  Args a(args, {"python", "requirement", "as", "limit", "output", "index-url", "extra-index-url", "find-links",
                "trusted-host"},
         {"json", "system-site-packages", "to-after", "help"});
  if (a.flag("help") || a.positional().empty()) {
    std::cout << kUsage;
    return a.flag("help") ? 0 : 2;
  }
  std::string sub = a.positional()[0];
  envmgr::ManagerOptions mo;
  mo.prefix = a.prefix();
  try {
    mo.index = index_settings(a, mo.prefix);
    envmgr::EnvManager mgr(mo);
    if (sub == "init") {
      envmgr::InitOptions io;
      if (auto p = a.value("python")) io.python = *p;
      io.system_site_packages = a.flag("system-site-packages");
      io.requested_by = who(a);
      auto r = mgr.init(io);
      const auto& l = r.layout;
      if (r.created)
        std::cout << r.transaction->message << "\n";
      else
        std::cout << mgr.env_dir() << " is already a " << to_string(l.kind) << " environment (Python "
                  << l.python_version << (l.system_site_packages ? ", system site-packages visible" : "")
                  << "); nothing changed\n";
      if (l.kind == envmgr::EnvKind::conda) {
        auto inst = envmgr::choose_installer(l);
        if (inst.kind == envmgr::InstallerKind::pip)
          std::cout << "note: this is a conda environment without mamba or conda; coursehub installs into it with pip\n";
        else
          std::cout << "note: this is a conda environment; coursehub installs into it with " << inst.program << "\n";
      }
      return 0;
    }
    if (sub != "status") recover_first(mgr);
    if (sub == "list") return cmd_list(mgr, a);
    if (sub == "show") return cmd_show(mgr, a);
    if (sub == "install" || sub == "upgrade" || sub == "remove") return cmd_change(mgr, a, sub);
    if (sub == "check") {
      auto c = mgr.check();
      if (a.flag("json")) std::cout << envmgr::to_json(c).dump(2) << "\n";
      else std::cout << c.output;
      return c.ok ? 0 : 1;
    }
    if (sub == "history") return cmd_history(mgr, a);
    if (sub == "rollback") return cmd_rollback(mgr, a);
    if (sub == "status") return cmd_status(mgr, a);
    if (sub == "export") {
      std::string lock = mgr.export_lock();
      if (auto out = a.value("output")) {
        std::ofstream f(*out, std::ios::trunc);
        f << lock;
        if (!f) throw envmgr::EnvError(envmgr::ErrorCode::io, "cannot write " + *out);
        std::cerr << "wrote " << *out << "\n";
      } else {
        std::cout << lock;
      }
      return 0;
    }
    if (sub == "bundle") {
      std::string verb = a.positional_at(1, "bundle create|import");
      std::string file = a.positional_at(2, "bundle file");
      if (verb == "create") {
        mgr.bundle_create(file);
        std::cout << "wrote " << file << "\n";
        return 0;
      }
      if (verb == "import") {
        auto obs = printing_observer(a.flag("json"));
        return report(mgr.bundle_import(file, who(a), obs), a.flag("json"));
      }
      throw UsageError("bundle takes create or import, not '" + verb + "'");
    }
    throw UsageError("unknown env command '" + sub + "' (see coursehub env --help)");
  } catch (const envmgr::EnvError& e) {
    std::cerr << "error: " << to_string(e.code()) << ": " << e.what() << "\n";
    return 1;
  } catch (const hub::ConfigError& e) {
    std::cerr << "error: config: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace hub::cli
