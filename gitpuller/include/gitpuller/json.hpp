#pragma once
// JSON form of reports, events and errors: exactly what `coursehub pull
// --json` prints (one event per line) and what the hub streams as
// Server-Sent Events (`data: <line>`).
//
//   {"phase":"syncing","output":"Receiving objects: 40% (12/30)",
//    "progress":{"stage":"fetch","objects_received":12,"objects_total":30,
//                "bytes_received":1024,"files_done":0,"files_total":0}}
//   {"phase":"finished","output":"...","report":{"outcome":"merged","commit":"<sha>",...}}
//   {"phase":"error","output":"...","error":{"code":"auth","message":"..."}}
//
// The parsers accept what the printers produce; unknown keys are ignored and
// a malformed document throws nlohmann::json::exception or std::invalid_argument.
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "gitpuller/report.hpp"

namespace gitpuller {

// Objects keep the key order shown above (nlohmann::ordered_json); the
// parsers take either kind of document.
nlohmann::ordered_json report_to_json(const SyncReport& report);
SyncReport report_from_json(const nlohmann::json& j);

nlohmann::ordered_json event_to_json(const SyncEvent& event);
SyncEvent event_from_json(const nlohmann::json& j);

// One line of compact JSON, without the trailing newline.
std::string event_to_line(const SyncEvent& event);
SyncEvent event_from_line(std::string_view line);

}  // namespace gitpuller
