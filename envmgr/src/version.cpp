#include "envmgr/version.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace envmgr {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_sep(char c) { return c == '-' || c == '_' || c == '.'; }
bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::string strip_zeros(std::string_view digits) {
  std::size_t i = 0;
  while (i + 1 < digits.size() && digits[i] == '0') ++i;
  return std::string(digits.substr(i));
}

// Compares two digit strings without leading zeros as numbers.
std::strong_ordering num_cmp(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() <=> b.size();
  int c = a.compare(b);
  return c < 0 ? std::strong_ordering::less : c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal;
}

struct Cursor {
  std::string_view s;
  std::size_t pos = 0;
  bool at_end() const { return pos >= s.size(); }
  char peek(std::size_t ahead = 0) const { return pos + ahead < s.size() ? s[pos + ahead] : '\0'; }
  std::string_view digits() {
    std::size_t start = pos;
    while (!at_end() && is_digit(s[pos])) ++pos;
    return s.substr(start, pos - start);
  }
  bool word(std::string_view w) {
    if (s.substr(pos, w.size()) != w) return false;
    pos += w.size();
    return true;
  }
};

// Optional separator, then one of `words`, then optional separator and number.
// Returns the index of the word and the number ("0" when absent), or nullopt
// with the cursor unchanged.
std::optional<std::pair<int, std::string>> labelled(Cursor& c, const std::vector<std::string_view>& words) {
  std::size_t saved = c.pos;
  if (is_sep(c.peek())) ++c.pos;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (!c.word(words[i])) continue;
    std::size_t after_word = c.pos;
    if (is_sep(c.peek())) ++c.pos;
    auto n = c.digits();
    if (n.empty()) {
      c.pos = after_word;
      return std::pair<int, std::string>(static_cast<int>(i), "0");
    }
    return std::pair<int, std::string>(static_cast<int>(i), strip_zeros(n));
  }
  c.pos = saved;
  return std::nullopt;
}

}  // namespace

Version Version::parse(std::string_view text) {
  Version v;
  v.normalized_ = std::string(text);  // a legacy version is shown verbatim
  std::size_t b = 0, e = text.size();
  while (b < e && is_py_space(text[b])) ++b;
  while (e > b && is_py_space(text[e - 1])) --e;
  std::string lower(text.substr(b, e - b));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });

  Version legacy = v;
  Cursor c{lower};
  if (c.peek() == 'v') ++c.pos;
  auto first = c.digits();
  if (first.empty()) return legacy;
  if (c.peek() == '!') {
    v.epoch_ = strip_zeros(first);
    ++c.pos;
    first = c.digits();
    if (first.empty()) return legacy;
  }
  v.release_.push_back(strip_zeros(first));
  while (c.peek() == '.' && is_digit(c.peek(1))) {
    ++c.pos;
    v.release_.push_back(strip_zeros(c.digits()));
  }
  // Longest spellings first so "alpha" is not taken for "a" + garbage.
  static const std::vector<std::string_view> kPre = {"preview", "alpha", "beta", "pre", "rc", "a", "b", "c"};
  static const std::array<int, 8> kPreRank = {2, 0, 1, 2, 2, 0, 1, 2};
  if (auto pre = labelled(c, kPre)) v.pre_ = std::pair<int, std::string>(kPreRank[pre->first], pre->second);
  if (c.peek() == '-' && is_digit(c.peek(1))) {
    ++c.pos;
    v.post_ = strip_zeros(c.digits());
  } else if (auto post = labelled(c, {"post", "rev", "r"})) {
    v.post_ = post->second;
  }
  if (auto dev = labelled(c, {"dev"})) v.dev_ = dev->second;
  if (c.peek() == '+') {
    ++c.pos;
    for (;;) {
      std::size_t start = c.pos;
      while (!c.at_end() && is_alnum(c.peek())) ++c.pos;
      if (c.pos == start) return legacy;
      std::string part = lower.substr(start, c.pos - start);
      bool numeric = std::all_of(part.begin(), part.end(), is_digit);
      v.local_.push_back(numeric ? strip_zeros(part) : part);
      if (is_sep(c.peek()) && is_alnum(c.peek(1))) {
        ++c.pos;
        continue;
      }
      break;
    }
  }
  if (!c.at_end()) return legacy;

  v.valid_ = true;
  std::string out;
  if (v.epoch_ != "0") out += v.epoch_ + "!";
  for (std::size_t i = 0; i < v.release_.size(); ++i) out += (i ? "." : "") + v.release_[i];
  if (v.pre_) out += std::string(v.pre_->first == 0 ? "a" : v.pre_->first == 1 ? "b" : "rc") + v.pre_->second;
  if (v.post_) out += ".post" + *v.post_;
  if (v.dev_) out += ".dev" + *v.dev_;
  for (std::size_t i = 0; i < v.local_.size(); ++i) out += (i ? "." : "+") + v.local_[i];
  v.normalized_ = out;
  return v;
}

std::strong_ordering operator<=>(const Version& a, const Version& b) {
  if (a.valid_ != b.valid_) return a.valid_ ? std::strong_ordering::greater : std::strong_ordering::less;
  if (!a.valid_) return a.normalized_ <=> b.normalized_;
  if (auto c = num_cmp(a.epoch_, b.epoch_); c != 0) return c;

  auto trimmed = [](const std::vector<std::string>& r) {
    std::size_t n = r.size();
    while (n > 0 && r[n - 1] == "0") --n;
    return n;
  };
  std::size_t na = trimmed(a.release_), nb = trimmed(b.release_);
  for (std::size_t i = 0; i < std::min(na, nb); ++i)
    if (auto c = num_cmp(a.release_[i], b.release_[i]); c != 0) return c;
  if (na != nb) return na <=> nb;

  // packaging's ordering: a bare dev release sorts before any pre-release;
  // no pre-release after every pre-release; no post before any post; no dev
  // after any dev; no local before any local.
  auto pre_rank = [](const Version& v) -> int {
    if (!v.pre_ && !v.post_ && v.dev_) return -1;
    return v.pre_ ? 0 : 1;
  };
  if (auto c = pre_rank(a) <=> pre_rank(b); c != 0) return c;
  if (a.pre_ && b.pre_) {
    if (auto c = a.pre_->first <=> b.pre_->first; c != 0) return c;
    if (auto c = num_cmp(a.pre_->second, b.pre_->second); c != 0) return c;
  }
  if (a.post_.has_value() != b.post_.has_value()) return a.post_.has_value() <=> b.post_.has_value();
  if (a.post_ && b.post_)
    if (auto c = num_cmp(*a.post_, *b.post_); c != 0) return c;
  if (a.dev_.has_value() != b.dev_.has_value()) return b.dev_.has_value() <=> a.dev_.has_value();
  if (a.dev_ && b.dev_)
    if (auto c = num_cmp(*a.dev_, *b.dev_); c != 0) return c;

  if (a.local_.empty() != b.local_.empty()) return b.local_.empty() <=> a.local_.empty();
  for (std::size_t i = 0; i < std::min(a.local_.size(), b.local_.size()); ++i) {
    const auto& x = a.local_[i];
    const auto& y = b.local_[i];
    bool xn = std::all_of(x.begin(), x.end(), is_digit), yn = std::all_of(y.begin(), y.end(), is_digit);
    if (xn != yn) return xn <=> yn;  // numbers sort after letters
    if (auto c = xn ? num_cmp(x, y) : x <=> y; c != 0) return c;
  }
  return a.local_.size() <=> b.local_.size();
}

}  // namespace envmgr
