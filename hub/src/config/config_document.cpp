#include "hub/config_document.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <system_error>

#include "config/yaml_tree.hpp"
#include "hub/config.hpp"

namespace hub {
namespace {

std::string dotted(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
  return out;
}

[[noreturn]] void missing(const std::vector<std::string>& path) {
  throw ConfigError(dotted(path) + " is not set in the configuration");
}

bool loosely_equal(const ConfigValue& a, const ConfigValue& b) {
  using K = ConfigValue::Kind;
  bool a_num = a.kind() == K::integer || a.kind() == K::number;
  bool b_num = b.kind() == K::integer || b.kind() == K::number;
  if (a_num && b_num) return a.as_number() == b.as_number();
  return a == b;
}

// ---------------------------------------------------------------------------
// The text side: the file as lines, and where each block node's lines are.

using yaml_tree::Node;

struct Span {
  int start = 0;  // first line (the key's or the dash's)
  int end = 0;    // last line, trailing comments and blank lines excluded
  int raw_end = 0;  // last line before the next sibling (or the parent's end)
};

// A value to write: one inline scalar, or lines below the key.
struct NewValue {
  bool inline_value = true;
  std::string text;                // inline
  std::vector<std::string> lines;  // block, already indented
};

class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class TextEditor {
 public:
  TextEditor(const std::string& text, const std::string& source) {
    std::string body = text;
    if (body.rfind("\xEF\xBB\xBF", 0) == 0) {
      bom_ = body.substr(0, 3);
      body.erase(0, 3);
    }
    doc_ = yaml_tree::parse(body, source);
    if (doc_.uses_anchors)
      throw Unsupported("the file uses YAML anchors or aliases (&name, *name), which coursehub config "
                        "does not rewrite");
    split_lines(body);
    find_document_end();
    detect_indentation(doc_.root);
  }

  // Each edit gets `expected`, the whole document's value after the change,
  // for the parts it rewrites from the value (flow collections).
  std::string set(const std::vector<std::string>& path, const ConfigValue& value, const ConfigValue& expected) {
    if (auto text = rewrite_flow(path, expected, false)) return *text;
    return assign(path, NewValue{true, format_yaml_scalar(value), {}}, false);
  }

  std::string add_item(const std::vector<std::string>& path, const ConfigValue& item, const ConfigValue& expected) {
    if (auto rewritten = rewrite_flow(path, expected, true)) return *rewritten;
    std::string text = format_yaml_scalar(item);
    const std::optional<Entry> entry = find_last(path, /*create=*/true);
    if (entry) {
      const Node& v = *entry->value;
      Span span = entry->span;
      if (v.kind == Node::Kind::sequence && !v.flow) {
        auto items = item_spans(v, span.raw_end);
        splice(items.back().end + 1, items.back().end + 1,
               {std::string(static_cast<std::size_t>(v.column), ' ') + "- " + text});
        return joined();
      }
      if (v.kind == Node::Kind::sequence && !v.items.empty()) unsupported_flow(v, path);
      replace_entry(*entry->key, v, span, leaf_relative(list_value(text), entry->key->column));
      return joined();
    }
    return assign(path, list_value(text), true);
  }

  std::string unset(const std::vector<std::string>& path, const ConfigValue& expected) {
    if (auto text = rewrite_flow(path, expected, false)) return *text;
    const Node* map = root_map();
    int limit = doc_end_ - 1;
    std::vector<std::pair<const Node*, Span>> chain;  // (map holding the entry, entry span)
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (!map) missing(path);
      auto found = find_entry(*map, limit, path, i);
      if (!found) missing(path);
      chain.emplace_back(map, found->span);
      if (i + 1 == path.size()) break;
      const Node& v = *found->value;
      if (v.kind != Node::Kind::mapping) missing(path);
      if (v.flow) unsupported_flow(v, path);
      map = &v;
      limit = found->span.raw_end;
    }
    // Mappings the removal leaves empty go too, like tljh-config's pruning.
    std::size_t top = chain.size() - 1;
    while (top > 0 && chain[top].first->entries.size() == 1) --top;
    splice(chain[top].second.start, chain[top].second.end + 1, {});
    return joined();
  }

