// MemoryStore: the IdentityStore interface in memory. Used by tests and as
// an inner store that is not RocksDB. Nothing survives the object.
//
// Thread-safety: safe for concurrent use by many threads (one shared mutex).
#ifndef KIMERA_MEMORY_STORE_H_
#define KIMERA_MEMORY_STORE_H_

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include "kimera/identity_store.h"

namespace kimera {

class MemoryStore : public IdentityStore {
 public:
  explicit MemoryStore(Clock clock = SystemNow);

  Status Store(const Identity& identity) override;
  // All under one lock: every identity is stored, or none.
  Status StoreMany(const std::vector<Identity>& identities, std::size_t* stored) override;
  Status Fetch(std::string_view id, Identity* out) override;
  Status Remove(std::string_view id) override;
  Status List(const ListQuery& query, std::vector<Identity>* out) override;
  Status Count(std::optional<IdentityType> type, std::uint64_t* out) override;
  Status FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                       std::vector<Identity>* out) override;
  Status Scan(std::string_view start_after, const ScanVisitor& visit) override;
  Status ApplyDecay(std::string_view id, Micros now, const DecayParams& params) override;
  Status Sync() override { return Status::OK(); }

 private:
  // Stamps and stores one checked identity; mu_ held exclusively.
  void PutLocked(Identity record, Micros now);

  Clock clock_;
  mutable std::shared_mutex mu_;  // Guards records_.
  std::map<std::string, Identity, std::less<>> records_;
};

}  // namespace kimera

#endif  // KIMERA_MEMORY_STORE_H_
