#include "hub/config_value.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "config/yaml_tree.hpp"
#include "hub/config.hpp"

namespace hub {

const ConfigValue* ConfigValue::find(std::string_view key) const {
  if (kind_ != Kind::map) return nullptr;
  for (const auto& [k, v] : map_)
    if (k == key) return &v;
  return nullptr;
}

ConfigValue* ConfigValue::find(std::string_view key) {
  return const_cast<ConfigValue*>(static_cast<const ConfigValue*>(this)->find(key));
}

const ConfigValue* ConfigValue::find_path(std::string_view dotted) const {
  const ConfigValue* cur = this;
  for (const auto& part : split_key_path(dotted)) {
    cur = cur->find(part);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string ConfigValue::describe() const {
  switch (kind_) {
    case Kind::null: return "null";
    case Kind::boolean: return std::string("boolean ") + (bool_ ? "true" : "false");
    case Kind::integer: return "integer " + std::to_string(int_);
    case Kind::number: return "number " + format_yaml_scalar(*this);
    case Kind::string: {
      std::string shown = string_.size() > 60 ? string_.substr(0, 57) + "..." : string_;
      return "string '" + shown + "'";
    }
    case Kind::list: return "a list";
    case Kind::map: return "a mapping";
  }
  return "?";
}

bool ConfigValue::operator==(const ConfigValue& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::null: return true;
    case Kind::boolean: return bool_ == other.bool_;
    case Kind::integer: return int_ == other.int_;
    case Kind::number:
      return number_ == other.number_ || (std::isnan(number_) && std::isnan(other.number_));
    case Kind::string: return string_ == other.string_;
    case Kind::list: return list_ == other.list_;
    case Kind::map: return map_ == other.map_;
  }
  return false;
}

std::vector<std::string> split_key_path(std::string_view dotted) {
  if (dotted.empty()) throw ConfigError("the key is empty");
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = dotted.find('.', start);
    std::string_view part = dotted.substr(start, dot == std::string_view::npos ? dotted.npos : dot - start);
    if (part.empty())
      throw ConfigError("'" + std::string(dotted) + "' is not a key: dotted keys have no empty parts");
    parts.emplace_back(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

ConfigValue parse_cli_value(std::string_view text) {
  std::string s(text);
  auto lower = s;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "none") return ConfigValue();
  auto all_digits = [](std::string_view v) {
    if (v.empty()) return false;
    for (char c : v)
      if (c < '0' || c > '9') return false;
    return true;
  };
  if (all_digits(s)) {
    std::int64_t i = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (ec == std::errc() && end == s.data() + s.size()) return ConfigValue(i);
    return ConfigValue(s);  // beyond 64 bits: keep the text rather than lose digits
  }
  if (auto dot = s.find('.'); dot != std::string::npos && dot > 0 && all_digits(s.substr(0, dot)) &&
                              (dot + 1 == s.size() || all_digits(s.substr(dot + 1)))) {
    double d = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc() && end == s.data() + s.size()) return ConfigValue(d);
    if (dot + 1 == s.size()) return ConfigValue(static_cast<double>(std::stoll(s.substr(0, dot))));
    return ConfigValue(s);
  }
  if (lower == "true") return ConfigValue(true);
  if (lower == "false") return ConfigValue(false);
  return ConfigValue(s);
}

ConfigValue parse_config_yaml(std::string_view text, const std::string& source) {
  return yaml_tree::to_value(yaml_tree::parse(text, source), source);
}

namespace {

// Decodes one UTF-8 code point at s[i]; returns its length, 0 when invalid.
std::size_t utf8_decode(std::string_view s, std::size_t i, char32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  static const char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Code points YAML treats as line breaks or that editors hide: always escaped.
bool needs_escape(char32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0xFEFF;
}

bool is_plain_safe(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
  if (yaml_tree::resolve_plain(s).kind() != ConfigValue::Kind::string) return false;
  unsigned char first = static_cast<unsigned char>(s[0]);
  if (!(std::isalnum(first) || first == '_' || first == '/' || first == '.' || first >= 0x80)) return false;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t len = utf8_decode(s, i, cp);
    if (len == 0 || needs_escape(cp) || cp == 0xA0) return false;
    if (cp < 0x80) {
      char c = static_cast<char>(cp);
      if (c == ',' || c == '[' || c == ']' || c == '{' || c == '}' || c == '"' || c == '\'' || c == '`' ||
          c == '\\' || c == '\t')
        return false;
      if (c == '#' && i > 0 && s[i - 1] == ' ') return false;
      if (c == ':' && i + 1 < s.size() && s[i + 1] == ' ') return false;
    }
    i += len;
  }
  return true;
}

std::string double_quoted(const std::string& s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t len = utf8_decode(s, i, cp);
    if (len == 0) throw ConfigError("the value is not valid UTF-8 text");
    if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (needs_escape(cp)) {
      char buf[16];
      switch (cp) {
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        case 0: out += "\\0"; break;
        case 0x85: out += "\\N"; break;
        case 0x2028: out += "\\L"; break;
        case 0x2029: out += "\\P"; break;
        default:
          if (cp <= 0xFF) std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(cp));
          else std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
          out += buf;
      }
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
  return out + "\"";
}

std::string format_number(double d) {
  if (std::isnan(d)) return ".nan";
  if (std::isinf(d)) return d < 0 ? "-.inf" : ".inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, end);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

void block_into(std::string& out, const ConfigValue& v, int indent) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.is_map()) {
    if (v.as_map().empty()) {
      out += pad + "{}\n";
      return;
    }
    for (const auto& [k, child] : v.as_map()) {
      out += pad + format_yaml_scalar(ConfigValue(k)) + ":";
      if ((child.is_map() && !child.as_map().empty()) || (child.is_list() && !child.as_list().empty())) {
        out += "\n";
        block_into(out, child, indent + 2);
      } else {
        out += " ";
        block_into(out, child, 0);
      }
    }
  } else if (v.is_list()) {
    if (v.as_list().empty()) {
      out += pad + "[]\n";
      return;
    }
    for (const auto& item : v.as_list()) {
      // Render the item two deeper, then put the dash where its indentation starts.
      std::string sub;
      block_into(sub, item, indent + 2);
      sub.replace(static_cast<std::size_t>(indent), 2, "- ");
      out += sub;
    }
  } else {
    out += pad + format_yaml_scalar(v) + "\n";
  }
}

}  // namespace

std::string format_yaml_scalar(const ConfigValue& value) {
  switch (value.kind()) {
    case ConfigValue::Kind::null: return "null";
    case ConfigValue::Kind::boolean: return value.as_bool() ? "true" : "false";
    case ConfigValue::Kind::integer: return std::to_string(value.as_int());
    case ConfigValue::Kind::number: return format_number(value.as_number());
    case ConfigValue::Kind::string:
      return is_plain_safe(value.as_string()) ? value.as_string() : double_quoted(value.as_string());
    default: throw ConfigError("a list or mapping is not a single value");
  }
}

std::string format_yaml_block(const ConfigValue& value, int indent) {
  std::string out;
  block_into(out, value, indent);
  return out;
}

}  // namespace hub