  std::string remove_item(const std::vector<std::string>& path, std::size_t index, const ConfigValue& expected) {
    if (auto text = rewrite_flow(path, expected, true)) return *text;
    const std::optional<Entry> entry = find_last(path, /*create=*/false);
    if (!entry) missing(path);
    const Node& v = *entry->value;
    if (v.kind != Node::Kind::sequence) throw ConfigError(dotted(path) + " is not a list");
    if (v.flow) unsupported_flow(v, path);
    if (v.items.size() == 1) {
      replace_entry(*entry->key, v, entry->span, NewValue{true, "[]", {}});
    } else {
      auto items = item_spans(v, entry->span.raw_end);
      splice(items.at(index).start, items.at(index).end + 1, {});
    }
    return joined();
  }

 private:
  struct Entry {  // points into doc_
    const Node* key;
    const Node* value;
    Span span;
  };

  // --- lines ---

  void split_lines(const std::string& body) {
    if (body.find('\r') != std::string::npos) {
      for (std::size_t i = 0; i < body.size(); ++i)
        if (body[i] == '\r' && (i + 1 == body.size() || body[i + 1] != '\n'))
          throw Unsupported("the file has lone carriage returns as line breaks");
      eol_ = "\r\n";
    }
    std::size_t start = 0;
    while (start < body.size()) {
      std::size_t nl = body.find('\n', start);
      if (nl == std::string::npos) {
        lines_.push_back(body.substr(start));
        final_eol_ = false;
        break;
      }
      std::string line = body.substr(start, nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines_.push_back(std::move(line));
      start = nl + 1;
    }
  }

  std::string joined() const {
    std::string out = bom_;
    for (std::size_t i = 0; i < lines_.size(); ++i) {
      out += lines_[i];
      if (i + 1 < lines_.size() || final_eol_) out += eol_;
    }
    return out;
  }

  static bool blank_or_comment(const std::string& line) {
    std::size_t i = line.find_first_not_of(" \t");
    return i == std::string::npos || line[i] == '#';
  }

  static int indent_of(const std::string& line) {
    std::size_t i = line.find_first_not_of(' ');
    return i == std::string::npos ? static_cast<int>(line.size()) : static_cast<int>(i);
  }

  static bool is_marker(const std::string& line, const char* marker) {
    return line.rfind(marker, 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
  }

  void find_document_end() {
    doc_end_ = static_cast<int>(lines_.size());
    for (int i = 0; i < static_cast<int>(lines_.size()); ++i)
      if (is_marker(lines_[i], "...")) {
        doc_end_ = i;
        break;
      }
  }

  void splice(int from, int to, std::vector<std::string> replacement) {
    lines_.erase(lines_.begin() + from, lines_.begin() + to);
    lines_.insert(lines_.begin() + from, replacement.begin(), replacement.end());
    if (lines_.empty()) final_eol_ = true;
  }

  int trim(int start, int raw_end) const {
    int end = raw_end;
    while (end > start && blank_or_comment(lines_[static_cast<std::size_t>(end)])) --end;
    return end;
  }

  // --- structure ---

  void detect_indentation(const Node& n) {
    if (n.kind == Node::Kind::mapping && !n.flow) {
      for (const auto& [k, v] : n.entries) {
        if (v.kind == Node::Kind::mapping && !v.flow && !step_ && v.column > k.column) step_ = v.column - k.column;
        if (v.kind == Node::Kind::sequence && !v.flow && !sequence_offset_ && v.column >= k.column)
          sequence_offset_ = v.column - k.column;
        detect_indentation(v);
      }
    } else if (n.kind == Node::Kind::sequence) {
      for (const auto& item : n.items) detect_indentation(item);
    }
  }
  int step() const { return step_.value_or(2); }
  int sequence_offset() const { return sequence_offset_.value_or(2); }

  const Node* root_map() {
    if (!doc_.present || doc_.root.kind == Node::Kind::null) {
      for (int i = 0; i < doc_end_; ++i) {
        const std::string& l = lines_[static_cast<std::size_t>(i)];
        if (!blank_or_comment(l) && !is_marker(l, "---") && l[0] != '%')
          throw Unsupported("the file holds a bare null value (line " + std::to_string(i + 1) + ")");
      }
      return nullptr;
    }
    return &doc_.root;
  }

  std::vector<Span> entry_spans(const Node& map, int limit) const {
    std::vector<Span> spans;
    for (std::size_t i = 0; i < map.entries.size(); ++i) {
      const Node& key = map.entries[i].first;
      const std::string& line = lines_.at(static_cast<std::size_t>(key.line));
      if (key.column != map.column || indent_of(line) != key.column)
        throw Unsupported("line " + std::to_string(key.line + 1) + " is not a plain 'key: value' line");
      Span s;
      s.start = key.line;
      s.raw_end = i + 1 < map.entries.size() ? map.entries[i + 1].first.line - 1 : limit;
      s.end = trim(s.start, s.raw_end);
      spans.push_back(s);
    }
    return spans;
  }

  std::vector<Span> item_spans(const Node& seq, int limit) const {
    std::vector<int> dashes;
    for (int i = seq.line; i <= limit; ++i) {
      const std::string& l = lines_[static_cast<std::size_t>(i)];
      if (blank_or_comment(l) || indent_of(l) != seq.column) continue;
      std::size_t c = static_cast<std::size_t>(seq.column);
      if (l[c] == '-' && (c + 1 == l.size() || l[c + 1] == ' ' || l[c + 1] == '\t')) dashes.push_back(i);
    }
    if (dashes.size() != seq.items.size())
      throw Unsupported("the list at line " + std::to_string(seq.line + 1) + " is not one '- item' per line");
    std::vector<Span> spans;
    for (std::size_t i = 0; i < dashes.size(); ++i) {
      Span s;
      s.start = dashes[i];
      s.raw_end = i + 1 < dashes.size() ? dashes[i + 1] - 1 : limit;
      s.end = trim(s.start, s.raw_end);
      spans.push_back(s);
    }
    return spans;
  }

  std::optional<Entry> find_entry(const Node& map, int limit, const std::vector<std::string>& path,
                                  std::size_t i) const {
    const std::string& key = path[i];
    if (map.flow) {
      for (const auto& [k, v] : map.entries)
        if (k.text == key) unsupported_flow(map, path);
      return std::nullopt;
    }
    auto spans = entry_spans(map, limit);
    for (std::size_t i = 0; i < map.entries.size(); ++i)
      if (map.entries[i].first.kind == Node::Kind::scalar && map.entries[i].first.text == key)
        return Entry{&map.entries[i].first, &map.entries[i].second, spans[i]};
    return std::nullopt;
  }

  // The entry of path's last key, found without changing anything; empty
  // when it or a mapping on the way is missing (an error unless `create`).
  std::optional<Entry> find_last(const std::vector<std::string>& path, bool create) {
    const Node* map = root_map();
    int limit = doc_end_ - 1;
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (!map) return std::nullopt;
      std::optional<Entry> found = find_entry(*map, limit, path, i);
      if (i + 1 == path.size()) return found;
      if (!found) {
        if (!create) missing(path);
        return std::nullopt;
      }
      const Node& v = *found->value;
      if (v.kind != Node::Kind::mapping || (v.flow && v.entries.empty())) {
        if (!create) missing(path);
        return std::nullopt;
      }
      if (v.flow) unsupported_flow(v, path);
      limit = found->span.raw_end;
      map = &v;
    }
    return std::nullopt;
  }

  static bool nonempty_flow(const Node& v) {
    if (!v.flow) return false;
    return v.kind == Node::Kind::mapping ? !v.entries.empty() : v.kind == Node::Kind::sequence && !v.items.empty();
  }

  static bool has_comment(const std::string& line, std::size_t from = 0) {
    std::size_t first = line.find_first_not_of(" \t", from);
    if (first != std::string::npos && line[first] == '#') return true;
    return line.find(" #", from) != std::string::npos || line.find("\t#", from) != std::string::npos;
  }

  // When the edit has to reach inside a flow collection ({...} or [...]) on
  // the path, that one collection is written out again in block style from
  // its new value, and nothing else changes.  A flow collection holding
  // comments is refused: they could not be kept.  Returns std::nullopt when
  // there is no such collection on the path.
  std::optional<std::string> rewrite_flow(const std::vector<std::string>& path, const ConfigValue& expected,
                                          bool inside_last) {
    const Node* map = root_map();
    if (map && nonempty_flow(*map)) return rewrite_root(expected, path);
    int limit = doc_end_ - 1;
    std::vector<std::pair<const Node*, Span>> chain;
    const ConfigValue* sub = &expected;
    for (std::size_t i = 0; i < path.size() && map; ++i) {
      auto found = find_entry(*map, limit, path, i);
      if (!found) return std::nullopt;
      chain.emplace_back(map, found->span);
      sub = sub ? sub->find(path[i]) : nullptr;
      const Node& v = *found->value;
      bool last = i + 1 == path.size();
      if (nonempty_flow(v) && (!last || inside_last)) {
        refuse_comments(found->span, *found->key, path);
        if (sub) {
          replace_entry(*found->key, v, found->span, block_value(*sub, found->key->column));
        } else {
          // The change emptied it and tljh-config's pruning removes it.
          std::size_t top = chain.size() - 1;
          while (top > 0 && chain[top].first->entries.size() == 1) --top;
          splice(chain[top].second.start, chain[top].second.end + 1, {});
        }
        return joined();
      }
      if (last || v.kind != Node::Kind::mapping || v.flow) return std::nullopt;
      map = &v;
      limit = found->span.raw_end;
    }
    return std::nullopt;
  }

  std::string rewrite_root(const ConfigValue& expected, const std::vector<std::string>& path) {
    int first = doc_.root.line;
    int last = doc_end_ - 1;
    while (last > first && blank_or_comment(lines_[static_cast<std::size_t>(last)])) --last;
    for (int i = first; i <= last; ++i)
      if (has_comment(lines_[static_cast<std::size_t>(i)]))
        throw Unsupported("the flow-style ({...}) mapping around " + dotted(path) + " holds comments (line " +
                          std::to_string(i + 1) + "), which rewriting it would lose");
    std::vector<std::string> out;
    if (expected.as_map().empty()) out.push_back("{}");
    else block_lines(out, expected, 0);
    splice(first, last + 1, out);
    return joined();
  }

  void refuse_comments(const Span& span, const Node& key, const std::vector<std::string>& path) const {
    for (int i = span.start; i <= span.end; ++i) {
      const std::string& l = lines_[static_cast<std::size_t>(i)];
      // A comment after a one-line value is kept by replace_entry.
      if (span.start == span.end) break;
      if (has_comment(l, i == span.start ? static_cast<std::size_t>(key.column) : 0))
        throw Unsupported("the flow-style ({...} or [...]) value of " + dotted(path) + " holds comments (line " +
                          std::to_string(i + 1) + "), which rewriting it would lose");
    }
  }

  static std::string inline_text(const ConfigValue& v) {
    if (v.is_map()) return "{}";
    if (v.is_list()) return "[]";
    return format_yaml_scalar(v);
  }

  static bool nonempty_collection(const ConfigValue& v) {
    return (v.is_map() && !v.as_map().empty()) || (v.is_list() && !v.as_list().empty());
  }

  // Block-style lines for a non-empty mapping or list at `indent`, in the
  // file's own indentation style.
  void block_lines(std::vector<std::string>& out, const ConfigValue& v, int indent) const {
    std::string pad(static_cast<std::size_t>(indent), ' ');
    if (v.is_map()) {
      for (const auto& [k, child] : v.as_map()) {
        std::string key = format_yaml_scalar(ConfigValue(k));
        if (nonempty_collection(child)) {
          out.push_back(pad + key + ":");
          block_lines(out, child, indent + (child.is_map() ? step() : sequence_offset()));
        } else {
          out.push_back(pad + key + ": " + inline_text(child));
        }
      }
      return;
    }
    for (const auto& item : v.as_list()) {
      if (!nonempty_collection(item)) {
        out.push_back(pad + "- " + inline_text(item));
        continue;
      }
      std::vector<std::string> sub;
      block_lines(sub, item, indent + 2);
      sub[0] = pad + "- " + sub[0].substr(static_cast<std::size_t>(indent) + 2);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  }

  // `v` as the new value of a key at `key_indent`.
  NewValue block_value(const ConfigValue& v, int key_indent) const {
    if (!nonempty_collection(v)) return NewValue{true, inline_text(v), {}};
    NewValue out{false, "", {}};
    block_lines(out.lines, v, key_indent + (v.is_map() ? step() : sequence_offset()));
    return out;
  }

  // Lines for `path` (from `from` on) as new nested keys at `indent`.
  std::vector<std::string> chain(int indent, const std::vector<std::string>& path, std::size_t from,
                                 const NewValue& leaf) const {
    std::string pad(static_cast<std::size_t>(indent), ' ');
    std::string key = format_yaml_scalar(ConfigValue(path[from]));
    if (from + 1 == path.size()) {
      if (leaf.inline_value) return {pad + key + ": " + leaf.text};
      std::vector<std::string> out{pad + key + ":"};
      for (const auto& l : leaf.lines) out.push_back(pad + l);
      return out;
    }
    std::vector<std::string> out{pad + key + ":"};
    auto rest = chain(indent + step(), path, from + 1, leaf);
    out.insert(out.end(), rest.begin(), rest.end());
    return out;
  }

  // A one-item list as lines relative to its key's indentation.
  NewValue list_value(const std::string& item) const {
    return NewValue{false, "", {std::string(static_cast<std::size_t>(sequence_offset()), ' ') + "- " + item}};
  }

  // Sets path to `leaf`, creating mappings on the way and replacing whatever
  // is in the way (tljh-config's destructive set).
  std::string assign(const std::vector<std::string>& path, const NewValue& leaf, bool leaf_is_list) {
    const Node* map = root_map();
    int limit = doc_end_ - 1;
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (!map) {
        splice(doc_end_, doc_end_, chain(0, path, i, leaf));
        return joined();
      }
      if (map->flow) {
        if (!map->entries.empty()) unsupported_flow(*map, path);
        // The root written as {}: replace that line.
        const std::string& l = lines_.at(static_cast<std::size_t>(map->line));
        if (l.find_first_not_of(" ") != static_cast<std::size_t>(map->column) || l.find('}') == std::string::npos ||
            !blank_or_comment(l.substr(l.find('}') + 1)))
          unsupported_flow(*map, path);
        splice(map->line, map->line + 1, chain(map->column, path, i, leaf));
        return joined();
      }
      auto found = find_entry(*map, limit, path, i);
      if (!found) {
        auto spans = entry_spans(*map, limit);
        int at = map == &doc_.root ? doc_end_ : spans.back().end + 1;
        splice(at, at, chain(map->column, path, i, leaf));
        return joined();
      }
      const Node& v = *found->value;
      int indent = found->key->column;
      if (i + 1 == path.size()) {
        replace_entry(*found->key, v, found->span, leaf_is_list ? leaf_relative(leaf, indent) : leaf);
        return joined();
      }
      if (v.kind == Node::Kind::mapping && !v.flow) {
        map = &v;
        limit = found->span.raw_end;
        continue;
      }
      if (v.kind == Node::Kind::mapping && !v.entries.empty()) unsupported_flow(v, path);
      std::vector<std::string> lines = chain(indent + step(), path, i + 1, leaf);
      replace_entry(*found->key, v, found->span, NewValue{false, "", lines});
      return joined();
    }
    return joined();
  }

  NewValue leaf_relative(const NewValue& leaf, int indent) const {
    NewValue out = leaf;
    for (auto& l : out.lines) l = std::string(static_cast<std::size_t>(indent), ' ') + l;
    return out;
  }

  // Rewrites the entry whose key is `key`: keeps the key as written and the
  // comment at the end of its line, replaces the value's lines.
  void replace_entry(const Node& key, const Node& value, const Span& span, const NewValue& nv) {
    const std::string line = lines_.at(static_cast<std::size_t>(key.line));
    std::size_t colon = colon_after_key(line, static_cast<std::size_t>(key.column));
    std::string after = line.substr(colon + 1);
    std::string comment;
    std::size_t value_start = line.find_first_not_of(" \t", colon + 1);
    bool value_on_key_line = value_start != std::string::npos && line[value_start] != '#';
    bool nested = value.kind == Node::Kind::mapping || value.kind == Node::Kind::sequence ? !value.flow : false;
    std::string head = line.substr(0, colon + 1);
    if (!value_on_key_line) {
      comment = after;  // only spaces and a comment, if anything
      if (comment.find('#') == std::string::npos) comment.clear();
    } else if (!nested && span.end == span.start) {
      std::size_t end = inline_value_end(line, value_start);
      if (end != std::string::npos) {
        std::string rest = line.substr(end);
        if (rest.find('#') != std::string::npos) comment = rest;
        head = line.substr(0, value_start - 1);  // keep the spacing after the colon
      }
    }
    std::vector<std::string> out;
    if (nv.inline_value) {
      out.push_back(head + " " + nv.text + comment);
    } else {
      out.push_back(line.substr(0, colon + 1) + comment);
      for (const auto& l : nv.lines) out.push_back(l);
    }
    splice(span.start, span.end + 1, out);
  }

  static std::size_t colon_after_key(const std::string& line, std::size_t col) {
    std::size_t i = col;
    auto fail = [&]() -> std::size_t {
      throw Unsupported("cannot find where the key ends on the line '" + line + "'");
    };
    if (i >= line.size()) return fail();
    if (line[i] == '"' || line[i] == '\'') {
      std::size_t end = quoted_end(line, i);
      if (end == std::string::npos) return fail();
      i = line.find_first_not_of(" \t", end);
      if (i == std::string::npos || line[i] != ':') return fail();
      return i;
    }
    for (; i < line.size(); ++i)
      if (line[i] == ':' && (i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t')) return i;
    return fail();
  }

  // Index after the closing quote of the quoted scalar at `i`, npos if it
  // does not close on this line.
  static std::size_t quoted_end(const std::string& line, std::size_t i) {
    char q = line[i];
    for (std::size_t j = i + 1; j < line.size(); ++j) {
      if (q == '"' && line[j] == '\\') {
        ++j;
      } else if (line[j] == q) {
        if (q == '\'' && j + 1 < line.size() && line[j + 1] == '\'') {
          ++j;
          continue;
        }
        return j + 1;
      }
    }
    return std::string::npos;
  }

  // Index just after a single-line value starting at `i`; npos when the value
  // goes on over more lines or cannot be told apart from a comment.
  static std::size_t inline_value_end(const std::string& line, std::size_t i) {
    char c = line[i];
    if (c == '"' || c == '\'') return quoted_end(line, i);
    if (c == '|' || c == '>') return std::string::npos;
    if (c == '[' || c == '{') {
      int depth = 0;
      for (std::size_t j = i; j < line.size(); ++j) {
        if (line[j] == '"' || line[j] == '\'') {
          j = quoted_end(line, j);
          if (j == std::string::npos) return j;
          --j;
        } else if (line[j] == '[' || line[j] == '{') {
          ++depth;
        } else if (line[j] == ']' || line[j] == '}') {
          if (--depth == 0) return j + 1;
        }
      }
      return std::string::npos;
    }
    std::size_t end = line.size();
    for (std::size_t j = i; j < line.size(); ++j)
      if (line[j] == '#' && (line[j - 1] == ' ' || line[j - 1] == '\t')) {
        end = j;
        break;
      }
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
    return end;
  }

  [[noreturn]] void unsupported_flow(const Node& n, const std::vector<std::string>& path) const {
    throw Unsupported("the value around " + dotted(path) + " (line " + std::to_string(n.line + 1) +
                      ") is written in flow style ({...} or [...]); rewrite it in block style, one key "
                      "per line and list items as '- item' lines");
  }

  yaml_tree::Document doc_;
  std::vector<std::string> lines_;
  std::string eol_ = "\n";
  bool final_eol_ = true;
  std::string bom_;
  int doc_end_ = 0;
  std::optional<int> step_;
  std::optional<int> sequence_offset_;
};

}  // namespace

// ---------------------------------------------------------------------------
// The value side: tljh-config's semantics on a tree.

ConfigValue set_config_item(const ConfigValue& root, const std::vector<std::string>& path,
                            const ConfigValue& value) {
  ConfigValue out = root.is_map() ? root : ConfigValue::empty_map();
  ConfigValue* cur = &out;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    ConfigValue* child = cur->find(path[i]);
    if (!child) {
      cur->as_map().emplace_back(path[i], ConfigValue::empty_map());
      child = &cur->as_map().back().second;
    } else if (!child->is_map()) {
      *child = ConfigValue::empty_map();
    }
    cur = child;
  }
  if (ConfigValue* existing = cur->find(path.back())) {
    if (existing->is_list())
      throw ConfigError(dotted(path) + " is a list: change it with add-item and remove-item");
    *existing = value;
  } else {
    cur->as_map().emplace_back(path.back(), value);
  }
  return out;
}

ConfigValue unset_config_item(const ConfigValue& root, const std::vector<std::string>& path) {
  ConfigValue out = root.is_map() ? root : ConfigValue::empty_map();
  std::vector<ConfigValue*> maps{&out};
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    ConfigValue* child = maps.back()->find(path[i]);
    if (!child || !child->is_map()) missing(path);
    maps.push_back(child);
  }
  auto erase = [](ConfigValue& map, const std::string& key) {
    auto& m = map.as_map();
    for (auto it = m.begin(); it != m.end(); ++it)
      if (it->first == key) {
        m.erase(it);
        return true;
      }
    return false;
  };
  if (!erase(*maps.back(), path.back())) missing(path);
  for (std::size_t i = maps.size() - 1; i > 0 && maps[i]->as_map().empty(); --i) erase(*maps[i - 1], path[i - 1]);
  return out;
}

ConfigValue add_config_item(const ConfigValue& root, const std::vector<std::string>& path,
                            const ConfigValue& item) {
  ConfigValue out = root.is_map() ? root : ConfigValue::empty_map();
  ConfigValue* cur = &out;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    ConfigValue* child = cur->find(path[i]);
    if (!child) {
      cur->as_map().emplace_back(path[i], ConfigValue::empty_map());
      child = &cur->as_map().back().second;
    } else if (!child->is_map()) {
      *child = ConfigValue::empty_map();
    }
    cur = child;
  }
  ConfigValue* list = cur->find(path.back());
  if (!list) {
    cur->as_map().emplace_back(path.back(), ConfigValue::empty_list());
    list = &cur->as_map().back().second;
  } else if (!list->is_list()) {
    *list = ConfigValue::empty_list();
  }
  list->as_list().push_back(item);
  return out;
}

