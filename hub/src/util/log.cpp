#include "util/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

namespace hub::log {
namespace {

char level_letter(Level level) {
  switch (level) {
    case Level::debug: return 'D';
    case Level::info: return 'I';
    case Level::warning: return 'W';
    case Level::error: return 'E';
  }
  return 'I';
}

bool is_secret_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"token", "password", "passwd", "xsrf", "secret", "key", "code", "auth", "cookie",
                           "session", "credential"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

void write(Level level, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[40];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  std::string line;
  line.reserve(message.size() + 48);
  line += '[';
  line += level_letter(level);
  line += ' ';
  line += stamp;
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms));
  line += frac;
  line += " coursehub] ";
  // Control characters would let a request forge log lines.
  for (char c : message) line += (static_cast<unsigned char>(c) < 0x20 && c != '\t') ? '?' : c;
  line += '\n';
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::string redact_target(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (!first) out += '&';
    first = false;
    auto eq = part.find('=');
    std::string_view name = part.substr(0, eq);
    if (eq != std::string_view::npos && is_secret_name(name)) {
      out += name;
      out += "=[secret]";
    } else {
      out += part;
    }
  }
  return out;
}

}  // namespace hub::log
