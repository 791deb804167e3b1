#pragma once
// What admins may ask the installer for: PEP 508 requirements by name, and
// requirement files made only of such lines.
//
// Everything is validated by a strict parser and re-serialised from its
// tokens, so what reaches pip is exactly a name, extras, version specifiers and
// an environment marker: never an option (-e, --index-url, ...), a path, a URL
// or anything a shell would interpret.  Errors throw EnvError (bad_spec,
// bad_requirements) naming the offending text.
#include <string>
#include <string_view>
#include <vector>

namespace envmgr {

// PEP 503 normalisation: "Foo_Bar.baz" -> "foo-bar-baz".
std::string canonical_name(std::string_view name);

// True when `name` is a valid project name (PEP 508).
bool valid_project_name(std::string_view name);

struct Requirement {
  std::string name;                 // as written
  std::vector<std::string> extras;  // as written
  std::string specifier;            // e.g. ">=1.0,<2", "" when none
  std::string marker;               // e.g. "python_version >= \"3.8\"", "" when none
  std::vector<std::string> hashes;  // "sha256:<hex>" (requirement files only)

  std::string canonical() const { return canonical_name(name); }
  // The requirement as pip reads it, without hashes: "name[x,y]>=1,<2; marker".
  std::string to_string() const;
  // A pin "==V" (or "===V") with no wildcard: the exact version asked for.
  bool is_pinned() const;
};

// Parses one requirement given on a command line or in the API.
Requirement parse_requirement(std::string_view text);

// Parses a requirements file.  Allowed: requirement lines, comments, blank
// lines, line continuations and per-requirement --hash=ALGO:HEX options.
// Refused: every other option (-e, -r, -c, --index-url, --find-links, ...),
// URLs, paths and ${VAR} expansion, with the line number in the message.
std::vector<Requirement> parse_requirements_file(std::string_view text);

}  // namespace envmgr