ConfigValue remove_config_item(const ConfigValue& root, const std::vector<std::string>& path,
                               const ConfigValue& item, std::size_t* removed_index) {
  ConfigValue out = root.is_map() ? root : ConfigValue::empty_map();
  ConfigValue* cur = &out;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    cur = cur->find(path[i]);
    if (!cur || !cur->is_map()) missing(path);
  }
  ConfigValue* list = cur->find(path.back());
  if (!list) missing(path);
  if (!list->is_list()) throw ConfigError(dotted(path) + " is not a list");
  auto& items = list->as_list();
  for (std::size_t i = 0; i < items.size(); ++i)
    if (loosely_equal(items[i], item)) {
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
      if (removed_index) *removed_index = i;
      return out;
    }
  std::string shown = item.is_scalar() ? format_yaml_scalar(item) : item.describe();
  throw ConfigError(shown + " is not in the list " + dotted(path));
}

// ---------------------------------------------------------------------------

ConfigDocument::ConfigDocument(std::string text, std::string source)
    : text_(std::move(text)), source_(std::move(source)) {
  std::string_view body = text_;
  if (body.rfind("\xEF\xBB\xBF", 0) == 0) body.remove_prefix(3);
  value_ = parse_config_yaml(body, source_);
}

namespace {
template <class Edit>
std::string edit_text(const std::string& text, const std::string& source, std::string_view key, Edit edit) {
  try {
    TextEditor editor(text, source);
    return edit(editor);
  } catch (const Unsupported& e) {
    throw ConfigError("cannot change " + std::string(key) + " in " + source + " without rewriting what is "
                      "written there: " + e.what() + ". The file was left unchanged; edit it by hand.");
  }
}
}  // namespace

