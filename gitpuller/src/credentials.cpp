#include "gitpuller/credentials.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "common/c_handle.hpp"
#include "common/file_lock.hpp"
#include "common/time_util.hpp"

namespace gitpuller {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using CipherCtx = common::CHandle<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;

constexpr std::size_t kKeySize = 32;
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;
constexpr const char* kStoreFile = "credentials.json";
constexpr const char* kKeyFile = "credentials.key";
constexpr const char* kLockFile = "credentials.lock";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// scheme://host[:port] lower-cased, userinfo dropped, plus the path as given.
// Returns false for anything that is not http(s).
bool split_http(std::string_view url, std::string& origin, std::string& path) {
  auto pos = url.find("://");
  if (pos == std::string_view::npos) return false;
  std::string scheme = lower(std::string(url.substr(0, pos)));
  if (scheme != "http" && scheme != "https") return false;
  std::string_view after = url.substr(pos + 3);
  auto slash = after.find('/');
  std::string_view authority = after.substr(0, slash);
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) authority = authority.substr(at + 1);
  if (authority.empty()) return false;
  origin = scheme + "://" + lower(std::string(authority));
  path = slash == std::string_view::npos ? "/" : std::string(after.substr(slash));
  auto cut = path.find_first_of("?#");
  if (cut != std::string::npos) path.resize(cut);
  return true;
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::vector<unsigned char> unbase64(const std::string& text) {
  std::vector<unsigned char> out(3 * text.size() / 4 + 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) throw CredentialError("the credential store is damaged (bad base64)");
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string aad_for(const std::string& prefix, const std::string& username) {
  return std::string("coursehub-credential-v1") + '\0' + prefix + '\0' + username;
}

std::string encrypt(const std::vector<unsigned char>& key, const std::string& plain, const std::string& aad) {
  unsigned char nonce[kNonceSize];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw CredentialError("no randomness for encryption");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw CredentialError("cannot set up encryption");
  std::vector<unsigned char> out(kNonceSize + plain.size() + kTagSize);
  std::memcpy(out.data(), nonce, kNonceSize);
  int len = 0;
  int total = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), out.data() + kNonceSize, &len,
                              reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonceSize + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, out.data() + kNonceSize + total) == 1;
  if (!ok) throw CredentialError("encryption failed");
  out.resize(kNonceSize + static_cast<std::size_t>(total) + kTagSize);
  return base64(out.data(), out.size());
}

std::string decrypt(const std::vector<unsigned char>& key, const std::string& sealed, const std::string& aad) {
  std::vector<unsigned char> in = unbase64(sealed);
  if (in.size() < kNonceSize + kTagSize) throw CredentialError("the credential store is damaged (short secret)");
  std::size_t ct_size = in.size() - kNonceSize - kTagSize;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw CredentialError("cannot set up decryption");
  std::string plain(ct_size, '\0');
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), in.data()) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                              in.data() + kNonceSize, static_cast<int>(ct_size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                                in.data() + kNonceSize + ct_size) == 1;
  int final_len = 0;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &final_len) == 1;
  if (!ok)
    throw CredentialError("a stored credential cannot be decrypted (was " + std::string(kKeyFile) +
                          " replaced?); remove it and add it again");
  plain.resize(static_cast<std::size_t>(len + final_len));
  return plain;
}

void ensure_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw CredentialError("cannot create " + dir.string() + ": " + std::strerror(errno));
}

