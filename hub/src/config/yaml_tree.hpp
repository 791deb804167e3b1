#pragma once
// yaml-cpp's event parser turned into a tree that remembers where each node
// starts, shared by the config loader (values with core-schema typing) and the
// comment-preserving editor (positions).  yaml-cpp stays inside hub/src.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hub/config_value.hpp"

namespace hub::yaml_tree {

struct Node {
  enum class Kind { null, scalar, sequence, mapping, alias };
  Kind kind = Kind::null;
  int line = 0;    // 0-based line of the node's first character
  int column = 0;  // 0-based byte column
  bool flow = false;        // collections written as [...] or {...}
  std::string tag;          // "?" plain scalar, "!" quoted or block scalar, else the tag
  std::size_t anchor = 0;   // anchor id of an anchored node; for aliases, the id referred to
  std::string text;         // scalar contents
  std::vector<Node> items;                      // sequence items
  std::vector<std::pair<Node, Node>> entries;   // mapping (key, value) pairs in file order
};

struct Document {
  bool present = false;       // false: the text holds no document (only comments)
  bool uses_anchors = false;  // some node has an anchor or is an alias
  Node root;
};

// Parses exactly one YAML document.  Throws ConfigError "<source> line L,
// column C: <what>" on syntax errors, and on several documents.
Document parse(std::string_view text, const std::string& source);

// The value of `doc`'s root: a mapping (an absent or null document gives an
// empty one).  Throws ConfigError naming the key path on duplicate keys,
// unsupported tags, integers out of range and a top level that is not a
// mapping.
ConfigValue to_value(const Document& doc, const std::string& source);

// Core-schema typing of a plain (unquoted, untagged) scalar.  Throws
// ConfigError for integers beyond 64 bits.
ConfigValue resolve_plain(const std::string& text);

}  // namespace hub::yaml_tree