void ConfigDocument::set(std::string_view key, const ConfigValue& value) {
  auto path = split_key_path(key);
  if (!value.is_scalar()) throw ConfigError("set takes a single value; lists change with add-item");
  ConfigValue expected = set_config_item(value_, path, value);
  replace_text(edit_text(text_, source_, key, [&](TextEditor& e) { return e.set(path, value, expected); }),
               expected, key);
}

void ConfigDocument::unset(std::string_view key) {
  auto path = split_key_path(key);
  ConfigValue expected = unset_config_item(value_, path);
  replace_text(edit_text(text_, source_, key, [&](TextEditor& e) { return e.unset(path, expected); }), expected,
               key);
}

void ConfigDocument::add_item(std::string_view key, const ConfigValue& item) {
  auto path = split_key_path(key);
  if (!item.is_scalar()) throw ConfigError("add-item takes a single value");
  ConfigValue expected = add_config_item(value_, path, item);
  replace_text(edit_text(text_, source_, key, [&](TextEditor& e) { return e.add_item(path, item, expected); }), expected,
               key);
}

void ConfigDocument::remove_item(std::string_view key, const ConfigValue& item) {
  auto path = split_key_path(key);
  std::size_t index = 0;
  ConfigValue expected = remove_config_item(value_, path, item, &index);
  replace_text(edit_text(text_, source_, key, [&](TextEditor& e) { return e.remove_item(path, index, expected); }),
               expected, key);
}

