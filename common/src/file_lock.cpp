#include "common/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

namespace common {
namespace {

int open_lock_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open lock file " + path);
  return fd;
}

int flock_op(FileLock::Mode mode) { return mode == FileLock::Mode::shared ? LOCK_SH : LOCK_EX; }

}  // namespace

FileLock FileLock::acquire(const std::string& path, Mode mode) {
  int fd = open_lock_file(path);
  while (::flock(fd, flock_op(mode)) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "cannot lock " + path);
  }
  return FileLock(path, fd);
}

std::optional<FileLock> FileLock::try_acquire(const std::string& path,
                                              std::chrono::milliseconds timeout, Mode mode) {
  int fd = open_lock_file(path);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // flock has no timed wait; poll with a short back-off that stays well under
  // the typical hold time of the locks we guard.
  auto pause = std::chrono::milliseconds(2);
  for (;;) {
    if (::flock(fd, flock_op(mode) | LOCK_NB) == 0) return FileLock(path, fd);
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "cannot lock " + path);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      return std::nullopt;
    }
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(50)) pause *= 2;
  }
}

FileLock::FileLock(FileLock&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

bool FileLock::still_at_path() const {
  struct stat held{}, current{};
  if (fd_ < 0 || ::fstat(fd_, &held) != 0 || ::stat(path_.c_str(), &current) != 0) return false;
  return held.st_dev == current.st_dev && held.st_ino == current.st_ino;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace common