void write_file_atomically(const fs::path& path, const std::string& data) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw CredentialError("cannot write " + tmp.string() + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw CredentialError("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw CredentialError("cannot replace " + path.string() + ": " + std::strerror(err));
  }
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The key, created (0600, atomically, first writer wins) when missing.
std::vector<unsigned char> load_key(const fs::path& dir, bool create) {
  fs::path key_path = dir / kKeyFile;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto data = read_file(key_path)) {
      if (data->size() != kKeySize) throw CredentialError(key_path.string() + " is damaged (wrong size)");
      return std::vector<unsigned char>(data->begin(), data->end());
    }
    if (!create) return {};
    ensure_dir(dir);
    unsigned char key[kKeySize];
    if (RAND_bytes(key, sizeof key) != 1) throw CredentialError("no randomness for the credential key");
    fs::path tmp = key_path;
    tmp += ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw CredentialError("cannot create " + key_path.string() + ": " + std::strerror(errno));
    ::fchmod(fd, 0600);
    bool written = ::write(fd, key, sizeof key) == static_cast<ssize_t>(sizeof key);
    ::fsync(fd);
    ::close(fd);
    if (!written) {
      ::unlink(tmp.c_str());
      throw CredentialError("cannot write " + key_path.string());
    }
    // link() fails when another process made the key first: then use theirs.
    int rc = ::link(tmp.c_str(), key_path.c_str());
    ::unlink(tmp.c_str());
    if (rc != 0 && errno != EEXIST) throw CredentialError("cannot create " + key_path.string() + ": " + std::strerror(errno));
  }
  throw CredentialError("cannot read " + key_path.string());
}

json load_store(const fs::path& dir) {
  auto data = read_file(dir / kStoreFile);
  if (!data || data->empty()) return json{{"version", 1}, {"credentials", json::array()}};
  try {
    json j = json::parse(*data);
    if (!j.contains("credentials") || !j["credentials"].is_array())
      throw CredentialError((dir / kStoreFile).string() + " is damaged");
    return j;
  } catch (const json::exception&) {
    throw CredentialError((dir / kStoreFile).string() + " is damaged (not JSON)");
  }
}

std::string today_local() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

bool valid_date(const std::string& s) {
  static const std::regex kDate(R"(\d{4}-\d{2}-\d{2})");
  if (!std::regex_match(s, kDate)) return false;
  std::tm tm{};
  tm.tm_year = std::stoi(s.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(s.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(s.substr(8, 2));
  tm.tm_hour = 12;
  std::tm copy = tm;
  std::time_t t = std::mktime(&copy);
  if (t == -1) return false;
  return copy.tm_year == tm.tm_year && copy.tm_mon == tm.tm_mon && copy.tm_mday == tm.tm_mday;
}

std::optional<std::string> opt_string(const json& j, const char* key) {
  if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return std::nullopt;
}

CredentialInfo info_of(const json& c) {
  CredentialInfo info;
  info.prefix = c.value("prefix", "");
  info.username = c.value("username", "");
  info.last4 = c.value("last4", "");
  info.expires = opt_string(c, "expires");
  info.created = c.value("created", "");
  info.last_used = opt_string(c, "last_used");
  info.last_error = opt_string(c, "last_error");
  info.last_error_at = opt_string(c, "last_error_at");
  info.expired = info.expires && *info.expires < today_local();
  return info;
}

// The entry with the longest prefix covering `url`, or nullptr.
const json* best_match(const json& store, std::string_view url) {
  const json* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& c : store["credentials"]) {
    std::string prefix = c.value("prefix", "");
    if (url_under_prefix(url, prefix) && prefix.size() > best_len) {
      best = &c;
      best_len = prefix.size();
    }
  }
  return best;
}

}  // namespace

namespace {

// "/org/course.git/x" -> "/org/course/x/": ".git" dropped from the end of
// every path segment (…/course and …/course.git name one repository) and a
// final '/' added, so that prefixes compare segment by segment.
std::string segments_without_git(const std::string& path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view seg(path.data() + start, end - start);
    if (seg.size() > 4 && seg.substr(seg.size() - 4) == ".git") seg.remove_suffix(4);
    out.append(seg);
    if (end < path.size()) out += '/';
    start = end + 1;
  }
  if (out.empty() || out.back() != '/') out += '/';
  return out;
}

}  // namespace

bool url_under_prefix(std::string_view url, std::string_view prefix) {
  std::string u_origin, u_path, p_origin, p_path;
  if (!split_http(url, u_origin, u_path) || !split_http(prefix, p_origin, p_path)) return false;
  if (u_origin != p_origin) return false;
  p_path = segments_without_git(p_path);
  u_path = segments_without_git(u_path);
  return u_path.compare(0, p_path.size(), p_path) == 0;
}

