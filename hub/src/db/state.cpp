#include "db/state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/sqlite.hpp"
#include "db/migrations.hpp"
#include "util/crypto.hpp"
#include "util/log.hpp"

namespace hub::db {

std::string prepare_state_dir(const std::string& prefix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(prefix, ec);
  if (ec) throw std::runtime_error("cannot create the prefix " + prefix + ": " + ec.message());
  std::string dir = prefix + "/state";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw std::runtime_error(dir + " is not a folder");
  // 0711 is left alone: in system mode the git-pull workers (running as
  // students) pass through to state/mirrors; every secret file is 0600.
  if ((st.st_mode & 0777) != 0700 && (st.st_mode & 0777) != 0711 && ::chmod(dir.c_str(), 0700) != 0)
    throw std::runtime_error("cannot make " + dir + " private (mode 0700): " + std::strerror(errno));
  return dir;
}

std::string load_cookie_secret(const std::string& state_dir) {
  std::string path = state_dir + "/cookie_secret";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    std::string secret = crypto::random_hex(32) + "\n";
    bool ok = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
      ::unlink(path.c_str());
      throw std::runtime_error("cannot write " + path);
    }
    log::info("created a new cookie secret in " + path);
  } else if (errno != EEXIST) {
    throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    log::warning(path + " was readable by others; making it private (0600)");
    ::chmod(path.c_str(), 0600);
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret = ss.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == ' ')) secret.pop_back();
  if (secret.size() < 32) throw std::runtime_error(path + " is too short to be a cookie secret; remove it to make a new one");
  return secret;
}

std::unique_ptr<common::Database> open_hub_database(const std::string& prefix) {
  std::string dir = prepare_state_dir(prefix);
  auto db = std::make_unique<common::Database>(dir + "/hub.sqlite");
  ::chmod((dir + "/hub.sqlite").c_str(), 0600);
  migrate(*db);
  return db;
}

}  // namespace hub::db
