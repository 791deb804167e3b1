#include "bundle.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>

#include "common/c_handle.hpp"
#include "envmgr/error.hpp"
#include "envmgr/version.hpp"
#include "wheelhouse.hpp"

namespace fs = std::filesystem;

namespace envmgr::detail {
namespace {

using ArchiveReader = common::CHandle<archive, archive_read_free>;
using ArchiveWriter = common::CHandle<archive, archive_write_free>;
using ArchiveEntry = common::CHandle<archive_entry, archive_entry_free>;
using MdCtx = common::CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;

[[noreturn]] void refuse(const std::string& why) {
  throw EnvError(ErrorCode::bad_bundle, "bundle refused: " + why + "; nothing was changed");
}

std::string hex(const unsigned char* md, unsigned len) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

ArchiveReader open_reader(const std::string& path) {
  ArchiveReader a(archive_read_new());
  if (!a) refuse("out of memory");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    refuse(std::string("cannot open ") + path + ": " + archive_error_string(a.get()));
  return a;
}

enum class Member { dir, lock, wheel };

// Classifies a member by its path, refusing anything outside the layout.
Member classify(const std::string& raw, std::string& wheel_name) {
  if (raw.empty() || raw[0] == '/' || raw.find('\\') != std::string::npos) refuse("unsafe path '" + raw + "'");
  std::string p = raw;
  if (p.rfind("./", 0) == 0) p = p.substr(2);
  for (std::size_t start = 0;;) {
    auto slash = p.find('/', start);
    auto part = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") refuse("path traversal in '" + raw + "'");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  while (!p.empty() && p.back() == '/') p.pop_back();
  std::string root = kBundleRoot;
  if (p == root || p == root + "/wheels") return Member::dir;
  if (p == root + "/requirements.lock") return Member::lock;
  std::string prefix = root + "/wheels/";
  if (p.rfind(prefix, 0) == 0) {
    wheel_name = p.substr(prefix.size());
    if (wheel_name.find('/') == std::string::npos && parse_wheel_filename(wheel_name)) return Member::wheel;
  }
  refuse("unexpected member '" + raw + "' (a bundle holds only " + root + "/requirements.lock and " + prefix +
         "*.whl)");
}

struct Sink {
  std::function<void(Member, const std::string& wheel, const char* name)> begin;
  std::function<void(const char* data, std::size_t n)> data;
  std::function<void()> end;
};

// Reads every member in order, feeding `sink`; enforces the layout and limits.
void walk(const std::string& path, const BundleLimits& limits, const Sink& sink) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) refuse("cannot read " + path);
  double archive_size = std::max<double>(static_cast<double>(st.st_size), 1.0);
  auto a = open_reader(path);
  std::uint64_t total = 0;
  std::size_t entries = 0;
  archive_entry* e = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) refuse(std::string("corrupted archive: ") + archive_error_string(a.get()));
    if (++entries > limits.max_entries) refuse("too many members");
    const char* raw = archive_entry_pathname(e);
    std::string name = raw ? raw : "";
    std::string wheel;
    Member m = classify(name, wheel);
    auto type = archive_entry_filetype(e);
    if (archive_entry_hardlink(e) || archive_entry_symlink(e)) refuse("link member '" + name + "'");
    if (m == Member::dir) {
      if (type != AE_IFDIR) refuse("'" + name + "' must be a folder");
      continue;
    }
    if (type != AE_IFREG) refuse("'" + name + "' is not a regular file");
    if (archive_entry_size_is_set(e) && static_cast<std::uint64_t>(archive_entry_size(e)) > limits.max_entry)
      refuse("'" + name + "' is too large");
    sink.begin(m, wheel, name.c_str());
    std::uint64_t entry_bytes = 0;
    char buf[1 << 16];
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
      if (n < 0) refuse(std::string("corrupted archive: ") + archive_error_string(a.get()));
      if (n == 0) break;
      entry_bytes += static_cast<std::uint64_t>(n);
      total += static_cast<std::uint64_t>(n);
      if (entry_bytes > limits.max_entry) refuse("'" + name + "' is too large");
      if (total > limits.max_total) refuse("it unpacks to more than the size limit");
      if (total > limits.ratio_floor && static_cast<double>(total) / archive_size > limits.max_ratio)
        refuse("it expands far beyond its size (a compression bomb)");
      sink.data(buf, static_cast<std::size_t>(n));
    }
    sink.end();
  }
}

class Hasher {
 public:
  Hasher() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(const char* d, std::size_t n) { EVP_DigestUpdate(ctx_.get(), d, n); }
  std::string hex_digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    return hex(md, len);
  }

 private:
  MdCtx ctx_;
};

}  // namespace

