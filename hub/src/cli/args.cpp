#include "cli/args.hpp"

#include <cstdlib>

namespace hub::cli {

Args::Args(const std::vector<std::string>& argv, std::set<std::string> valued, std::set<std::string> flags) {
  valued.insert("prefix");
  bool only_positional = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positional || a.size() < 2 || a.rfind("--", 0) != 0) {
      if (!only_positional && a.size() >= 2 && a[0] == '-' && a[1] != '-')
        throw UsageError("unknown option " + a);
      positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (valued.count(name)) {
      if (inline_value) {
        values_.emplace(name, *inline_value);
      } else {
        if (i + 1 >= argv.size()) throw UsageError("option --" + name + " needs a value");
        values_.emplace(name, argv[++i]);
      }
    } else if (flags.count(name)) {
      if (inline_value) throw UsageError("option --" + name + " takes no value");
      flags_set_.insert(name);
    } else {
      throw UsageError("unknown option --" + name);
    }
  }
}

std::string Args::positional_at(std::size_t i, const char* what) const {
  if (i >= positional_.size()) throw UsageError(std::string("missing ") + what);
  return positional_[i];
}

std::optional<std::string> Args::value(const std::string& name) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  return std::prev(range.second)->second;  // the last one given wins
}

std::vector<std::string> Args::values(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

std::optional<std::string> Args::explicit_prefix() const {
  if (auto p = value("prefix")) return p;
  if (const char* env = std::getenv("COURSEHUB_PREFIX"); env && *env) return std::string(env);
  return std::nullopt;
}

std::string Args::prefix() const { return explicit_prefix().value_or("/opt/tljh"); }

}  // namespace hub::cli
