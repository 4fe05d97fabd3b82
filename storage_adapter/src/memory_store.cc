#include "kimera/memory_store.h"

#include <mutex>
#include <utility>

#include "record_codec.h"
#include "store_rules.h"

namespace kimera {
namespace {

Status NotFound(std::string_view id) {
  return Status::NotFound("identity '" + DisplayId(id) + "' not found");
}

// Scan hands out copies in batches of this size so the visitor runs without
// the lock held (it may call back into the store) and memory stays bounded.
constexpr std::size_t kScanBatch = 256;

}  // namespace

MemoryStore::MemoryStore(Clock clock) : clock_(clock ? std::move(clock) : Clock(SystemNow)) {}

void MemoryStore::PutLocked(Identity record, Micros now) {
  auto it = records_.find(record.id);
  store_rules::StampForStore(it == records_.end() ? nullptr : &it->second, now, &record);
  if (it == records_.end()) {
    records_.emplace(record.id, std::move(record));
  } else {
    it->second = std::move(record);
  }
}

Status MemoryStore::Store(const Identity& identity) {
  // What the RocksDB store rejects too, a record it cannot encode: the two
  // backends stay interchangeable (dual-write compares them).
  Status s = CheckStorable(identity);
  if (!s.ok()) return s;
  std::unique_lock lock(mu_);
  PutLocked(identity, clock_());
  return Status::OK();
}

Status MemoryStore::StoreMany(const std::vector<Identity>& identities, std::size_t* stored) {
  if (stored != nullptr) *stored = 0;
  Status s = CheckStoreMany(identities);
  if (!s.ok()) return s;
  std::unique_lock lock(mu_);
  const Micros now = clock_();
  for (const Identity& identity : identities) PutLocked(identity, now);
  if (stored != nullptr) *stored = identities.size();
  return Status::OK();
}

Status MemoryStore::Fetch(std::string_view id, Identity* out) {
  std::shared_lock lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return NotFound(id);
  *out = it->second;
  return Status::OK();
}

Status MemoryStore::Remove(std::string_view id) {
  std::unique_lock lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return NotFound(id);
  records_.erase(it);
  return Status::OK();
}

Status MemoryStore::List(const ListQuery& query, std::vector<Identity>* out) {
  store_rules::ListCollector collector(query);
  {
    std::shared_lock lock(mu_);
    for (const auto& [id, identity] : records_) collector.Offer(identity);
  }
  *out = collector.Take();
  return Status::OK();
}

Status MemoryStore::Count(std::optional<IdentityType> type, std::uint64_t* out) {
  std::shared_lock lock(mu_);
  if (!type) {
    *out = records_.size();
    return Status::OK();
  }
  std::uint64_t n = 0;
  for (const auto& [id, identity] : records_) n += identity.identity_type == *type ? 1 : 0;
  *out = n;
  return Status::OK();
}

Status MemoryStore::FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                                  std::vector<Identity>* out) {
  store_rules::EntropyCollector collector(min_entropy, max_entropy, limit);
  {
    std::shared_lock lock(mu_);
    for (const auto& [id, identity] : records_) collector.Offer(identity);
  }
  *out = collector.Take();
  return Status::OK();
}

Status MemoryStore::Scan(std::string_view start_after, const ScanVisitor& visit) {
  std::string cursor(start_after);
  std::vector<Identity> batch;
  while (true) {
    batch.clear();
    {
      std::shared_lock lock(mu_);
      auto it = cursor.empty() ? records_.begin() : records_.upper_bound(cursor);
      for (; it != records_.end() && batch.size() < kScanBatch; ++it) batch.push_back(it->second);
    }
    if (batch.empty()) return Status::OK();
    for (const Identity& identity : batch) {
      if (!visit(identity)) return Status::OK();
    }
    cursor = batch.back().id;
  }
}

Status MemoryStore::ApplyDecay(std::string_view id, Micros now, const DecayParams& params) {
  std::unique_lock lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return NotFound(id);
  return store_rules::ApplyDecayStep(&it->second, now, params);
}

}  // namespace kimera
