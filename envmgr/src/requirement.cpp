#include "envmgr/requirement.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "envmgr/error.hpp"
#include "envmgr/version.hpp"

namespace envmgr {
namespace {

bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool space(char c) { return c == ' ' || c == '\t'; }

[[noreturn]] void bad(std::string_view text, const std::string& why) {
  throw EnvError(ErrorCode::bad_spec, "invalid requirement '" + std::string(text) + "': " + why);
}

const std::set<std::string, std::less<>>& marker_variables() {
  static const std::set<std::string, std::less<>> kVars = {
      "python_version", "python_full_version", "os_name", "sys_platform", "platform_release",
      "platform_system", "platform_version", "platform_machine", "platform_python_implementation",
      "implementation_name", "implementation_version", "extra",
      // legacy spellings pip still accepts
      "os.name", "sys.platform", "platform.version", "platform.machine",
      "platform.python_implementation", "python_implementation"};
  return kVars;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Requirement parse() {
    Requirement r;
    skip_ws();
    r.name = identifier();
    if (r.name.empty()) {
      if (!at_end() && text_[pos_] == '-') bad(text_, "pip options are not allowed here");
      bad(text_, "a requirement starts with a project name");
    }
    if (!valid_project_name(r.name)) bad(text_, "'" + r.name + "' is not a valid project name");
    skip_ws();
    if (peek() == '[') {
      ++pos_;
      skip_ws();
      while (peek() != ']') {
        std::string extra = identifier();
        if (extra.empty() || !valid_project_name(extra)) bad(text_, "invalid extra name");
        r.extras.push_back(extra);
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          skip_ws();
        } else if (peek() != ']') {
          bad(text_, "extras must be separated by commas and closed with ']'");
        }
      }
      ++pos_;
      skip_ws();
    }
    if (peek() == '@') bad(text_, "direct URL references are not allowed; use the configured package index");
    bool paren = false;
    if (peek() == '(') {
      paren = true;
      ++pos_;
      skip_ws();
    }
    r.specifier = specifiers(paren);
    if (paren) {
      if (peek() != ')') bad(text_, "missing ')'");
      ++pos_;
    }
    skip_ws();
    if (peek() == ';') {
      ++pos_;
      skip_ws();
      std::size_t start = pos_;
      marker_or();
      r.marker = std::string(text_.substr(start, pos_ - start));
      while (!r.marker.empty() && space(r.marker.back())) r.marker.pop_back();
      if (r.marker.empty()) bad(text_, "empty environment marker after ';'");
    }
    skip_ws();
    if (!at_end()) bad(text_, "unexpected '" + std::string(text_.substr(pos_)) + "'");
    return r;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_ws() {
    while (!at_end() && space(text_[pos_])) ++pos_;
  }
  std::string identifier() {
    std::size_t start = pos_;
    while (!at_end() && (alnum(text_[pos_]) || text_[pos_] == '-' || text_[pos_] == '_' || text_[pos_] == '.'))
      ++pos_;
    if (pos_ > start && text_[start] == '-') {
      pos_ = start;
      return {};
    }
    return std::string(text_.substr(start, pos_ - start));
  }
  std::string op() {
    static const char* kOps[] = {"===", "~=", "==", "!=", "<=", ">=", "<", ">"};
    for (const char* o : kOps) {
      std::string_view ov(o);
      if (text_.substr(pos_, ov.size()) == ov) {
        pos_ += ov.size();
        return std::string(ov);
      }
    }
    return {};
  }
  std::string specifiers(bool paren) {
    std::string out;
    for (;;) {
      std::string o = op();
      if (o.empty()) {
        if (!out.empty()) bad(text_, "expected a version operator after ','");
        return out;
      }
      skip_ws();
      std::size_t start = pos_;
      while (!at_end() && (alnum(peek()) || std::string_view("._-*+!").find(peek()) != std::string_view::npos)) ++pos_;
      std::string version(text_.substr(start, pos_ - start));
      if (version.empty()) bad(text_, "missing version after '" + o + "'");
      check_version(o, version);
      if (!out.empty()) out += ",";
      out += o + version;
      skip_ws();
      if (peek() != ',') return out;
      ++pos_;
      skip_ws();
    }
  }
  void check_version(const std::string& o, const std::string& version) {
    if (o == "===") return;  // arbitrary equality: any token of the safe characters
    std::string v = version;
    bool wildcard = v.size() >= 2 && v.compare(v.size() - 2, 2, ".*") == 0;
    if (wildcard) {
      if (o != "==" && o != "!=") bad(text_, "'.*' is only allowed with == and !=");
      v.resize(v.size() - 2);
    }
    if (v.find('*') != std::string::npos || !Version::parse(v).valid())
      bad(text_, "'" + version + "' is not a valid version");
  }
  // marker grammar (PEP 508): or-expressions of and-expressions of
  // comparisons between variables and quoted strings, with parentheses.
  void marker_or() {
    marker_and();
    while (keyword("or")) marker_and();
  }
  void marker_and() {
    marker_expr();
    while (keyword("and")) marker_expr();
  }
  void marker_expr() {
    skip_ws();
    if (peek() == '(') {
      ++pos_;
      marker_or();
      skip_ws();
      if (peek() != ')') bad(text_, "missing ')' in environment marker");
      ++pos_;
      skip_ws();
      return;
    }
    marker_value();
    skip_ws();
    if (op().empty() && !keyword("in") && !(keyword("not") && keyword("in")))
      bad(text_, "invalid environment marker");
    marker_value();
    skip_ws();
  }
  void marker_value() {
    skip_ws();
    char q = peek();
    if (q == '"' || q == '\'') {
      auto end = text_.find(q, pos_ + 1);
      if (end == std::string_view::npos) bad(text_, "unterminated string in environment marker");
      auto s = text_.substr(pos_ + 1, end - pos_ - 1);
      for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20) bad(text_, "control character in environment marker");
      pos_ = end + 1;
      return;
    }
    std::size_t start = pos_;
    while (!at_end() && (alnum(peek()) || peek() == '_' || peek() == '.')) ++pos_;
    auto var = text_.substr(start, pos_ - start);
    if (!marker_variables().count(var)) bad(text_, "invalid environment marker");
  }
  bool keyword(std::string_view w) {
    skip_ws();
    if (text_.substr(pos_, w.size()) != w) return false;
    std::size_t after = pos_ + w.size();
    if (after < text_.size() && (alnum(text_[after]) || text_[after] == '_')) return false;
    pos_ = after;
    skip_ws();
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// Splits a requirements-file line into the requirement and its options: the
// options start at the first whitespace-preceded '-' outside quotes.
std::pair<std::string, std::string> split_options(const std::string& line) {
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') quote = c;
    else if (c == '-' && i > 0 && space(line[i - 1])) return {line.substr(0, i), line.substr(i)};
  }
  return {line, ""};
}

}  // namespace

std::string canonical_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (out.empty() || out.back() != '-') out += '-';
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

bool valid_project_name(std::string_view name) {
  if (name.empty() || !alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::string Requirement::to_string() const {
  std::string out = name;
  if (!extras.empty()) {
    out += "[";
    for (std::size_t i = 0; i < extras.size(); ++i) out += (i ? "," : "") + extras[i];
    out += "]";
  }
  out += specifier;
  if (!marker.empty()) out += "; " + marker;
  return out;
}

bool Requirement::is_pinned() const {
  if (specifier.find(',') != std::string::npos) return false;
  if (specifier.rfind("===", 0) == 0) return true;
  return specifier.rfind("==", 0) == 0 && specifier.find('*') == std::string::npos;
}

Requirement parse_requirement(std::string_view text) {
  if (text.find('\n') != std::string_view::npos || text.find('\r') != std::string_view::npos)
    bad(text, "line breaks are not allowed");
  std::string_view t = text;
  while (!t.empty() && space(t.front())) t.remove_prefix(1);
  if (!t.empty() && t.front() == '-') bad(text, "pip options are not allowed in a requirement");
  return Parser(text).parse();
}

std::vector<Requirement> parse_requirements_file(std::string_view text) {
  std::vector<Requirement> out;
  std::vector<std::pair<int, std::string>> lines;
  {
    std::string joined;
    int start_no = 0, no = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
      auto nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string line(text.substr(pos, nl - pos));
      pos = nl + 1;
      ++no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (joined.empty()) start_no = no;
      if (!line.empty() && line.back() == '\\') {
        line.pop_back();
        joined += line;
        continue;
      }
      joined += line;
      lines.emplace_back(start_no, joined);
      joined.clear();
      if (nl == text.size()) break;
    }
    if (!joined.empty()) lines.emplace_back(start_no, joined);
  }
  for (auto& [no, raw] : lines) {
    auto fail = [&, no = no](const std::string& why) -> void {
      throw EnvError(ErrorCode::bad_requirements, "requirements line " + std::to_string(no) + ": " + why);
    };
    // A comment starts at '#' at the beginning or after whitespace.
    std::string line = raw;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || space(line[i - 1]))) {
        line.resize(i);
        break;
      }
    }
    while (!line.empty() && space(line.back())) line.pop_back();
    std::size_t b = 0;
    while (b < line.size() && space(line[b])) ++b;
    line.erase(0, b);
    if (line.empty()) continue;
    if (line.find("${") != std::string::npos) fail("environment variables (${...}) are not allowed: " + line);
    if (line.front() == '-') {
      fail("pip options are not allowed in requirement files (editables, includes, constraints, index and "
           "find-links settings are managed by coursehub): '" + line + "'");
    }
    auto [spec, options] = split_options(line);
    Requirement r;
    try {
      r = parse_requirement(spec);
    } catch (const EnvError& e) {
      fail(e.what());
    }
    std::size_t p = 0;
    while (p < options.size()) {
      while (p < options.size() && space(options[p])) ++p;
      if (p >= options.size()) break;
      auto e = options.find_first_of(" \t", p);
      if (e == std::string::npos) e = options.size();
      std::string opt = options.substr(p, e - p);
      p = e;
      if (opt == "--hash" ) {
        while (p < options.size() && space(options[p])) ++p;
        auto e2 = options.find_first_of(" \t", p);
        if (e2 == std::string::npos) e2 = options.size();
        opt = "--hash=" + options.substr(p, e2 - p);
        p = e2;
      }
      if (opt.rfind("--hash=", 0) != 0) fail("only --hash=ALGO:HEX may follow a requirement, not '" + opt + "'");
      std::string h = opt.substr(7);
      auto colon = h.find(':');
      std::string algo = h.substr(0, colon);
      std::string hex = colon == std::string::npos ? "" : h.substr(colon + 1);
      bool algo_ok = algo == "sha256" || algo == "sha384" || algo == "sha512";
      bool hex_ok = !hex.empty() && std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
      if (!algo_ok || !hex_ok) fail("invalid hash '" + h + "'");
      r.hashes.push_back(algo + ":" + hex);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace envmgr
