// DualWriteAdmin: the administration of a configured stack's dual-write
// layer, for the `kimera dual-write` commands and for hosts. The factory
// (OpenConfiguredStore) builds it beside the store, with the layers it needs
// named explicitly.
//
// Each call is timed into kimera_storage_operations_duration_seconds
// (operation dual_write_verify, dual_write_repair or dual_write_stats) by the
// plugin above. With dual-write off, every call but Cleanup returns
// InvalidArgument "dual-write is not enabled". Repairs only write the
// secondary: the primary's records, and so the entropy index, are unchanged.
//
// Thread-safety: safe for concurrent use; borrows the stack, which must
// outlive it (ConfiguredStore destroys it first).
#ifndef KIMERA_DUAL_WRITE_ADMIN_H_
#define KIMERA_DUAL_WRITE_ADMIN_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kimera/dual_write_config.h"
#include "kimera/dual_write_types.h"
#include "kimera/entropy_store.h"
#include "kimera/operation.h"

namespace kimera {

class DualWriteStore;

class DualWriteAdmin {
 public:
  // `plugin` times the calls; `dual` is the dual-write layer below it, or
  // nullptr when dual-write is off; `records` the RocksDbStore holding the
  // primary's records (for Cleanup), or nullptr.
  DualWriteAdmin(EntropyStore* plugin, DualWriteStore* dual, RocksDbStore* records)
      : plugin_(plugin), dual_(dual), records_(records) {}

  bool enabled() const { return dual_ != nullptr; }
  // The dual-write layer, or nullptr when off (tests and benchmarks reach
  // its secondary through it).
  DualWriteStore* store() const { return dual_; }

  // One sweep of every id of both sides (DualWriteStore::Sweep).
  Status Verify(const SweepOptions& options, SweepReport* report);
  // Sweeps until clean or `max_passes` (DualWriteStore::VerifyUntilClean).
  Status VerifyUntilClean(int max_passes, const SweepOptions& options, SweepReport* report);
  // Makes the secondary equal the primary everywhere: retries every entry of
  // the repair queue now (their count in `*queue_repaired` when given), then
  // a repair sweep (`options.repair` is forced on). A second call on a quiet
  // store finds and repairs nothing.
  Status Repair(const SweepOptions& options, SweepReport* report,
                std::uint64_t* queue_repaired = nullptr);
  // Makes the secondary equal the primary for `id` (DualWriteStore::RepairId).
  Status RepairId(std::string_view id);
  // Compares both sides of `id` (DualWriteStore::CheckId); timed as a verify.
  Status CheckId(std::string_view id, IdCheck* out);
  // Totals, counts of each side (the secondary's per type), repair backlog
  // and the `recent` newest audit entries (DualWriteStore::Stats); counts
  // come from counters and the index, never from a scan.
  Status Stats(std::size_t recent, DualWriteStats* out);
  // Entries waiting in the repair queue; 0 when dual-write is off.
  std::uint64_t repair_backlog() const;
  // Drops the legacy column families and the audit log of the records'
  // database when `config` allows it (DualWriteStore::Cleanup); otherwise
  // InvalidArgument saying why, and nothing is dropped.
  Status Cleanup(const DualWriteConfig& config);

  // Stops dual-write's background threads (DualWriteStore::Stop).
  void Stop();

 private:
  // Runs `call` on the dual-write layer (or fails: not enabled), timed as
  // `op` either way, as the plugin times its own failed calls.
  template <typename Call>
  Status Run(Operation op, Call&& call);

  EntropyStore* plugin_;
  DualWriteStore* dual_;
  RocksDbStore* records_;
};

}  // namespace kimera

#endif  // KIMERA_DUAL_WRITE_ADMIN_H_
