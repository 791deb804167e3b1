#include "gitpuller/json.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace gitpuller {

using nlohmann::json;
using nlohmann::ordered_json;

ordered_json report_to_json(const SyncReport& r) {
  ordered_json renamed = ordered_json::array();
  for (const auto& f : r.files_renamed) renamed.push_back({{"from", f.from}, {"to", f.to}});
  return {
      {"outcome", to_string(r.outcome)},
      {"repo", r.repo_url},
      {"target", r.target_dir},
      {"branch", r.branch},
      {"commit", r.commit},
      {"upstream_commit", r.upstream_commit},
      {"files_updated", r.files_updated},
      {"files_restored", r.files_restored},
      {"files_renamed", renamed},
      {"files_kept_local", r.files_kept_local},
      {"backup_dir", r.backup_dir ? ordered_json(*r.backup_dir) : ordered_json(nullptr)},
      {"warnings", r.warnings},
      {"upstream_fetched", r.upstream_fetched},
      {"duration_seconds", r.duration_seconds},
  };
}

SyncReport report_from_json(const json& j) {
  SyncReport r;
  auto outcome = outcome_from_string(j.at("outcome").get<std::string>());
  if (!outcome) throw std::invalid_argument("unknown outcome " + j.at("outcome").dump());
  r.outcome = *outcome;
  r.repo_url = j.value("repo", "");
  r.target_dir = j.value("target", "");
  r.branch = j.value("branch", "");
  r.commit = j.value("commit", "");
  r.upstream_commit = j.value("upstream_commit", "");
  r.files_updated = j.value("files_updated", std::vector<std::string>{});
  r.files_restored = j.value("files_restored", std::vector<std::string>{});
  for (const auto& f : j.value("files_renamed", json::array()))
    r.files_renamed.push_back({f.at("from").get<std::string>(), f.at("to").get<std::string>()});
  r.files_kept_local = j.value("files_kept_local", std::vector<std::string>{});
  if (j.contains("backup_dir") && j["backup_dir"].is_string()) r.backup_dir = j["backup_dir"].get<std::string>();
  r.warnings = j.value("warnings", std::vector<std::string>{});
  r.upstream_fetched = j.value("upstream_fetched", false);
  r.duration_seconds = j.value("duration_seconds", 0.0);
  return r;
}

ordered_json event_to_json(const SyncEvent& e) {
  ordered_json j = {{"phase", to_string(e.phase)}, {"output", e.output}};
  if (e.progress) {
    const Progress& p = *e.progress;
    j["progress"] = {
        {"stage", to_string(p.stage)},
        {"objects_received", p.objects_received},
        {"objects_total", p.objects_total},
        {"bytes_received", p.bytes_received},
        {"files_done", p.files_done},
        {"files_total", p.files_total},
    };
  }
  if (e.report) j["report"] = report_to_json(*e.report);
  if (e.error) j["error"] = {{"code", to_string(e.error->code)}, {"message", e.error->message}};
  return j;
}

SyncEvent event_from_json(const json& j) {
  SyncEvent e;
  std::string phase = j.at("phase").get<std::string>();
  if (phase == "syncing") {
    e.phase = Phase::syncing;
  } else if (phase == "finished") {
    e.phase = Phase::finished;
  } else if (phase == "error") {
    e.phase = Phase::error;
  } else {
    throw std::invalid_argument("unknown phase " + phase);
  }
  e.output = j.value("output", "");
  if (j.contains("progress")) {
    const json& p = j["progress"];
    Progress progress;
    auto stage = stage_from_string(p.at("stage").get<std::string>());
    if (!stage) throw std::invalid_argument("unknown stage " + p.at("stage").dump());
    progress.stage = *stage;
    progress.objects_received = p.value("objects_received", std::uint64_t{0});
    progress.objects_total = p.value("objects_total", std::uint64_t{0});
    progress.bytes_received = p.value("bytes_received", std::uint64_t{0});
    progress.files_done = p.value("files_done", std::uint64_t{0});
    progress.files_total = p.value("files_total", std::uint64_t{0});
    e.progress = progress;
  }
  if (j.contains("report")) e.report = report_from_json(j["report"]);
  if (j.contains("error")) {
    const json& err = j["error"];
    auto code = error_code_from_string(err.value("code", "unknown"));
    e.error = ErrorInfo{code.value_or(ErrorCode::unknown), err.value("message", "")};
  }
  if (e.phase == Phase::finished && !e.report) throw std::invalid_argument("finished event without report");
  if (e.phase == Phase::error && !e.error) throw std::invalid_argument("error event without error");
  return e;
}

std::string event_to_line(const SyncEvent& event) {
  // Invalid UTF-8 in a file name must not make the whole stream unprintable.
  return event_to_json(event).dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

SyncEvent event_from_line(std::string_view line) { return event_from_json(json::parse(line)); }

}  // namespace gitpuller