BundleContents inspect_bundle(const std::string& path, const BundleLimits& limits) {
  BundleContents c;
  bool have_lock = false;
  Member current = Member::dir;
  std::string current_wheel;
  std::optional<Hasher> hasher;
  Sink sink;
  sink.begin = [&](Member m, const std::string& wheel, const char* name) {
    current = m;
    current_wheel = wheel;
    if (m == Member::lock) {
      if (have_lock) refuse("two requirements.lock members");
      have_lock = true;
    } else {
      if (c.wheels.count(wheel)) refuse(std::string("duplicate member '") + name + "'");
      hasher.emplace();
    }
  };
  sink.data = [&](const char* d, std::size_t n) {
    if (current == Member::lock) {
      c.lock_text.append(d, n);
      if (c.lock_text.size() > (16u << 20)) refuse("requirements.lock is too large");
    } else {
      hasher->update(d, n);
    }
  };
  sink.end = [&] {
    if (current == Member::wheel) c.wheels[current_wheel] = hasher->hex_digest();
  };
  walk(path, limits, sink);
  if (!have_lock) refuse(std::string("no ") + kBundleRoot + "/requirements.lock");
  try {
    c.lock = parse_requirements_file(c.lock_text);
  } catch (const EnvError& e) {
    refuse(std::string("its lock is invalid: ") + e.what());
  }
  // Every lock entry pinned, hashed and present; every wheel named by the lock.
  std::set<std::string> used;
  for (const auto& r : c.lock) {
    if (!r.is_pinned() || r.hashes.empty()) refuse("lock entry '" + r.to_string() + "' is not pinned with a hash");
    std::string version = Version::parse(r.specifier.substr(r.specifier.rfind('=') + 1)).str();
    bool found = false;
    for (const auto& [file, sha] : c.wheels) {
      auto w = parse_wheel_filename(file);
      if (!w || w->canonical != r.canonical() || w->version != version) continue;
      for (const auto& h : r.hashes) {
        if (h == "sha256:" + sha) {
          found = true;
          used.insert(file);
        }
      }
      if (!found) refuse("wheel '" + file + "' does not match the hash the lock gives for it");
    }
    if (!found) refuse("no wheel for lock entry '" + r.to_string() + "'");
  }
  for (const auto& [file, sha] : c.wheels)
    if (!used.count(file)) refuse("wheel '" + file + "' is not in the lock");
  return c;
}

void extract_bundle_wheels(const std::string& path, const BundleContents& contents, const std::string& dest,
                           const BundleLimits& limits) {
  std::vector<std::pair<std::string, std::string>> written;  // tmp, final
  auto cleanup = [&] {
    std::error_code ec;
    for (const auto& [tmp, fin] : written) fs::remove(tmp, ec);
  };
  Member current = Member::dir;
  std::string wheel;
  std::optional<Hasher> hasher;
  std::ofstream out;
  std::string tmp;
  Sink sink;
  sink.begin = [&](Member m, const std::string& w, const char*) {
    current = m;
    wheel = w;
    if (m != Member::wheel) return;
    hasher.emplace();
    tmp = dest + "/.import-" + w + ".tmp";
    out.open(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw EnvError(ErrorCode::io, "cannot write " + tmp);
    written.emplace_back(tmp, dest + "/" + w);
  };
  sink.data = [&](const char* d, std::size_t n) {
    if (current != Member::wheel) return;
    hasher->update(d, n);
    out.write(d, static_cast<std::streamsize>(n));
  };
  sink.end = [&] {
    if (current != Member::wheel) return;
    out.close();
    auto it = contents.wheels.find(wheel);
    if (!out || it == contents.wheels.end() || it->second != hasher->hex_digest())
      refuse("'" + wheel + "' changed while it was being imported");
  };
  try {
    walk(path, limits, sink);
  } catch (...) {
    cleanup();
    throw;
  }
  for (const auto& [t, fin] : written) {
    ::chmod(t.c_str(), 0644);
    std::error_code ec;
    fs::rename(t, fin, ec);
    if (ec) {
      cleanup();
      throw EnvError(ErrorCode::io, "cannot store " + fin + ": " + ec.message());
    }
  }
}

void write_bundle(const std::string& path, const std::string& lock_text, const std::vector<std::string>& wheels) {
  std::string tmp = path + ".tmp";
  {
    ArchiveWriter a(archive_write_new());
    archive_write_set_format_pax_restricted(a.get());
    archive_write_add_filter_gzip(a.get());
    if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK)
      throw EnvError(ErrorCode::io, std::string("cannot write ") + tmp + ": " + archive_error_string(a.get()));
    auto fail = [&] {
      std::string msg = std::string("cannot write ") + path + ": " + archive_error_string(a.get());
      std::error_code ec;
      fs::remove(tmp, ec);
      throw EnvError(ErrorCode::io, msg);
    };
    auto add_dir = [&](const std::string& name) {
      ArchiveEntry e(archive_entry_new());
      archive_entry_set_pathname(e.get(), name.c_str());
      archive_entry_set_filetype(e.get(), AE_IFDIR);
      archive_entry_set_perm(e.get(), 0755);
      if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) fail();
    };
    auto add_file = [&](const std::string& name, const std::string& data) {
      ArchiveEntry e(archive_entry_new());
      archive_entry_set_pathname(e.get(), name.c_str());
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_perm(e.get(), 0644);
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
      if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) fail();
      if (!data.empty() && archive_write_data(a.get(), data.data(), data.size()) < 0) fail();
    };
    std::string root = kBundleRoot;
    add_dir(root + "/");
    add_file(root + "/requirements.lock", lock_text);
    add_dir(root + "/wheels/");
    for (const auto& w : wheels) {
      std::ifstream in(w, std::ios::binary);
      if (!in) throw EnvError(ErrorCode::io, "cannot read " + w);
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      add_file(root + "/wheels/" + fs::path(w).filename().string(), data);
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) fail();
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw EnvError(ErrorCode::io, "cannot write " + path + ": " + ec.message());
}

}  // namespace envmgr::detail
