#pragma once
// The schema table: every configuration key once, with its type, default,
// allowed values, bounds and description.  It is the single source of truth
// for load_config (defaults and conversion into HubConfig), validation (of
// the file and of every `coursehub config` change), `coursehub config show
// --defaults` and examples/config.yaml.
//
// The table is built once, on first use, and is immutable afterwards: safe to
// read from any thread.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "hub/config.hpp"
#include "hub/config_value.hpp"

namespace hub {

enum class ConfigType {
  boolean,      // true / false
  integer,      // whole number within [min, max]
  number,       // integer or decimal within [min, max]
  string,       // text; `allowed` restricts it when not empty
  string_list,  // list of strings, changed with add-item / remove-item
  size,         // memory size: "512M", "1.5G", or an integer number of bytes
};

struct ConfigKey {
  // Dotted path.  A component "*" matches any single name (a key the admin
  // chooses, e.g. users.extra_user_groups.<group>).
  std::string path;
  ConfigType type = ConfigType::string;
  bool nullable = false;      // null (`none` on the command line) is accepted
  ConfigValue default_value;  // null for wildcard keys
  std::string description;
  std::vector<std::string> allowed;  // for strings: the only values accepted
  double min = std::numeric_limits<double>::lowest();
  double max = std::numeric_limits<double>::max();
  // TLJH spelling of another key (same meaning, same field).  A file may use
  // either; when both are present they must agree.
  std::string alias_of;
  // A TLJH key accepted so that TLJH's config.yaml files load unchanged, but
  // with no effect in coursehub (e.g. traefik_api.*: coursehub is its own proxy).
  bool ignored = false;
  // Extra check beyond type, allowed and bounds: an error text, or "" when fine.
  std::string (*check)(const ConfigValue&) = nullptr;
  // Stores a validated value into the config.  `name` is the component a "*"
  // matched ("" for other keys).
  void (*apply)(HubConfig&, const ConfigValue&, const std::string& name) = nullptr;
};

// All keys, in the order they are documented and rendered.
const std::vector<ConfigKey>& config_schema();

// The key at `dotted` (wildcards match), or nullptr.
const ConfigKey* find_config_key(std::string_view dotted);

// True when `dotted` is a proper prefix of some key ("services", "services.cull").
bool is_config_section(std::string_view dotted);

// Every problem of `root` (a parsed config.yaml), one message per problem,
// each starting with the dotted key: unknown keys (with a suggestion when a
// known key is close), wrong types, values outside `allowed` or the bounds,
// and aliases that disagree with their key.  Empty when the config is valid.
std::vector<std::string> validate_config(const ConfigValue& root);

// Converts a validated `root` into a HubConfig: the table's defaults, then the
// values present in `root`.  Precondition: validate_config(root) is empty.
HubConfig config_from_value(const ConfigValue& root);

// The table's defaults with `root`'s values merged over them (keys that are
// not aliases and not ignored, plus whatever `root` sets), as a mapping.
ConfigValue effective_config(const ConfigValue& root);

// Block YAML of `root` laid out in schema order, every known key preceded by
// its description as a comment.  With root = effective_config({}) this is the
// annotated default configuration (examples/config.yaml).
std::string render_config_yaml(const ConfigValue& root);

// The description of a type for messages: "an integer", "a list of strings".
std::string describe_config_type(const ConfigKey& key);

}  // namespace hub
