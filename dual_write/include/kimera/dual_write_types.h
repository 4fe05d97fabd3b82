// The values the dual-write layer's administration takes and returns:
// sweep options and reports, statistics, audit entries.
#ifndef KIMERA_DUAL_WRITE_TYPES_H_
#define KIMERA_DUAL_WRITE_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kimera/consistency.h"
#include "kimera/identity.h"

namespace kimera {

// One entry of the dual-write audit log.
struct AuditEntry {
  std::uint64_t sequence = 0;  // Set by Append.
  Micros time = 0;
  std::string id;
  std::string operation;  // "store", "remove", "decay", "repair", "rollback".
  std::string status;     // "ok" or the error code name.
  std::string details;    // The error message, empty when ok.
};

struct SweepOptions {
  bool repair = false;             // Default false: report only.
  bool resume = false;             // Default false: from the first id; true: from the saved cursor.
  double rate_per_second = 0;      // Default 0: as fast as possible.
  std::size_t max_listed = 10000;  // Default 10,000 differences kept in the report.
  // Called after each chunk with the ids visited so far.
  std::function<void(std::uint64_t visited)> progress;
};

struct SweepReport {
  std::uint64_t visited = 0;      // Distinct ids seen on either side.
  std::uint64_t differences = 0;  // Ids that differ (after a re-check under the id's lock).
  std::uint64_t repaired = 0;     // Ids made equal (repair only).
  std::uint64_t passes = 0;       // VerifyUntilClean: passes run.
  std::vector<IdCheck> listed;    // At most max_listed of the differences.
  // A full sweep that completes also counts the secondary's identities per
  // type at one consistent state and compares them with the counters stats
  // report (counted minus counter; 0 when exact). With repair, the counters
  // are corrected by the drift. Differences of counts are not in
  // `differences`: they change no identity.
  bool counts_checked = false;
  std::uint64_t counted_geoids = 0;
  std::uint64_t counted_scars = 0;
  std::int64_t geoids_count_drift = 0;
  std::int64_t scars_count_drift = 0;
  bool counts_corrected = false;
  double seconds = 0;
  bool clean() const { return differences == 0; }
};

struct DualWriteStats {
  std::uint64_t total = 0;
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  double success_rate = 1.0;
  std::uint64_t primary_count = 0;
  // The secondary's identities per type (rows of legacy_geoids and
  // legacy_scars for the legacy format), from counters kept with every
  // write; secondary_count is their sum.
  std::uint64_t secondary_geoids = 0;
  std::uint64_t secondary_scars = 0;
  std::uint64_t secondary_count = 0;
  std::uint64_t repair_backlog = 0;
  std::string secondary;
  std::vector<AuditEntry> recent;  // Newest first.
};

}  // namespace kimera

#endif  // KIMERA_DUAL_WRITE_TYPES_H_
