#pragma once
// The hub's log: one line per event on stderr, in JupyterHub's shape
// ("[I 2026-11-26 10:30:00.123 coursehub] message").
//
// Thread-safe: each line is written with one write(2), so lines from
// different threads never interleave.  Never pass passwords, tokens or
// cookies: callers redact before logging (see redact_target()).
#include <string>
#include <string_view>

namespace hub::log {

enum class Level { debug, info, warning, error };

void write(Level level, std::string_view message);
inline void info(std::string_view m) { write(Level::info, m); }
inline void warning(std::string_view m) { write(Level::warning, m); }
inline void error(std::string_view m) { write(Level::error, m); }

// A request target fit for the log: the values of query parameters whose
// names suggest secrets (token, password, _xsrf, secret, key, code, auth...)
// are replaced by "[secret]".
std::string redact_target(std::string_view target);

}  // namespace hub::log
