#pragma once
// PEP 440 versions as pip presents and orders them (packaging 21.3, which
// pip 23 vendors): "1.0.0-1" is shown as "1.0.0.post1", "2.0RC1" as "2.0rc1".
// Strings that are not PEP 440 are "legacy" versions: shown verbatim and
// ordered before every valid version, as packaging does.
#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace envmgr {

class Version {
 public:
  // Never throws: an invalid string gives a legacy version.
  static Version parse(std::string_view text);

  bool valid() const { return valid_; }
  // The normalised form (str(packaging.version.parse(text))).
  const std::string& str() const { return normalized_; }

  friend std::strong_ordering operator<=>(const Version& a, const Version& b);
  friend bool operator==(const Version& a, const Version& b) { return (a <=> b) == 0; }

 private:
  bool valid_ = false;
  std::string normalized_;
  // Numbers are kept as digit strings without leading zeros, so any length
  // compares correctly.
  std::string epoch_ = "0";
  std::vector<std::string> release_;
  // pre: letter rank (a=0, b=1, rc=2) and number; absent when nullopt
  std::optional<std::pair<int, std::string>> pre_;
  std::optional<std::string> post_;
  std::optional<std::string> dev_;
  std::vector<std::string> local_;  // lower-cased parts; digits-only parts compare as numbers
};

}  // namespace envmgr