std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3))
      text.replace(pos, secret.size(), "***");
  }
  static const std::regex kUserinfo(R"(([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@)");
  return std::regex_replace(text, kUserinfo, "$1***@");
}

CredentialStore::CredentialStore(fs::path state_dir) : dir_(std::move(state_dir)) {}

std::string CredentialStore::normalize_prefix(std::string_view prefix) {
  std::string_view p = prefix;
  while (!p.empty() && std::isspace(static_cast<unsigned char>(p.front()))) p.remove_prefix(1);
  while (!p.empty() && std::isspace(static_cast<unsigned char>(p.back()))) p.remove_suffix(1);
  auto scheme_end = p.find("://");
  if (scheme_end != std::string_view::npos) {
    auto authority = p.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find('/'));
    if (authority.find('@') != std::string_view::npos)
      throw CredentialError("the URL prefix must not contain a user name or password");
  }
  std::string origin, path;
  if (!split_http(p, origin, path))
    throw CredentialError("the URL prefix must start with https:// or http:// and name a host");
  if (path.find_first_of(" \t\n") != std::string::npos) throw CredentialError("the URL prefix contains spaces");
  if (path.empty() || path.back() != '/') path += '/';
  return origin + path;
}

void CredentialStore::add(std::string_view prefix, std::string_view username, std::string_view secret,
                          std::optional<std::string> expires) {
  std::string norm = normalize_prefix(prefix);
  if (username.empty()) throw CredentialError("a user name is required");
  if (username.find_first_of(":\n\r") != std::string_view::npos)
    throw CredentialError("the user name must not contain ':' or line breaks");
  if (secret.empty()) throw CredentialError("the token (or password) is empty");
  if (secret.find_first_of("\n\r") != std::string_view::npos) throw CredentialError("the token contains line breaks");
  if (expires && !valid_date(*expires)) throw CredentialError("the expiry date must be YYYY-MM-DD, got '" + *expires + "'");

  std::lock_guard guard(mutex_);
  ensure_dir(dir_);
  auto lock = common::FileLock::acquire((dir_ / kLockFile).string());
  auto key = load_key(dir_, true);
  json store = load_store(dir_);
  json& list = store["credentials"];
  for (auto it = list.begin(); it != list.end();) {
    if (it->value("prefix", "") == norm) it = list.erase(it);
    else ++it;
  }
  std::string user(username);
  std::string sec(secret);
  json entry = {
      {"prefix", norm},
      {"username", user},
      {"secret", encrypt(key, sec, aad_for(norm, user))},
      {"last4", sec.size() <= 4 ? std::string(sec.size(), '*') : sec.substr(sec.size() - 4)},
      {"expires", expires ? json(*expires) : json(nullptr)},
      {"created", common::iso8601_utc()},
      {"last_used", nullptr},
      {"last_error", nullptr},
      {"last_error_at", nullptr},
  };
  list.push_back(std::move(entry));
  write_file_atomically(dir_ / kStoreFile, store.dump(2) + "\n");
}

bool CredentialStore::update(std::string_view prefix, std::optional<std::string> username,
                             std::optional<std::optional<std::string>> expires) {
  std::string norm = normalize_prefix(prefix);
  if (username) {
    if (username->empty()) throw CredentialError("a user name is required");
    if (username->find_first_of(":\n\r") != std::string::npos)
      throw CredentialError("the user name must not contain ':' or line breaks");
  }
  if (expires && *expires && !valid_date(**expires))
    throw CredentialError("the expiry date must be YYYY-MM-DD, got '" + **expires + "'");
  std::lock_guard guard(mutex_);
  if (!fs::exists(dir_ / kStoreFile)) return false;
  auto lock = common::FileLock::acquire((dir_ / kLockFile).string());
  json store = load_store(dir_);
  for (auto& c : store["credentials"]) {
    if (c.value("prefix", "") != norm) continue;
    std::string old_user = c.value("username", "");
    if (username && *username != old_user) {
      // The user name is bound to the sealed secret: seal it again.
      auto key = load_key(dir_, false);
      if (key.empty()) throw CredentialError((dir_ / kKeyFile).string() + " is missing; stored credentials cannot be read");
      std::string secret = decrypt(key, c.value("secret", ""), aad_for(norm, old_user));
      c["secret"] = encrypt(key, secret, aad_for(norm, *username));
      c["username"] = *username;
    }
    if (expires) c["expires"] = *expires ? json(**expires) : json(nullptr);
    write_file_atomically(dir_ / kStoreFile, store.dump(2) + "\n");
    return true;
  }
  return false;
}

