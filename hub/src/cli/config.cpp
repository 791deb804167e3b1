// coursehub config: tljh-config's verbs on P/config/config.yaml.
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "common/file_lock.hpp"
#include "hub/config.hpp"
#include "hub/config_document.hpp"
#include "hub/config_schema.hpp"

namespace hub::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: coursehub config VERB [ARGS] [--prefix DIR] [--no-validate]\n"
    "\n"
    "  show [KEY] [--defaults] [--json]\n"
    "                            print config.yaml as written (or one key's value);\n"
    "                            --defaults: every key with its effective value;\n"
    "                            --json: the value as JSON, for scripts\n"
    "  set KEY VALUE             set KEY (dotted, e.g. services.cull.timeout)\n"
    "  unset KEY                 remove KEY (and mappings left empty)\n"
    "  add-item KEY VALUE        append VALUE to the list at KEY\n"
    "  remove-item KEY VALUE     remove VALUE from the list at KEY\n"
    "  reload                    make the running hub re-read config.yaml\n"
    "\n"
    "VALUE: true/false (any case), integers, decimals and none are typed like\n"
    "tljh-config does, except for keys that take text, which keep it as given.\n"
    "Put -- before a VALUE that starts with '-'.  Every change is checked against\n"
    "the schema first; --no-validate writes it anyway.\n";

std::string key_arg(const Args& a, std::size_t i) { return a.positional_at(i, "KEY"); }

void expect_positionals(const Args& a, std::size_t n, const char* shape) {
  if (a.positional().size() != n) throw UsageError(std::string("expected: coursehub config ") + shape);
}

// The value of a command-line argument for `key`: tljh-config's typing, but
// text stays text where the schema wants text, so `set base_url 2024` or
// `add-item users.admin 007` keep what the admin typed.
ConfigValue value_for(const std::string& key, const std::string& raw, bool list_item) {
  ConfigValue v = parse_cli_value(raw);
  const ConfigKey* spec = find_config_key(key);
  if (!spec) return v;
  if (list_item) return spec->type == ConfigType::string_list ? ConfigValue(raw) : v;
  if (spec->type == ConfigType::string && !v.is_null()) return ConfigValue(raw);
  if (spec->type == ConfigType::size && v.kind() == ConfigValue::Kind::number) return ConfigValue(raw);
  return v;
}

nlohmann::ordered_json to_json(const ConfigValue& v) {
  switch (v.kind()) {
    case ConfigValue::Kind::null: return nullptr;
    case ConfigValue::Kind::boolean: return v.as_bool();
    case ConfigValue::Kind::integer: return v.as_int();
    case ConfigValue::Kind::number: return v.as_number();
    case ConfigValue::Kind::string: return v.as_string();
    case ConfigValue::Kind::list: {
      auto out = nlohmann::ordered_json::array();
      for (const auto& item : v.as_list()) out.push_back(to_json(item));
      return out;
    }
    case ConfigValue::Kind::map: {
      auto out = nlohmann::ordered_json::object();
      for (const auto& [k, child] : v.as_map()) out[k] = to_json(child);
      return out;
    }
  }
  return nullptr;
}

void print_errors(const std::string& lead, const std::vector<std::string>& errors) {
  std::cerr << "error: config: " << lead;
  if (errors.size() == 1) {
    std::cerr << errors[0] << "\n";
  } else {
    for (const auto& e : errors) std::cerr << "\n  " << e;
    std::cerr << "\n";
  }
}

// Locks, reads, edits, validates and writes config.yaml.
int edit(const std::string& path, bool validate, const std::function<void(ConfigDocument&)>& change) {
  fs::create_directories(fs::path(path).parent_path());
  std::string lock_path = path + ".lock";
  auto lock = common::FileLock::try_acquire(lock_path, std::chrono::seconds(60));
  if (!lock) {
    std::cerr << "error: config: another coursehub config kept " << lock_path
              << " locked for a minute; try again\n";
    return 1;
  }
  std::string before = read_config_file(path).value_or("");
  std::optional<ConfigDocument> parsed;
  try {
    parsed.emplace(before, path);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(e.what()) + "\ncoursehub config could not read it, so it left it as it is: fix it by hand.");
  }
  ConfigDocument& doc = *parsed;
  change(doc);
  if (validate) {
    auto errors = validate_config(doc.value());
    if (!errors.empty()) {
      print_errors("not saved: ", errors);
      std::cerr << "The file was not changed.  Use --no-validate to save the change anyway.\n";
      return 1;
    }
  }
  if (doc.text() != before || !fs::exists(path)) write_file_atomically(path, doc.text());
  return 0;
}

