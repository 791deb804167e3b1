// `coursehub user ...` and `coursehub token ...`: accounts from the shell.
// They work on P/state/hub.sqlite directly, with or without a running hub.
#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "auth/accounts.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "common/sqlite.hpp"
#include "common/time_util.hpp"
#include "db/state.hpp"
#include "hub/config.hpp"

namespace hub::cli {
namespace {

std::string read_password_stdin() {
  std::string line;
  if (!std::getline(std::cin, line)) throw UsageError("--password-stdin: nothing on standard input");
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

HubConfig load(const std::string& prefix) { return load_config(config_path(prefix)); }

int fail(const std::string& code, const std::string& message) {
  std::cerr << "error: " << code << ": " << message << "\n";
  return 1;
}

// Runs a subcommand body, mapping the accounts library's errors to exit status 1.
template <class Fn>
int guarded(Fn fn) {
  try {
    return fn();
  } catch (const accounts::AccountError& e) {
    return fail(e.status() == 404 ? "not_found" : e.status() == 409 ? "exists" : "invalid", e.what());
  } catch (const ConfigError& e) {
    return fail("config", e.what());
  } catch (const common::SqliteError& e) {
    return fail("database", e.what());
  }
}

accounts::User existing(common::Database& db, const std::string& raw) {
  auto u = accounts::find_user(db, accounts::normalize_username(raw));
  if (!u) throw accounts::AccountError(404, "no such user: " + accounts::normalize_username(raw));
  return *u;
}

int user_add(const Argv& argv) {
  Args args(argv, {}, {"admin", "password-stdin"});
  if (args.positional().size() != 1) throw UsageError("user add NAME [--admin] [--password-stdin]");
  return guarded([&] {
    auto cfg = load(args.prefix());
    accounts::NewUser nu;
    nu.name = accounts::normalize_username(args.positional()[0]);
    nu.admin = args.flag("admin");
    if (args.flag("password-stdin")) {
      std::string pw = read_password_stdin();
      accounts::check_password_policy(pw, cfg);
      nu.password_hash = accounts::hash_password(pw);
    }
    auto db = db::open_hub_database(args.prefix());
    auto user = accounts::create_user(*db, nu);
    std::cout << "added " << user.name << (user.admin ? " (admin)" : "")
              << (user.has_password ? "" : " without a password (set one with user set-password)") << "\n";
    return 0;
  });
}

int user_list(const Argv& argv) {
  Args args(argv, {}, {"json"});
  return guarded([&] {
    auto db = db::open_hub_database(args.prefix());
    auto users = accounts::list_users(*db);
    if (args.flag("json")) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& u : users)
        out.push_back({{"name", u.name}, {"admin", u.admin}, {"instructor", u.instructor}, {"status", u.status},
                       {"has_password", u.has_password}});
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    for (const auto& u : users) {
      std::cout << u.name;
      if (u.admin) std::cout << "\tadmin";
      if (u.instructor) std::cout << "\tinstructor";
      if (u.status != "active") std::cout << "\t" << u.status;
      if (!u.has_password) std::cout << "\tno-password";
      std::cout << "\n";
    }
    return 0;
  });
}

int user_remove(const Argv& argv) {
  Args args(argv, {}, {});
  if (args.positional().size() != 1) throw UsageError("user remove NAME");
  return guarded([&] {
    auto db = db::open_hub_database(args.prefix());
    auto u = existing(*db, args.positional()[0]);
    accounts::delete_user(*db, u.id);
    std::cout << "removed " << u.name << "\n";
    return 0;
  });
}

int user_set_password(const Argv& argv) {
  Args args(argv, {}, {"password-stdin"});
  if (args.positional().size() != 1 || !args.flag("password-stdin"))
    throw UsageError("user set-password NAME --password-stdin");
  return guarded([&] {
    auto cfg = load(args.prefix());
    auto db = db::open_hub_database(args.prefix());
    auto u = existing(*db, args.positional()[0]);
    std::string pw = read_password_stdin();
    accounts::check_password_policy(pw, cfg);
    std::string hash = accounts::hash_password(pw);
    db->transaction([&] {
      accounts::set_password_hash(*db, u.id, hash);
      accounts::revoke_sessions(*db, u.id);
    });
    accounts::clear_failures(*db, "user:" + u.name);
    std::cout << "password of " << u.name << " changed; their sessions were signed out\n";
    return 0;
  });
}

int user_admin(const Argv& argv) {
  Args args(argv, {}, {});
  if (args.positional().size() != 2) throw UsageError("user admin NAME on|off");
  const std::string& mode = args.positional()[1];
  if (mode != "on" && mode != "off") throw UsageError("user admin NAME on|off (got '" + mode + "')");
  return guarded([&] {
    auto db = db::open_hub_database(args.prefix());
    auto u = existing(*db, args.positional()[0]);
    accounts::set_admin(*db, u.id, mode == "on");
    std::cout << u.name << (mode == "on" ? " is now an admin" : " is no longer an admin") << "\n";
    return 0;
  });
}

int user_instructor(const Argv& argv) {
  Args args(argv, {}, {});
  if (args.positional().size() != 2) throw UsageError("user instructor NAME on|off");
  const std::string& mode = args.positional()[1];
  if (mode != "on" && mode != "off") throw UsageError("user instructor NAME on|off (got '" + mode + "')");
  return guarded([&] {
    auto db = db::open_hub_database(args.prefix());
    auto u = existing(*db, args.positional()[0]);
    accounts::set_instructor(*db, u.id, mode == "on");
    std::cout << u.name << (mode == "on" ? " is now an instructor" : " is no longer an instructor") << "\n";
    return 0;
  });
}

int user_import(const Argv& argv) {
  Args args(argv, {}, {});
  if (args.positional().size() != 1) throw UsageError("user import FILE.csv   (- reads standard input)");
  return guarded([&] {
    auto cfg = load(args.prefix());
    std::stringstream text;
    const std::string& path = args.positional()[0];
    if (path == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(path);
      if (!in) return fail("invalid", "cannot read " + path);
      text << in.rdbuf();
    }
    auto plan = accounts::parse_user_list(text.str(), cfg);
    if (plan.rows.empty() && plan.errors.empty()) plan.errors.push_back("no users in " + path);
    if (!plan.errors.empty()) {
      for (const auto& e : plan.errors) std::cerr << "error: invalid: " << e << "\n";
      std::cerr << "nothing was imported\n";
      return 1;
    }
    auto db = db::open_hub_database(args.prefix());
    auto result = accounts::import_users(*db, plan);
    for (const auto& n : result.created) std::cout << "added " << n << "\n";
    for (const auto& n : result.existing) std::cout << "exists " << n << " (unchanged)\n";
    std::cout << result.created.size() << " added, " << result.existing.size() << " already existed\n";
    return 0;
  });
}

}  // namespace

int cmd_user(const Argv& argv) {
  if (argv.empty()) throw UsageError("user add|list|remove|set-password|admin|instructor|import ...");
  Argv rest(argv.begin() + 1, argv.end());
  const std::string& verb = argv[0];
  if (verb == "add") return user_add(rest);
  if (verb == "list") return user_list(rest);
  if (verb == "remove") return user_remove(rest);
  if (verb == "set-password") return user_set_password(rest);
  if (verb == "admin") return user_admin(rest);
  if (verb == "instructor") return user_instructor(rest);
  if (verb == "import") return user_import(rest);
  throw UsageError("unknown user command '" + verb + "' (add, list, remove, set-password, admin, instructor, import)");
}

int cmd_token(const Argv& argv) {
  if (argv.empty() || argv[0] != "create") throw UsageError("token create NAME [--note N] [--expires-in SECONDS]");
  Args args(Argv(argv.begin() + 1, argv.end()), {"note", "expires-in"}, {});
  if (args.positional().size() != 1) throw UsageError("token create NAME [--note N] [--expires-in SECONDS]");
  std::optional<std::int64_t> expires;
  if (auto e = args.value("expires-in")) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(e->data(), e->data() + e->size(), v);
    if (ec != std::errc() || p != e->data() + e->size() || v <= 0)
      throw UsageError("--expires-in must be a positive number of seconds");
    expires = v;
  }
  return guarded([&] {
    auto db = db::open_hub_database(args.prefix());
    auto u = existing(*db, args.positional()[0]);
    auto t = accounts::create_token(*db, u.id, args.value("note").value_or("Created with coursehub token create"), expires);
    std::cout << t.secret << "\n";
    return 0;
  });
}

}  // namespace hub::cli