bool CredentialStore::remove(std::string_view prefix) {
  std::string norm;
  try {
    norm = normalize_prefix(prefix);
  } catch (const CredentialError&) {
    norm = std::string(prefix);
  }
  std::lock_guard guard(mutex_);
  if (!fs::exists(dir_ / kStoreFile)) return false;
  auto lock = common::FileLock::acquire((dir_ / kLockFile).string());
  json store = load_store(dir_);
  json& list = store["credentials"];
  bool found = false;
  for (auto it = list.begin(); it != list.end();) {
    if (it->value("prefix", "") == norm) {
      it = list.erase(it);
      found = true;
    } else {
      ++it;
    }
  }
  if (found) write_file_atomically(dir_ / kStoreFile, store.dump(2) + "\n");
  return found;
}

std::vector<CredentialInfo> CredentialStore::list() const {
  std::lock_guard guard(mutex_);
  json store = load_store(dir_);
  std::vector<CredentialInfo> out;
  for (const auto& c : store["credentials"]) out.push_back(info_of(c));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.prefix < b.prefix; });
  return out;
}

std::optional<CredentialInfo> CredentialStore::info_for(std::string_view url) const {
  std::lock_guard guard(mutex_);
  json store = load_store(dir_);
  if (const json* c = best_match(store, url)) return info_of(*c);
  return std::nullopt;
}

std::optional<Credential> CredentialStore::find(std::string_view url) const {
  std::lock_guard guard(mutex_);
  json store = load_store(dir_);
  const json* c = best_match(store, url);
  if (!c) return std::nullopt;
  auto key = load_key(dir_, false);
  if (key.empty()) throw CredentialError((dir_ / kKeyFile).string() + " is missing; stored credentials cannot be read");
  Credential cred;
  cred.prefix = c->value("prefix", "");
  cred.username = c->value("username", "");
  cred.secret = decrypt(key, c->value("secret", ""), aad_for(cred.prefix, cred.username));
  return cred;
}

void CredentialStore::record_use(const std::string& prefix, const std::string& error) const {
  std::lock_guard guard(mutex_);
  try {
    json store = load_store(dir_);
    // Skip the write when nothing worth showing changed (bursts of syncs).
    auto now = std::chrono::system_clock::now();
    for (const auto& c : store["credentials"]) {
      if (c.value("prefix", "") != prefix) continue;
      // A success right after a failure is always written: it clears the alert.
      auto error_at = opt_string(c, "last_error_at");
      auto used_at = opt_string(c, "last_used");
      bool error_is_newer = error_at && (!used_at || *error_at > *used_at);
      if (error.empty() && !error_is_newer && c.contains("last_used") && c["last_used"].is_string()) {
        auto last = c.value("last_used_unix", 0.0);
        if (common::unix_seconds(now) - last < 60) return;
      }
    }
    auto lock = common::FileLock::try_acquire((dir_ / kLockFile).string(), std::chrono::seconds(5));
    if (!lock) return;
    store = load_store(dir_);
    bool changed = false;
    for (auto& c : store["credentials"]) {
      if (c.value("prefix", "") != prefix) continue;
      if (error.empty()) {
        c["last_used"] = common::iso8601_utc(now);
        c["last_used_unix"] = common::unix_seconds(now);
      } else {
        c["last_error"] = error;
        c["last_error_at"] = common::iso8601_utc(now);
      }
      changed = true;
    }
    if (changed) write_file_atomically(dir_ / kStoreFile, store.dump(2) + "\n");
  } catch (const std::exception&) {
    // Bookkeeping must never turn a successful sync into a failure.
  }
}

}  // namespace gitpuller
