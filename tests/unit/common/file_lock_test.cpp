#include "common/file_lock.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
std::string temp_lock_path() {
  std::string tmpl = (fs::temp_directory_path() / "lockXXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl + "/the.lock";
}
}  // namespace

TEST_CASE("a held exclusive lock keeps a second taker out until it is released") {
  auto path = temp_lock_path();
  {
    auto first = common::FileLock::acquire(path);
    CHECK_FALSE(common::FileLock::try_acquire(path, 30ms).has_value());
    CHECK_FALSE(common::FileLock::try_acquire(path, 0ms, common::FileLock::Mode::shared).has_value());
  }
  CHECK(common::FileLock::try_acquire(path, 30ms).has_value());
  fs::remove_all(fs::path(path).parent_path());
}

TEST_CASE("shared locks coexist and exclude an exclusive one") {
  auto path = temp_lock_path();
  auto a = common::FileLock::acquire(path, common::FileLock::Mode::shared);
  auto b = common::FileLock::try_acquire(path, 30ms, common::FileLock::Mode::shared);
  CHECK(b.has_value());
  CHECK_FALSE(common::FileLock::try_acquire(path, 30ms).has_value());
  fs::remove_all(fs::path(path).parent_path());
}
