#include "envmgr/version.hpp"

#include <doctest/doctest.h>

#include <vector>

using envmgr::Version;

TEST_CASE("versions are shown the way pip normalises them") {
  CHECK(Version::parse("1.0").str() == "1.0");
  CHECK(Version::parse("01.02.003").str() == "1.2.3");
  CHECK(Version::parse("1.0.0-1").str() == "1.0.0.post1");
  CHECK(Version::parse("2.0RC1").str() == "2.0rc1");
  CHECK(Version::parse("1.0alpha").str() == "1.0a0");
  CHECK(Version::parse("1.0-beta.2").str() == "1.0b2");
  CHECK(Version::parse("1.0.preview3").str() == "1.0rc3");
  CHECK(Version::parse("v1.0").str() == "1.0");
  CHECK(Version::parse("1!2.0.dev3").str() == "1!2.0.dev3");
  CHECK(Version::parse("1.0+Ubuntu-1.02").str() == "1.0+ubuntu.1.2");
  CHECK(Version::parse(" 1.0 \n").str() == "1.0");
  CHECK(Version::parse("1.0.post").str() == "1.0.post0");
  CHECK(Version::parse("1.0-r4").str() == "1.0.post4");
}

TEST_CASE("strings that are not PEP 440 stay as they are") {
  for (const char* s : {"1.0-foo", "latest", "1.0+", "", "1..0"}) {
    auto v = Version::parse(s);
    CHECK_FALSE(v.valid());
    CHECK(v.str() == s);
  }
}

TEST_CASE("versions order like packaging orders them") {
  std::vector<const char*> ascending = {"1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0a2", "1.0b1", "1.0rc1", "1.0",
                                        "1.0+local", "1.0.post1.dev1", "1.0.post1", "1.1", "1.10", "2!0.1"};
  for (std::size_t i = 0; i + 1 < ascending.size(); ++i) {
    CAPTURE(ascending[i]);
    CHECK(Version::parse(ascending[i]) < Version::parse(ascending[i + 1]));
  }
  CHECK(Version::parse("1.0") == Version::parse("1.0.0"));
  CHECK(Version::parse("not-a-version") < Version::parse("0.0.1"));
  CHECK(Version::parse("99999999999999999999999.1") > Version::parse("99999999999999999999998.9"));
}
