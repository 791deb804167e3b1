#include "envmgr/json.hpp"

#include <chrono>

#include "common/time_util.hpp"

namespace envmgr {
namespace {

using nlohmann::json;

std::string iso(double unix_seconds) {
  if (unix_seconds <= 0) return "";
  auto tp = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(unix_seconds)));
  return common::iso8601_utc(tp);
}

json set_json(const PackageSet& set) {
  json a = json::array();
  for (const auto& [k, p] : set) a.push_back({{"name", p.name}, {"version", p.version}});
  return a;
}

}  // namespace

json to_json(const InstalledDist& d) {
  return {{"name", d.name},
          {"version", d.version},
          {"installer", d.installer},
          {"location", d.own ? "own" : "inherited"},
          {"path", d.location}};
}

json to_json(const Transaction& t, bool with_output) {
  json changes = json::array();
  for (const auto& c : t.changes())
    changes.push_back({{"kind", to_string(c.kind)}, {"name", c.name}, {"from", c.from}, {"to", c.to}});
  json j = {{"id", t.id},
            {"kind", to_string(t.kind)},
            {"state", to_string(t.state)},
            {"requested_by", t.requested_by},
            {"request", t.request},
            {"commands", t.commands},
            {"before", set_json(t.before)},
            {"after", set_json(t.after)},
            {"changes", changes},
            {"exit_code", t.exit_code ? json(*t.exit_code) : json(nullptr)},
            {"started", iso(t.started)},
            {"finished", t.finished > 0 ? json(iso(t.finished)) : json(nullptr)},
            {"duration_ms", t.duration_ms},
            {"message", t.message},
            {"restored", t.restored},
            {"rollback_of", t.rollback_of ? json(*t.rollback_of) : json(nullptr)}};
  if (with_output) j["output"] = t.output;
  return j;
}

json to_json(const RunningInfo& r) {
  return {{"id", r.id},
          {"kind", to_string(r.kind)},
          {"requested_by", r.requested_by},
          {"request", r.request},
          {"started", iso(r.started)},
          {"pid", r.pid}};
}

json to_json(const CheckReport& c) {
  return {{"ok", c.ok}, {"problems", c.problems}, {"command", c.command}, {"output", c.output}};
}

json to_json(const DistDetails& d) {
  json j = to_json(d.dist);
  j["summary"] = d.summary;
  j["home_page"] = d.home_page;
  j["license"] = d.license;
  j["requires_python"] = d.requires_python;
  j["requires"] = d.requires_dist;
  j["required_by"] = d.required_by;
  j["files"] = d.files.size();
  return j;
}

}  // namespace envmgr
