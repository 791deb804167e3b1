#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include "gitpull/link.hpp"
#include "gitpull/source_policy.hpp"
#include "http/message.hpp"

using namespace hub::gitpull;

namespace {

LinkParams parse(const std::string& query) {
  auto parsed = parse_link(hub::http::parse_urlencoded(query));
  REQUIRE_FALSE(parsed.error);
  return parsed.params;
}

bool public_v4(const char* text) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  REQUIRE(inet_pton(AF_INET, text, &a.sin_addr) == 1);
  return is_public_address(reinterpret_cast<sockaddr*>(&a));
}

bool public_v6(const char* text) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, text, &a.sin6_addr) == 1);
  return is_public_address(reinterpret_cast<sockaddr*>(&a));
}

}  // namespace

TEST_CASE("nbgitpuller's spellings are all read, the lower-case one first") {
  auto p = parse("repo=https://h/o/course.git&urlPath=lab/x&targetPath=t&subPath=s.ipynb&branch=b&app=lab&depth=3");
  CHECK(p.repo == "https://h/o/course.git");
  CHECK(*p.urlpath == "lab/x");
  CHECK(p.targetpath == "t");
  CHECK(p.subpath == "s.ipynb");
  CHECK(*p.branch == "b");
  CHECK(*p.depth == 3);
  CHECK(parse("repo=r&targetpath=lower&targetPath=camel").targetpath == "lower");
  CHECK(parse("repo=r&targetpath=&targetPath=camel").targetpath == "camel");
}

TEST_CASE("the default folder is the repository's name without .git") {
  CHECK(parse("repo=https://h/o/course.git").targetpath == "course");
  CHECK(parse("repo=https://h/o/course/").targetpath == "course");
}

TEST_CASE("a link without repo or with a bad depth is refused with a message") {
  CHECK(parse_link(hub::http::parse_urlencoded("branch=main")).error);
  CHECK(parse_link(hub::http::parse_urlencoded("repo=r&depth=ten")).error);
  CHECK(parse_link(hub::http::parse_urlencoded("repo=r&depth=-1")).error);
}

TEST_CASE("backup is a boolean") {
  CHECK(parse("repo=r&backup=1").backup);
  CHECK(parse("repo=r&backup=true").backup);
  CHECK_FALSE(parse("repo=r&backup=false").backup);
  CHECK_FALSE(parse("repo=r").backup);
}

TEST_CASE("landing follows nbgitpuller for lab and classic") {
  CHECK(*landing_path(parse("repo=r/course&app=lab&subpath=a.ipynb"), "classic", "/user/a/") == "lab/tree/course/a.ipynb");
  CHECK(*landing_path(parse("repo=r/course&subpath=a.ipynb"), "classic", "/user/a/") == "notebooks/course/a.ipynb");
  CHECK(*landing_path(parse("repo=r/course"), "classic", "/user/a/") == "tree/course");
  CHECK(*landing_path(parse("repo=r/course"), "jupyterlab", "/user/a/") == "lab/tree/course");
  CHECK(*landing_path(parse("repo=r/course&app=lab&backup=1"), "classic", "/user/a/") == "lab/tree/");
  CHECK(*landing_path(parse("repo=r/course&urlpath=tree/x%20y"), "classic", "/user/a/") == "tree/x%20y");
  CHECK(*landing_path(parse("repo=r&urlpath=/user/a/lab?reset"), "classic", "/user/a/") == "lab?reset");
}

TEST_CASE("urlpath never leaves the user's server") {
  for (const char* bad : {"//evil.example", "https://evil.example", "/user/b/lab", "/hub/admin", "lab/../../hub",
                          "lab/%2e%2e/x", "/\\evil", "x\\y", "lab\ntree"}) {
    LinkParams p = parse("repo=r");
    p.urlpath = bad;
    CHECK_MESSAGE(!landing_path(p, "jupyterlab", "/user/a/"), bad);
  }
}

TEST_CASE("targetpath checks before touching the disk") {
  CHECK(check_targetpath("../x"));
  CHECK(check_targetpath("/etc"));
  CHECK(check_targetpath("a/../../b"));
  CHECK(check_targetpath("."));
  CHECK(check_targetpath(""));
  CHECK_FALSE(check_targetpath("week 1/course"));
}

TEST_CASE("only public addresses are public") {
  CHECK(public_v4("140.82.112.3"));
  for (const char* a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                        "0.0.0.0", "224.0.0.1", "255.255.255.255"})
    CHECK_MESSAGE(!public_v4(a), a);
  CHECK(public_v6("2606:4700::1111"));
  for (const char* a : {"::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "ff02::1"})
    CHECK_MESSAGE(!public_v6(a), a);
}

TEST_CASE("allowed_sources lets listed prefixes in and keeps the rest out") {
  SourcePolicy policy({"http://127.0.0.1:8080/git/", "/srv/courses/", "not a url"});
  CHECK(policy.bad_entries().size() == 1);
  CHECK_FALSE(policy.check("http://127.0.0.1:8080/git/course.git"));
  CHECK(policy.check("http://127.0.0.1:8080/other/course.git"));
  CHECK(policy.check("http://127.0.0.1:8081/git/course.git"));
  CHECK(policy.check("http://127.0.0.1:8080/git/../admin"));
  CHECK_FALSE(policy.check("/srv/courses/a"));
  CHECK(policy.check("/srv/coursesX/a"));
  CHECK(policy.check("file:///etc/passwd"));
  CHECK(policy.check("https://localhost/x"));
  CHECK(policy.check("https://10.0.0.1/x"));
  CHECK(policy.check("http://example.org/x"));
  CHECK(policy.check("ssh://git@example.org/x"));

  sockaddr_in lo{};
  lo.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
  CHECK(policy.may_connect("127.0.0.1", "8080", reinterpret_cast<sockaddr*>(&lo)));
  CHECK_FALSE(policy.may_connect("127.0.0.1", "22", reinterpret_cast<sockaddr*>(&lo)));
  CHECK_FALSE(policy.may_connect("rebind.example", "443", reinterpret_cast<sockaddr*>(&lo)));
}
