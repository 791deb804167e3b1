#include "config/yaml_tree.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <regex>
#include <sstream>

#include "hub/config.hpp"

namespace hub::yaml_tree {
namespace {

// Builds Nodes from parser events.  Children are completed before their
// parent, so frames hold nodes by value and move them up when they end.
class TreeBuilder : public YAML::EventHandler {
 public:
  Document& doc;
  explicit TreeBuilder(Document& d) : doc(d) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Node n = at(mark, Node::Kind::null, anchor);
    complete(std::move(n));
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Node n = at(mark, Node::Kind::alias, 0);
    n.anchor = anchor;
    doc.uses_anchors = true;
    complete(std::move(n));
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    Node n = at(mark, Node::Kind::scalar, anchor);
    n.tag = tag;
    n.text = value;
    complete(std::move(n));
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override {
    Node n = at(mark, Node::Kind::sequence, anchor);
    n.tag = tag;
    n.flow = style == YAML::EmitterStyle::Flow;
    stack_.push_back(Frame{std::move(n), {}, false});
  }
  void OnSequenceEnd() override { finish(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override {
    Node n = at(mark, Node::Kind::mapping, anchor);
    n.tag = tag;
    n.flow = style == YAML::EmitterStyle::Flow;
    stack_.push_back(Frame{std::move(n), {}, false});
  }
  void OnMapEnd() override { finish(); }

 private:
  struct Frame {
    Node node;
    Node pending_key;
    bool has_key = false;
  };

  Node at(const YAML::Mark& mark, Node::Kind kind, YAML::anchor_t anchor) {
    Node n;
    n.kind = kind;
    n.line = mark.line;
    n.column = mark.column;
    n.anchor = anchor;
    if (anchor != YAML::NullAnchor) doc.uses_anchors = true;
    return n;
  }

  void finish() {
    Node n = std::move(stack_.back().node);
    stack_.pop_back();
    complete(std::move(n));
  }

  void complete(Node n) {
    if (stack_.empty()) {
      doc.root = std::move(n);
      doc.present = true;
      return;
    }
    Frame& f = stack_.back();
    if (f.node.kind == Node::Kind::sequence) {
      f.node.items.push_back(std::move(n));
    } else if (!f.has_key) {
      f.pending_key = std::move(n);
      f.has_key = true;
    } else {
      f.node.entries.emplace_back(std::move(f.pending_key), std::move(n));
      f.has_key = false;
    }
  }

  std::vector<Frame> stack_;
};

const std::string kTagPrefix = "tag:yaml.org,2002:";

const std::regex kDecimal("[-+]?[0-9]+", std::regex::extended);
const std::regex kOctal("0o[0-7]+", std::regex::extended);
const std::regex kHex("0x[0-9a-fA-F]+", std::regex::extended);
const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?", std::regex::extended);
const std::regex kInfinity("[-+]?\\.(inf|Inf|INF)", std::regex::extended);
const std::regex kNan("\\.(nan|NaN|NAN)", std::regex::extended);

ConfigValue parse_integer(const std::string& text, int base, std::size_t skip, bool negative) {
  errno = 0;
  char* end = nullptr;
  std::string digits = text.substr(skip);
  unsigned long long magnitude = std::strtoull(digits.c_str(), &end, base);
  if (errno == ERANGE || *end != '\0' ||
      magnitude > (negative ? 9223372036854775808ULL : 9223372036854775807ULL))
    throw ConfigError("integer " + text + " is out of range");
  if (negative)
    return ConfigValue(magnitude == 9223372036854775808ULL ? std::numeric_limits<std::int64_t>::min()
                                                          : -static_cast<std::int64_t>(magnitude));
  return ConfigValue(static_cast<std::int64_t>(magnitude));
}

std::optional<ConfigValue> resolve_number(const std::string& s) {
  if (std::regex_match(s, kDecimal)) {
    bool negative = s[0] == '-';
    std::size_t skip = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    return parse_integer(s, 10, skip, negative);
  }
  if (std::regex_match(s, kOctal)) return parse_integer(s, 8, 2, false);
  if (std::regex_match(s, kHex)) return parse_integer(s, 16, 2, false);
  if (std::regex_match(s, kFloat)) {
    // from_chars is locale-independent and takes no leading '+'.
    std::size_t skip = s[0] == '+' ? 1 : 0;
    double d = 0;
    auto [end, ec] = std::from_chars(s.data() + skip, s.data() + s.size(), d);
    if (ec == std::errc::result_out_of_range) throw ConfigError("number " + s + " is out of range");
    if (ec != std::errc() || end != s.data() + s.size()) return ConfigValue(s);
    return ConfigValue(d);
  }
  if (std::regex_match(s, kInfinity))
    return ConfigValue(s[0] == '-' ? -std::numeric_limits<double>::infinity()
                                   : std::numeric_limits<double>::infinity());
  if (std::regex_match(s, kNan)) return ConfigValue(std::numeric_limits<double>::quiet_NaN());
  return std::nullopt;
}

std::string where(const std::string& path) { return path.empty() ? "the top level" : path; }

class Converter {
 public:
  explicit Converter(const std::string& source) : source_(source) {}

  ConfigValue convert(const Node& n, const std::string& path) {
    ConfigValue v = convert_inner(n, path);
    if (n.anchor != 0 && n.kind != Node::Kind::alias) anchors_[n.anchor] = v;
    return v;
  }

 private:
  ConfigValue convert_inner(const Node& n, const std::string& path) {
    switch (n.kind) {
      case Node::Kind::null:
        return ConfigValue();
      case Node::Kind::alias: {
        auto it = anchors_.find(n.anchor);
        if (it == anchors_.end()) fail(n, path, "alias to an unknown anchor");
        return it->second;
      }
      case Node::Kind::scalar:
        return scalar(n, path);
      case Node::Kind::sequence: {
        check_collection_tag(n, path, "seq");
        ConfigValue::List list;
        for (std::size_t i = 0; i < n.items.size(); ++i)
          list.push_back(convert(n.items[i], path + "[" + std::to_string(i) + "]"));
        return ConfigValue(std::move(list));
      }
      case Node::Kind::mapping: {
        check_collection_tag(n, path, "map");
        ConfigValue out = ConfigValue::empty_map();
        for (const auto& [k, v] : n.entries) {
          std::string key = key_text(k, path);
          std::string child = path.empty() ? key : path + "." + key;
          if (out.find(key)) fail(k, child, "the key appears twice");
          out.as_map().emplace_back(key, convert(v, child));
        }
        return out;
      }
    }
    return ConfigValue();
  }

  ConfigValue scalar(const Node& n, const std::string& path) {
    try {
      if (n.tag == "?") return resolve_plain(n.text);
      if (n.tag == "!" || n.tag == kTagPrefix + "str") return ConfigValue(n.text);
      if (n.tag == kTagPrefix + "null") return ConfigValue();
      if (n.tag == kTagPrefix + "bool") {
        ConfigValue v = resolve_plain(n.text);
        if (v.kind() != ConfigValue::Kind::boolean) fail(n, path, "'" + n.text + "' is not a boolean");
        return v;
      }
      if (n.tag == kTagPrefix + "int" || n.tag == kTagPrefix + "float") {
        auto v = resolve_number(n.text);
        if (!v) fail(n, path, "'" + n.text + "' is not a number");
        if (n.tag == kTagPrefix + "float" && v->kind() == ConfigValue::Kind::integer)
          return ConfigValue(static_cast<double>(v->as_int()));
        if (n.tag == kTagPrefix + "int" && v->kind() != ConfigValue::Kind::integer)
          fail(n, path, "'" + n.text + "' is not an integer");
        return *v;
      }
    } catch (const ConfigError& e) {
      if (std::string_view(e.what()).rfind(source_, 0) == 0) throw;
      fail(n, path, e.what());
    }
    fail(n, path, "unsupported tag " + n.tag);
  }

  void check_collection_tag(const Node& n, const std::string& path, const char* kind) {
    if (n.tag == "?" || n.tag == "!" || n.tag.empty() || n.tag == kTagPrefix + kind) return;
    fail(n, path, "unsupported tag " + n.tag);
  }

  std::string key_text(const Node& k, const std::string& path) {
    if (k.kind == Node::Kind::scalar) return k.text;
    if (k.kind == Node::Kind::alias) {
      auto it = anchors_.find(k.anchor);
      if (it != anchors_.end() && it->second.kind() == ConfigValue::Kind::string) return it->second.as_string();
    }
    fail(k, where(path), k.kind == Node::Kind::null ? "a key is empty" : "keys must be plain names");
  }

  [[noreturn]] void fail(const Node& n, const std::string& path, const std::string& what) {
    throw ConfigError(source_ + " line " + std::to_string(n.line + 1) + ", column " +
                      std::to_string(n.column + 1) + ": " + where(path) + ": " + what);
  }

  const std::string& source_;
  std::map<std::size_t, ConfigValue> anchors_;
};

}  // namespace

ConfigValue resolve_plain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return ConfigValue();
  if (s == "true" || s == "True" || s == "TRUE") return ConfigValue(true);
  if (s == "false" || s == "False" || s == "FALSE") return ConfigValue(false);
  // Only text starting like a number can be one; skip the regexes otherwise.
  char c = s[0];
  if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
    if (auto v = resolve_number(s)) return *v;
  }
  return ConfigValue(s);
}

Document parse(std::string_view text, const std::string& source) {
  Document doc;
  std::istringstream in{std::string(text)};
  try {
    YAML::Parser parser(in);
    TreeBuilder builder(doc);
    if (!parser.HandleNextDocument(builder)) return Document{};
    Document second;
    TreeBuilder more(second);
    if (parser.HandleNextDocument(more))
      throw ConfigError(source + ": holds several YAML documents (separated by ---); it must hold one");
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) throw ConfigError(source + ": " + e.msg);
    throw ConfigError(source + " line " + std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return doc;
}

ConfigValue to_value(const Document& doc, const std::string& source) {
  if (!doc.present || doc.root.kind == Node::Kind::null) return ConfigValue::empty_map();
  Converter converter(source);
  ConfigValue root = converter.convert(doc.root, "");
  if (!root.is_map())
    throw ConfigError(source + ": the top level must be a mapping of keys (like `base_url: /`), not " +
                      root.describe());
  return root;
}

}  // namespace hub::yaml_tree
