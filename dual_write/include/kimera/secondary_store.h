// SecondaryStore: the second side of dual-write, written exactly as the
// primary holds each record.
//
// Two kinds exist: the legacy column families in the primary's own database
// (writes join the primary's WriteBatch through AddToBatch, so both sides
// commit atomically), and a second RocksDB database in the legacy or the
// current format (written after the primary, covered by an intent journal).
// Tests wrap a real secondary to inject faults.
//
// Thread-safety: implementations are safe for concurrent use by many threads.
#ifndef KIMERA_SECONDARY_STORE_H_
#define KIMERA_SECONDARY_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/dual_write_config.h"
#include "kimera/identity.h"
#include "kimera/status.h"
#include "rocksdb_database.h"

namespace kimera {

// The column family of a second database that holds its marks.
inline constexpr const char* kSecondaryMarksColumnFamily = "dual_write_marks";

class SecondaryStore {
 public:
  virtual ~SecondaryStore() = default;

  // A short description for logs and stats ("legacy column families").
  virtual std::string Describe() const = 0;

  // True when writes go into the primary's WriteBatch (AddToBatch) rather
  // than through Put / Delete after the primary committed.
  virtual bool in_primary_batch() const { return false; }

  // Adds the write of `after` (nullptr: the removal of `id`) to the primary's
  // `batch`. `before` is the primary's record before this write (nullptr:
  // none); the secondary is taken to hold it too, so only what changed from
  // `before` is written (a side that differs is the repair queue's or the
  // sweep's to find, and Put / Delete clear every trace of the id). Only for
  // in_primary_batch() secondaries; a non-OK status means the secondary write
  // failed and nothing was added.
  virtual Status AddToBatch(std::string_view id, const Identity* before, const Identity* after,
                            rocksdb::WriteBatch* batch);

  // `identity` reduced to the fields this secondary keeps: what Get returns
  // after Put(identity).
  virtual Identity Project(const Identity& identity) const = 0;

  // Writes `identity` exactly as given, replacing any record of its id
  // (whatever the secondary held before).
  [[nodiscard]] virtual Status Put(const Identity& identity) = 0;
  // Removes `id`; OK when absent.
  [[nodiscard]] virtual Status Delete(std::string_view id) = 0;
  // Reads `id`; NotFound when absent.
  [[nodiscard]] virtual Status Get(std::string_view id, Identity* out) = 0;
  // Replaces `*out` by at most `limit` identities with id > `start_after`
  // (all when empty), in id order.
  [[nodiscard]] virtual Status ScanChunk(std::string_view start_after, std::size_t limit,
                                         std::vector<Identity>* out) = 0;
  // Number of identities held.
  [[nodiscard]] virtual Status Count(std::uint64_t* out) = 0;
  // Makes acknowledged writes durable.
  [[nodiscard]] virtual Status Sync() = 0;

  // Second databases opened without synced writes mark each id that Put or
  // Delete writes, in the same atomic write, until ClearMarks. A power cut
  // can keep a secondary write and lose the primary's (two databases reach
  // the disk in no set order); the marks name every id where that can have
  // happened. Default: no marks.
  virtual bool marks() const { return false; }
  // Replaces `*out` by the marked ids.
  [[nodiscard]] virtual Status MarkedIds(std::vector<std::string>* out) {
    out->clear();
    return Status::OK();
  }
  // Removes the marks of `ids`.
  [[nodiscard]] virtual Status ClearMarks(const std::vector<std::string>& ids) {
    (void)ids;
    return Status::OK();
  }
};

// The legacy tables in `database` (borrowed; must outlive the result). With
// `in_primary_batch` the writes join the primary's batches.
Status OpenLegacySecondary(RocksDbDatabase* database, bool in_primary_batch,
                           std::unique_ptr<SecondaryStore>* out);

// The secondary `config` names: the legacy column families of `primary`
// (borrowed) when config.secondary is "legacy", else a second database at
// that folder in config.secondary_format.
Status OpenSecondary(const DualWriteConfig& config, RocksDbDatabase* primary,
                     const RocksDbOptions& options, std::unique_ptr<SecondaryStore>* out);

}  // namespace kimera

#endif  // KIMERA_SECONDARY_STORE_H_
