#include "common/process.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
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

TEST_CASE("the child runs with the umask it was given and reports its pid at start") {
  common::ProcessOptions o;
  o.umask = 027;
  int started_pid = 0;
  o.on_start = [&](int pid) { started_pid = pid; };
  auto r = common::run_process({"sh", "-c", "umask; echo $$"}, o);
  REQUIRE(r.ok());
  CHECK(r.out.substr(0, 5) == "0027\n");
  CHECK(std::to_string(started_pid) + "\n" == r.out.substr(5));
}

TEST_CASE("a child started to die with its parent is killed when the parent is killed") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t parent = ::fork();
  REQUIRE(parent >= 0);
  if (parent == 0) {
    common::ProcessOptions o;
    o.die_with_parent = true;
    o.on_start = [&](int pid) { (void)!::write(fds[1], &pid, sizeof pid); };
    common::run_process({"sleep", "30"}, o);
    ::_exit(0);
  }
  int child = 0;
  REQUIRE(::read(fds[0], &child, sizeof child) == sizeof child);
  ::close(fds[0]);
  ::close(fds[1]);
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);
  // Once the signal lands the orphan is gone or a zombie waiting for init.
  auto running = [](int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_s, comm, state;
    if (!(stat >> pid_s >> comm >> state)) return false;
    return state != "Z" && state != "X";
  };
  bool gone = false;
  for (int i = 0; i < 1000 && !gone; ++i) {
    gone = !running(child);
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  CHECK(gone);
}
