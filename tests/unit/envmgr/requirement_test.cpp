#include "envmgr/requirement.hpp"

#include <doctest/doctest.h>

#include <functional>

#include "envmgr/error.hpp"

using envmgr::EnvError;
using envmgr::ErrorCode;

namespace {
ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const EnvError& e) {
    return e.code();
  }
  FAIL("no EnvError thrown");
  return ErrorCode::io;
}
}  // namespace

TEST_CASE("PEP 508 requirements are accepted and re-serialised from their parts") {
  auto r = envmgr::parse_requirement("  Foo_Bar[extra1, Extra2] (>=1.0 , !=1.5.*) ; python_version >= '3.8' and os_name == \"posix\"");
  CHECK(r.name == "Foo_Bar");
  CHECK(r.canonical() == "foo-bar");
  CHECK(r.extras == std::vector<std::string>{"extra1", "Extra2"});
  CHECK(r.to_string() == "Foo_Bar[extra1,Extra2]>=1.0,!=1.5.*; python_version >= '3.8' and os_name == \"posix\"");
  CHECK(envmgr::parse_requirement("pandas==2.0.3").is_pinned());
  CHECK_FALSE(envmgr::parse_requirement("pandas==2.0.*").is_pinned());
  CHECK_FALSE(envmgr::parse_requirement("pandas>=2").is_pinned());
  CHECK(envmgr::parse_requirement("a~=1.4.5").specifier == "~=1.4.5");
}

TEST_CASE("options, URLs, paths and shell syntax are refused as requirements") {
  for (const char* bad : {"--index-url=http://x/simple", "-e .", "pkg --index-url http://x", "pkg @ https://x/y.whl",
                          "./pkg", "/tmp/pkg.whl", "pkg; rm -rf /", "pkg$(id)", "pkg && id", "pkg|id", "pkg`id`",
                          "pkg>=", "pkg>=1.0;", "pkg==1.0\nother", "", "pkg[", "pkg==1.*.0", "pkg>=1.0.*",
                          "pkg; os_name == 'posix' or", "pkg; __import__('os') == '1'"}) {
    CAPTURE(bad);
    CHECK(code_of([&] { envmgr::parse_requirement(bad); }) == ErrorCode::bad_spec);
  }
}

TEST_CASE("requirement files allow comments, continuations and hashes, and nothing else") {
  auto reqs = envmgr::parse_requirements_file(
      "# the class environment\n"
      "numpy==1.26.4 \\\n"
      "    --hash=sha256:abcdef0123 --hash sha256:ff00\n"
      "\n"
      "pandas>=2  # comment\n");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].hashes == std::vector<std::string>{"sha256:abcdef0123", "sha256:ff00"});
  CHECK(reqs[1].to_string() == "pandas>=2");
  for (const char* bad : {"-e git+https://x/y\n", "-r other.txt\n", "-c constraints.txt\n",
                          "--index-url http://evil/simple\n", "--extra-index-url http://evil\n",
                          "--find-links /tmp\n", "--trusted-host evil\n", "pkg --install-option=--prefix=/\n",
                          "pkg==${VERSION}\n", "pkg --hash=md5:00\n", "https://x/y.whl\n"}) {
    CAPTURE(bad);
    CHECK(code_of([&] { envmgr::parse_requirements_file(bad); }) == ErrorCode::bad_requirements);
  }
}

TEST_CASE("names normalise like PEP 503") {
  CHECK(envmgr::canonical_name("Foo.Bar__baz-QUX") == "foo-bar-baz-qux");
  CHECK(envmgr::valid_project_name("a"));
  CHECK_FALSE(envmgr::valid_project_name("~ip"));
  CHECK_FALSE(envmgr::valid_project_name("-a"));
}