void ConfigDocument::replace_text(std::string new_text, const ConfigValue& expected, std::string_view key) {
  ConfigValue reparsed;
  try {
    std::string_view body = new_text;
    if (body.rfind("\xEF\xBB\xBF", 0) == 0) body.remove_prefix(3);
    reparsed = parse_config_yaml(body, source_);
  } catch (const ConfigError&) {
    reparsed = ConfigValue();
  }
  if (!(reparsed == expected))
    throw ConfigError("cannot change " + std::string(key) + " in " + source_ +
                      " safely: the edited text would not mean what was asked (a construct the editor "
                      "does not handle). The file was left unchanged; edit it by hand.");
  text_ = std::move(new_text);
  value_ = std::move(reparsed);
}

// ---------------------------------------------------------------------------

std::optional<std::string> read_config_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw ConfigError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw ConfigError("cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

void write_file_atomically(const std::string& path, std::string_view contents, unsigned new_mode) {
  std::string target = path;
  if (char* real = ::realpath(path.c_str(), nullptr)) {
    target = real;
    std::free(real);
  }
  std::string dir = target.substr(0, target.find_last_of('/') == std::string::npos ? 0 : target.find_last_of('/'));
  if (dir.empty()) dir = target.find('/') == 0 ? "/" : ".";
  std::string tmpl = target + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot create a file next to " + target);
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw std::system_error(err, std::generic_category(), std::string(what) + " " + tmpl);
  };
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    if (::fchmod(fd, st.st_mode & 07777) != 0) fail("cannot set the mode of");
    if (::geteuid() == 0 && ::fchown(fd, st.st_uid, st.st_gid) != 0) fail("cannot set the owner of");
  } else if (::fchmod(fd, new_mode) != 0) {
    fail("cannot set the mode of");
  }
  std::size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot sync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    throw std::system_error(err, std::generic_category(), "cannot write " + tmpl);
  }
  if (::rename(tmpl.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    throw std::system_error(err, std::generic_category(), "cannot replace " + target);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace hub
