#pragma once
// Command-line parsing shared by the subcommands.
//
// Accepts `--name value`, `--name=value`, boolean `--flag`, and positionals
// (everything after `--` is positional).  Unknown options are errors, so a
// typo never silently changes behaviour.
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  // `valued`: options that take a value; `flags`: boolean options.  Names are
  // given without the leading dashes.  --prefix is always accepted.
  Args(const std::vector<std::string>& argv, std::set<std::string> valued, std::set<std::string> flags);

  const std::vector<std::string>& positional() const { return positional_; }
  std::string positional_at(std::size_t i, const char* what) const;
  std::optional<std::string> value(const std::string& name) const;
  // The value of a repeatable option, in order.
  std::vector<std::string> values(const std::string& name) const;
  bool flag(const std::string& name) const { return flags_set_.count(name) > 0; }

  // --prefix, else $COURSEHUB_PREFIX, else std::nullopt.
  std::optional<std::string> explicit_prefix() const;
  // explicit_prefix(), else /opt/tljh.
  std::string prefix() const;

 private:
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> values_;
  std::set<std::string> flags_set_;
};

}  // namespace hub::cli
