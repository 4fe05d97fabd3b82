// The JSON shapes kimera_c.h documents for the administration reports:
// dual-write checks, statistics and sweeps, and the index check.
//
// Thread-safety: pure functions.
#ifndef KIMERA_C_API_REPORT_JSON_H_
#define KIMERA_C_API_REPORT_JSON_H_

#include <nlohmann/json.hpp>

#include "kimera/dual_write_types.h"
#include "kimera/entropy_store.h"

namespace kimera::c_api {

// {"id", "result", "fields": [{"field", "primary", "secondary"}],
// "entropy_drift"}; each side's value as JSON (a string when its text does
// not parse).
nlohmann::json CheckToJson(const IdCheck& check);

// {"enabled": true, "total", ..., "recent": [...]}.
nlohmann::json StatsToJson(const DualWriteStats& stats);

// {"visited", "differences", "repaired", "clean", "listed", "seconds"};
// `repaired` adds `queue_repaired` (the repair queue's entries).
nlohmann::json SweepToJson(const SweepReport& report, std::uint64_t queue_repaired);

// {"records", "index_entries", "problem_count", "repaired", "problems", "ok"}.
nlohmann::json IndexCheckToJson(const IndexCheckReport& report);

}  // namespace kimera::c_api

#endif  // KIMERA_C_API_REPORT_JSON_H_
