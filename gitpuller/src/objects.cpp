#include "objects.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "gitpuller/error.hpp"

namespace gitpuller::detail {
namespace {

namespace fs = std::filesystem;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

[[noreturn]] void io_fail(ErrorCode code, const std::string& what, int err) {
  throw SyncError(code, "Could not copy course files: " + what + ": " + std::strerror(err));
}

bool copy_contents(int in, int out, off_t size) {
  if (::ioctl(out, FICLONE, in) == 0) return true;
  off_t done = 0;
  while (done < size) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(size - done), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += n;
  }
  if (done == size) return true;
  // Fall back to plain reads (other filesystems, old kernels), from where we stopped.
  if (::lseek(in, done, SEEK_SET) < 0 || ::lseek(out, done, SEEK_SET) < 0) return false;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    for (ssize_t w = 0; w < n;) {
      ssize_t m = ::write(out, buf.data() + w, static_cast<size_t>(n - w));
      if (m < 0 && errno == EINTR) continue;
      if (m < 0) return false;
      w += m;
    }
  }
}

}  // namespace

void copy_file(const fs::path& src, const fs::path& dst, unsigned mode, ErrorCode code) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) io_fail(code, "cannot read " + src.string(), errno);
  struct stat st{};
  if (::fstat(in.fd, &st) != 0) io_fail(code, "cannot stat " + src.string(), errno);
  fs::path tmp = dst;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<std::uintptr_t>(&in) & 0xffffff);
  {
    Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (out.fd < 0) io_fail(code, "cannot create " + tmp.string(), errno);
    if (!copy_contents(in.fd, out.fd, st.st_size)) {
      int err = errno;
      ::unlink(tmp.c_str());
      io_fail(code, "cannot copy " + src.string(), err);
    }
    ::fchmod(out.fd, mode);
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    io_fail(code, "cannot create " + dst.string(), err);
  }
}

CopyStats copy_missing_objects(const fs::path& src_objects, const fs::path& dst_objects, ProgressThrottle& progress,
                               ErrorCode code, bool link_packs) {
  CopyStats stats;
  std::error_code ec;
  struct Item {
    fs::path src;
    fs::path dst;
    std::uint64_t size;
    bool pack = false;
  };
  std::vector<Item> items;
  std::uint64_t total = 0;

  fs::path src_pack = src_objects / "pack";
  fs::path dst_pack = dst_objects / "pack";
  fs::create_directories(dst_pack, ec);
  for (fs::directory_iterator it(src_pack, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& idx = it->path();
    if (idx.extension() != ".idx") continue;
    fs::path pack = idx;
    pack.replace_extension(".pack");
    std::error_code e1, e2;
    auto pack_size = fs::file_size(pack, e1);
    auto idx_size = fs::file_size(idx, e2);
    if (e1 || e2) continue;  // a pack still being written: not ours to take yet
    fs::path dst_idx = dst_pack / idx.filename();
    if (fs::exists(dst_idx)) continue;
    // .pack first: libgit2 discovers packs through their .idx.
    items.push_back({pack, dst_pack / pack.filename(), pack_size, true});
    items.push_back({idx, dst_idx, idx_size, true});
    total += pack_size + idx_size;
  }
  // Loose objects (a mirror normally has none; cheap to check).
  for (fs::directory_iterator it(src_objects, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() != 2 || !std::isxdigit(static_cast<unsigned char>(name[0])) ||
        !std::isxdigit(static_cast<unsigned char>(name[1])))
      continue;
    std::error_code e;
    for (fs::directory_iterator f(it->path(), e), fend; !e && f != fend; f.increment(e)) {
      fs::path dst = dst_objects / name / f->path().filename();
      if (fs::exists(dst)) continue;
      std::error_code se;
      auto size = fs::file_size(f->path(), se);
      if (se) continue;
      items.push_back({f->path(), dst, size, false});
      total += size;
    }
  }

  Progress p;
  p.stage = Stage::copy;
  p.objects_total = items.size();
  for (const auto& item : items) {
    fs::create_directories(item.dst.parent_path(), ec);
    if (!(link_packs && item.pack && ::link(item.src.c_str(), item.dst.c_str()) == 0))
      copy_file(item.src, item.dst, 0444, code);
    ++stats.files;
    stats.bytes += item.size;
    p.objects_received = stats.files;
    p.bytes_received = stats.bytes;
    unsigned pct = total ? static_cast<unsigned>(100.0 * stats.bytes / total) : 100;
    progress.tick("Copying objects from the cache: " + std::to_string(pct) + "% (" + human_bytes(stats.bytes) + ")", p,
                  stats.files == items.size());
  }
  return stats;
}

}  // namespace gitpuller::detail
