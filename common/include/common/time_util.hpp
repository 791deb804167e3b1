#pragma once
// Time formatting used in file names, logs and JSON.
#include <chrono>
#include <string>

namespace common {

// Local time to the second, "YYYYmmddHHMMSS" (file-name suffixes).
std::string local_stamp(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

// UTC ISO 8601 with milliseconds and a Z, "2026-11-26T10:30:00.123Z"
// (the form JupyterHub's REST API uses).
std::string iso8601_utc(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

// Seconds since the epoch as a double (SQLite-friendly).
double unix_seconds(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

}  // namespace common
