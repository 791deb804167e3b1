#pragma once
// Editing config.yaml the way tljh-config does, without losing what the admin
// wrote: comments, blank lines, key order, quoting and indentation of every
// untouched line survive; only the lines of the changed key are rewritten.
//
// Semantics (tljh-config's):
//  - set:  dotted keys create nested mappings; a component that holds a
//          non-mapping is replaced by a mapping, and a mapping at the key is
//          replaced by the value ("destructive set").  A key that holds a list
//          is refused: lists change only through add-item / remove-item.
//  - unset: the key must exist; mappings left empty by the removal are
//          removed too, up to the top.
//  - add-item: appends to the list at the key, creating it (and its parents);
//          a non-list at the key is replaced by a one-item list.
//  - remove-item: the key must be a list holding the value; the first equal
//          item is removed (an emptied list stays, as []).
//
// The editor works on block-style YAML (what tljh-config and admins write).
// When a change has to reach inside a flow-style collection ({a: 1}, [a, b],
// or a whole JSON file), that one collection is written out again in block
// style from its new value; everything else stays as it was.  What cannot be
// rewritten without loss is refused with a ConfigError saying why, the text
// unchanged: a flow collection holding comments, any file using anchors and
// aliases.  Every edit is checked by parsing the new text again: it must mean
// exactly the old document with the one change applied, else it is refused.
//
// A ConfigDocument is a plain value; not thread-safe.  Locking and writing the
// file are the caller's business (see write_file_atomically).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/config_value.hpp"

namespace hub {

class ConfigDocument {
 public:
  // Parses `text`.  Throws ConfigError (naming `source` and the line) when it
  // is not valid YAML or not a mapping at the top level.
  ConfigDocument(std::string text, std::string source);

  const std::string& text() const { return text_; }
  const ConfigValue& value() const { return value_; }

  // Each edit either changes text() and value() or throws ConfigError and
  // changes nothing.  `key` is a dotted path.
  void set(std::string_view key, const ConfigValue& value);
  void unset(std::string_view key);
  void add_item(std::string_view key, const ConfigValue& item);
  void remove_item(std::string_view key, const ConfigValue& item);

 private:
  void replace_text(std::string new_text, const ConfigValue& expected, std::string_view key);

  std::string text_;
  std::string source_;
  ConfigValue value_;
};

// The same four operations on a value tree alone (the reference semantics the
// editor is checked against).  They throw ConfigError for a missing key, a
// list given to set, and remove-item of an item that is not there.
// remove_config_item returns the index of the removed item.
ConfigValue set_config_item(const ConfigValue& root, const std::vector<std::string>& path,
                            const ConfigValue& value);
ConfigValue unset_config_item(const ConfigValue& root, const std::vector<std::string>& path);
ConfigValue add_config_item(const ConfigValue& root, const std::vector<std::string>& path,
                            const ConfigValue& item);
ConfigValue remove_config_item(const ConfigValue& root, const std::vector<std::string>& path,
                               const ConfigValue& item, std::size_t* removed_index = nullptr);

// The bytes of `path`, or std::nullopt when it does not exist.  Throws
// ConfigError when it exists but cannot be read (permissions, a folder).
std::optional<std::string> read_config_file(const std::string& path);

// Replaces `path` with `contents` atomically: a temporary file in the same
// folder, written and fsync'ed, renamed over `path`, folder fsync'ed.  Keeps
// the mode (and, when permitted, the owner) of an existing file; a new file
// gets mode `new_mode`.  When `path` is a symlink, its target is replaced.
// Throws std::system_error; on failure `path` is untouched.
void write_file_atomically(const std::string& path, std::string_view contents, unsigned new_mode = 0600);

}  // namespace hub
