#pragma once
// Advisory whole-file locks (flock(2)) between processes and threads.
//
// A FileLock owns an open descriptor on the lock file; the lock is released
// when the object is destroyed (or the process dies, so a killed holder never
// leaves a stale lock behind).  Each FileLock opens its own descriptor, so two
// FileLock objects in one process exclude each other like two processes do.
// Not thread-safe itself: one object, one thread at a time.
#include <chrono>
#include <optional>
#include <string>

namespace common {

class FileLock {
 public:
  enum class Mode { shared, exclusive };

  // Blocks until the lock on `path` is held.  Creates the file (mode 0600) if
  // it does not exist.  Throws std::system_error when the file cannot be opened.
  static FileLock acquire(const std::string& path, Mode mode = Mode::exclusive);

  // Tries for at most `timeout`; std::nullopt when someone else kept the lock.
  static std::optional<FileLock> try_acquire(const std::string& path,
                                             std::chrono::milliseconds timeout,
                                             Mode mode = Mode::exclusive);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  const std::string& path() const { return path_; }

  // Whether the file this lock holds is still the one at path() (false when
  // it was renamed away or replaced since).  A waiter that locked a file
  // which has moved in the meantime holds a lock nobody else will ask for,
  // and should acquire again.
  bool still_at_path() const;

 private:
  FileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

}  // namespace common
