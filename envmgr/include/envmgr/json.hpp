#pragma once
// JSON forms of envmgr's records, shared by `coursehub env ... --json` and the
// hub's /hub/api/env/... endpoints so both speak the same shapes.
#include <nlohmann/json.hpp>

#include "envmgr/env_manager.hpp"

namespace envmgr {

// {"name","version","installer","location":"own"|"inherited","path"}
nlohmann::json to_json(const InstalledDist& dist);
// {"id","kind","state","requested_by","request","commands","before","after",
//  "changes":[{"kind","name","from","to"}],"exit_code","started","finished",
//  "duration_ms","message","restored","rollback_of"} (+ "output" when asked)
nlohmann::json to_json(const Transaction& txn, bool with_output = false);
// {"id","kind","requested_by","request","started","pid"}
nlohmann::json to_json(const RunningInfo& info);
nlohmann::json to_json(const CheckReport& report);
nlohmann::json to_json(const DistDetails& details);

}  // namespace envmgr