int show(const Args& a, const std::string& path) {
  if (a.positional().size() > 2) throw UsageError("expected: coursehub config show [KEY] [--defaults]");
  auto text = read_config_file(path);
  ConfigValue root = text ? parse_config_yaml(*text, path) : ConfigValue::empty_map();
  auto errors = validate_config(root);
  ConfigValue shown = a.flag("defaults") ? effective_config(root) : root;
  if (a.flag("json")) {
    const ConfigValue* v = a.positional().size() == 2 ? shown.find_path(key_arg(a, 1)) : &shown;
    if (!v) {
      std::cerr << "error: config: " << key_arg(a, 1) << " is not set in " << path << "\n";
      return 1;
    }
    std::cout << to_json(*v).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else if (a.positional().size() == 2) {
    std::string key = key_arg(a, 1);
    const ConfigValue* v = shown.find_path(key);
    if (!v) {
      std::cerr << "error: config: " << key << " is not set in " << path
                << (find_config_key(key) || is_config_section(key) ? "" : " (and is not a known key)")
                << (a.flag("defaults") ? "" : "; coursehub config show --defaults " + key + " shows its default")
                << "\n";
      return 1;
    }
    std::cout << format_yaml_block(*v);
  } else if (a.flag("defaults")) {
    std::cout << "# coursehub configuration (config.yaml), every key with its effective value:\n"
              << "# the defaults, with what config.yaml sets over them.  Keys and defaults follow\n"
              << "# TLJH's where TLJH has the same setting.  Change keys with coursehub config\n"
              << "# set / unset / add-item / remove-item, then coursehub config reload.\n"
              << "# Generated by: coursehub config show --defaults\n\n"
              << render_config_yaml(shown);
  } else if (!text) {
    std::cerr << path << " does not exist yet: every key has its default "
              << "(coursehub config show --defaults lists them).\n";
  } else {
    std::cout << *text;
    if (!text->empty() && text->back() != '\n') std::cout << "\n";
  }
  if (!errors.empty()) {
    // Showing the whole file doubles as a check of it; one key is only a lookup.
    std::cout.flush();
    bool whole_file = a.positional().size() == 1 && !a.flag("json");
    if (whole_file) {
      print_errors(path + " has problems: ", errors);
      return 1;
    }
    std::cerr << "warning: " << path << " has " << errors.size()
              << (errors.size() == 1 ? " problem" : " problems") << "; coursehub config show lists them\n";
  }
  return 0;
}

int reload(const Args& a, const std::string& prefix, const std::string& path) {
  expect_positionals(a, 1, "reload");
  try {
    load_config(path);
  } catch (const ConfigError& e) {
    std::cerr << "error: config: not reloading, the hub would refuse this configuration: " << e.what() << "\n";
    return 1;
  }
  std::string pid_file = prefix + "/state/hub.pid";
  auto pid_text = read_config_file(pid_file);
  if (!pid_text) {
    std::cerr << "error: config: no hub is running for " << prefix << " (" << pid_file
              << " does not exist).  Start it with coursehub serve; it reads " << path << " when it starts.\n";
    return 1;
  }
  long pid = 0;
  std::istringstream in(*pid_text);
  if (!(in >> pid) || pid <= 1) {
    std::cerr << "error: config: " << pid_file << " does not hold a process id\n";
    return 1;
  }
  // A stale pid file may name an unrelated process by now: signal only a
  // `coursehub serve`.
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> argv;
  for (std::string arg; std::getline(cmdline, arg, '\0');) argv.push_back(arg);
  bool is_hub = !argv.empty() && fs::path(argv[0]).filename().string().find("coursehub") != std::string::npos &&
                std::find(argv.begin(), argv.end(), "serve") != argv.end();
  if (!is_hub) {
    std::cerr << "error: config: no hub is running for " << prefix << " (" << pid_file << " names process "
              << pid << ", which is " << (argv.empty() ? "gone" : "not coursehub serve")
              << ").  Start it with coursehub serve.\n";
    return 1;
  }
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    std::cerr << "error: config: cannot signal the hub (pid " << pid << "): " << std::strerror(errno)
              << (errno == EPERM ? "; run this as the hub's user" : "") << "\n";
    return 1;
  }
  std::cout << "Asked the hub (pid " << pid << ") to reload " << path << ".\n";
  return 0;
}

}  // namespace

int cmd_config(const Argv& args) {
  Args a(args, {}, {"no-validate", "defaults", "json", "help"});
  if (a.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (a.positional().empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string verb = a.positional()[0];
  const std::string prefix = a.prefix();
  const std::string path = config_path(prefix);
  const bool validate = !a.flag("no-validate");
  try {
    if (verb == "show") return show(a, path);
    if (verb == "reload") return reload(a, prefix, path);
    if (verb == "set") {
      expect_positionals(a, 3, "set KEY VALUE");
      std::string key = key_arg(a, 1);
      const ConfigKey* spec = find_config_key(key);
      if (spec && spec->type == ConfigType::string_list)
        throw ConfigError(key + " is a list: change it with coursehub config add-item " + key +
                          " VALUE (and remove-item)");
      ConfigValue v = value_for(key, a.positional()[2], false);
      return edit(path, validate, [&](ConfigDocument& d) { d.set(key, v); });
    }
    if (verb == "unset") {
      expect_positionals(a, 2, "unset KEY");
      std::string key = key_arg(a, 1);
      return edit(path, validate, [&](ConfigDocument& d) { d.unset(key); });
    }
    if (verb == "add-item" || verb == "remove-item") {
      expect_positionals(a, 3, (verb + " KEY VALUE").c_str());
      std::string key = key_arg(a, 1);
      ConfigValue v = value_for(key, a.positional()[2], true);
      if (verb == "add-item") return edit(path, validate, [&](ConfigDocument& d) { d.add_item(key, v); });
      return edit(path, validate, [&](ConfigDocument& d) { d.remove_item(key, v); });
    }
    throw UsageError("unknown verb '" + verb + "' (show, set, unset, add-item, remove-item, reload)");
  } catch (const ConfigError& e) {
    std::cerr << "error: config: " << e.what() << "\n";
    return 1;
  } catch (const std::system_error& e) {
    std::cerr << "error: config: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace hub::cli
