#include "common/process.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("arguments reach the child verbatim, shell metacharacters included") {
  auto r = common::run_process({"printf", "%s|", "a b", "$(id)", "; rm -rf /", "*"});
  REQUIRE(r.ok());
  CHECK(r.out == "a b|$(id)|; rm -rf /|*|");
}

TEST_CASE("stdin, exit status, stderr and environment are all carried") {
  common::ProcessOptions o;
  o.stdin_data = "hello\n";
  o.env["CH_TEST_VAR"] = "value 1";
  auto r = common::run_process({"sh", "-c", "cat; echo \"$CH_TEST_VAR\"; echo oops >&2; exit 3"}, o);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "hello\nvalue 1\n");
  CHECK(r.err == "oops\n");
}

TEST_CASE("lines are streamed to the callback as they arrive") {
  std::vector<std::string> lines;
  common::ProcessOptions o;
  o.merge_stderr = true;
  o.on_line = [&](const std::string& l) { lines.push_back(l); };
  auto r = common::run_process({"sh", "-c", "echo one; echo two >&2; printf three"}, o);
  REQUIRE(r.ok());
  CHECK(lines == std::vector<std::string>{"one", "two", "three"});
}

TEST_CASE("a child that overstays its timeout is killed and reported") {
  common::ProcessOptions o;
  o.timeout = 200ms;
  auto r = common::run_process({"sleep", "30"}, o);
  CHECK(r.timed_out);
  CHECK_FALSE(r.ok());
  CHECK(r.duration < 5s);
}

TEST_CASE("a program that does not exist is an error, not a crash") {
  CHECK_THROWS_AS(common::run_process({"/nonexistent/program"}), common::ProcessError);
  CHECK_THROWS_AS(common::run_process({"no-such-program-anywhere"}), common::ProcessError);
}
