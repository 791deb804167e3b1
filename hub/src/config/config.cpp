#include "hub/config.hpp"

#include <charconv>
#include <cmath>

#include "hub/config_document.hpp"
#include "hub/config_schema.hpp"
#include "hub/config_value.hpp"

namespace hub {

std::string config_path(const std::string& prefix) {
  std::string p = prefix;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p + "/config/config.yaml";
}

std::int64_t parse_memory_size(const std::string& text) {
  auto fail = [&](const std::string& why) -> std::int64_t {
    throw ConfigError("'" + text + "' is not a memory size (" + why + ")");
  };
  const std::string how = "write it like 512M, 1G, 1.5G, or a number of bytes";
  if (text.empty()) return fail(how);
  std::string number = text;
  double unit = 1;
  switch (text.back()) {
    case 'K': case 'k': unit = 1024.0; break;
    case 'M': case 'm': unit = 1024.0 * 1024; break;
    case 'G': case 'g': unit = 1024.0 * 1024 * 1024; break;
    case 'T': case 't': unit = 1024.0 * 1024 * 1024 * 1024; break;
    default: break;
  }
  if (unit != 1) number.pop_back();
  // Digits, optionally '.' and more digits: no signs, exponents or spaces.
  std::size_t dot = number.find('.');
  auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  bool well_formed = dot == std::string::npos
                         ? digits(number)
                         : digits(std::string_view(number).substr(0, dot)) &&
                               digits(std::string_view(number).substr(dot + 1));
  if (!well_formed) return fail(how);
  if (dot != std::string::npos && unit == 1) return fail("a fraction needs a unit, like 1.5G");
  if (dot == std::string::npos && unit == 1) {
    std::int64_t bytes = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), bytes);
    if (ec != std::errc() || end != number.data() + number.size()) return fail("too large");
    if (bytes == 0) return fail("it must be more than 0");
    return bytes;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) return fail(how);
  double bytes = std::floor(value * unit);
  if (bytes >= 9.2e18) return fail("too large");
  if (bytes < 1) return fail("it must be more than 0");
  return static_cast<std::int64_t>(bytes);
}

std::optional<std::int64_t> HubConfig::memory_limit_bytes() const {
  if (!limits_memory) return std::nullopt;
  try {
    return parse_memory_size(*limits_memory);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("limits.memory: ") + e.what());
  }
}

HubConfig load_config(const std::string& path) {
  auto text = read_config_file(path);
  if (!text) return config_from_value(ConfigValue::empty_map());
  ConfigValue root = parse_config_yaml(*text, path);
  auto errors = validate_config(root);
  if (!errors.empty()) {
    std::string message = path + ": ";
    if (errors.size() > 1) message += std::to_string(errors.size()) + " problems:";
    for (const auto& e : errors) message += (errors.size() > 1 ? "\n  " : "") + e;
    throw ConfigError(message);
  }
  return config_from_value(root);
}

}  // namespace hub
