#pragma once
// A YAML value as the configuration sees it: null, boolean, integer, number,
// string, list, or mapping (keys in file order), with YAML 1.2 core-schema
// typing (what TLJH's ruamel.yaml gives): `true`/`False` are booleans, `12`
// and `0x1F` integers, `1.5` and `.inf` numbers, `~`/`null`/empty null, and
// anything quoted a string.  A plain value type; not thread-safe to mutate.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub {

class ConfigValue {
 public:
  enum class Kind { null, boolean, integer, number, string, list, map };
  using List = std::vector<ConfigValue>;
  using Map = std::vector<std::pair<std::string, ConfigValue>>;

  ConfigValue() = default;
  ConfigValue(std::nullptr_t) {}
  ConfigValue(bool b) : kind_(Kind::boolean), bool_(b) {}
  ConfigValue(int i) : kind_(Kind::integer), int_(i) {}
  ConfigValue(std::int64_t i) : kind_(Kind::integer), int_(i) {}
  ConfigValue(double d) : kind_(Kind::number), number_(d) {}
  ConfigValue(std::string s) : kind_(Kind::string), string_(std::move(s)) {}
  ConfigValue(const char* s) : kind_(Kind::string), string_(s) {}
  ConfigValue(List l) : kind_(Kind::list), list_(std::move(l)) {}
  ConfigValue(Map m) : kind_(Kind::map), map_(std::move(m)) {}
  static ConfigValue empty_map() { return ConfigValue(Map{}); }
  static ConfigValue empty_list() { return ConfigValue(List{}); }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_map() const { return kind_ == Kind::map; }
  bool is_list() const { return kind_ == Kind::list; }
  bool is_scalar() const { return kind_ != Kind::list && kind_ != Kind::map; }

  // Accessors; each requires the matching kind (as_number also takes integers).
  bool as_bool() const { return bool_; }
  std::int64_t as_int() const { return int_; }
  double as_number() const { return kind_ == Kind::integer ? static_cast<double>(int_) : number_; }
  const std::string& as_string() const { return string_; }
  const List& as_list() const { return list_; }
  List& as_list() { return list_; }
  const Map& as_map() const { return map_; }
  Map& as_map() { return map_; }

  // The entry `key` of a mapping; nullptr when absent or not a mapping.
  const ConfigValue* find(std::string_view key) const;
  ConfigValue* find(std::string_view key);
  // The value at a dotted path ("services.cull.timeout"); nullptr when absent.
  const ConfigValue* find_path(std::string_view dotted) const;

  // For messages: "integer 5", "string 'abc'", "a list", "a mapping", "null".
  std::string describe() const;

  // Same kind and value; mappings compare in order.
  bool operator==(const ConfigValue& other) const;

 private:
  Kind kind_ = Kind::null;
  bool bool_ = false;
  std::int64_t int_ = 0;
  double number_ = 0;
  std::string string_;
  List list_;
  Map map_;
};

// Splits "a.b.c" into {"a", "b", "c"}.  Throws ConfigError on an empty key or
// an empty component ("a..b", ".a", "a.").
std::vector<std::string> split_key_path(std::string_view dotted);

// Parses a command-line value the way tljh-config does: `none` (any case) is
// null, all-digit text an integer, digits '.' digits* a number, `true`/`false`
// (any case) booleans, everything else (including "") the string itself.
ConfigValue parse_cli_value(std::string_view text);

// Parses one YAML document whose top level is a mapping (an empty document is
// an empty mapping).  `source` names the text in errors ("config.yaml line 3,
// column 5: ...").  Throws ConfigError on syntax errors, several documents,
// duplicate keys, unsupported tags, and a top level that is not a mapping.
ConfigValue parse_config_yaml(std::string_view text, const std::string& source);

// YAML text for a scalar that parses back to exactly `value` (strings are
// plain when that is unambiguous, else double-quoted with escapes).  Throws
// ConfigError for lists and mappings, and for strings that are not UTF-8.
std::string format_yaml_scalar(const ConfigValue& value);

// Block-style YAML for any value, each line indented by `indent` spaces, ending
// in a newline.  Scalars give one line; empty lists and maps give [] and {}.
std::string format_yaml_block(const ConfigValue& value, int indent = 0);

}  // namespace hub
