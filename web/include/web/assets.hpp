#pragma once
// The files of web/ (templates, CSS, JavaScript), compiled into the binary.
// Immutable after start-up; safe to read from any thread.
#include <span>
#include <string_view>

namespace web {

struct Asset {
  std::string_view path;          // relative to web/, e.g. "static/hub.css"
  std::string_view content;
  std::string_view content_type;  // from the file extension
};

// The asset at `path`, or nullptr.
const Asset* find_asset(std::string_view path);

std::span<const Asset> all_assets();

}  // namespace web
