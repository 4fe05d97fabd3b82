// Configuration of dual-write: the [dual_write] section of kimera.toml.
//
// Every field carries its default. KIMERA_ID_DUAL_WRITE=1 (or 0) overrides
// `enabled` (see config_loader.h).
//
// Thread-safety: a plain value; copy it freely.
#ifndef KIMERA_DUAL_WRITE_CONFIG_H_
#define KIMERA_DUAL_WRITE_CONFIG_H_

#include <cstdint>
#include <string>

namespace kimera {

enum class DualWriteMode : std::uint8_t {
  kStrict,      // A failed secondary write fails the operation; the primary is put back.
  kBestEffort,  // The primary keeps the write; the secondary is repaired in the background.
};

enum class ReadSource : std::uint8_t { kPrimary, kSecondary };

struct DualWriteConfig {
  bool enabled = false;  // Default off.
  // "legacy" (default): legacy column families in the primary's database,
  // written in the primary's batch. Anything else: the folder of a second
  // RocksDB database.
  std::string secondary = "legacy";
  // Format of a second database: "legacy" (default) or "current". The
  // same-database legacy secondary is always "legacy".
  std::string secondary_format = "legacy";
  DualWriteMode mode = DualWriteMode::kStrict;   // Default strict.
  double inline_sample_rate = 0.0;               // Default 0: no write is read back.
  double shadow_read_rate = 0.0;                 // Default 0: no shadow reads.
  ReadSource read_from = ReadSource::kPrimary;   // Default primary; secondary = cutover.
  double sweep_interval_seconds = 0.0;           // Default 0: no background sweep.
  double sweep_rate_per_second = 10000.0;        // Default 10,000 ids/s; 0: unlimited.
  std::uint64_t audit_log_max_entries = 100000;  // Default 100,000; up to 1 % more on disk.
  double repair_retry_initial_ms = 100.0;        // Default 100 ms, doubled per failure.
  double repair_retry_max_ms = 60000.0;          // Default 60 s cap.

  bool secondary_is_legacy_cfs() const { return secondary == "legacy"; }
};

const char* DualWriteModeName(DualWriteMode mode);
const char* ReadSourceName(ReadSource source);

}  // namespace kimera

#endif  // KIMERA_DUAL_WRITE_CONFIG_H_
