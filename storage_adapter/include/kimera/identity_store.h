// IdentityStore: the storage interface every backend and decorator implements.
//
// Thread-safety: every implementation is safe for concurrent use by many
// threads without external synchronization.
#ifndef KIMERA_IDENTITY_STORE_H_
#define KIMERA_IDENTITY_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/identity.h"
#include "kimera/status.h"

namespace kimera {

class RocksDbStore;

// Wall-clock time source, in UTC micros. Injectable so tests can move time.
using Clock = std::function<Micros()>;
// The system clock.
Micros SystemNow();

struct ListQuery {
  std::optional<IdentityType> identity_type;  // Default: every type.
  std::optional<std::string> lang_axis;       // Default: every lang_axis.
  std::size_t limit = 100;                    // Default: 100 identities.
};

// The most identities one StoreMany call takes: one atomic write holds them
// all in memory, with every layer's state for each.
inline constexpr std::size_t kMaxStoreMany = 10000;

// What every store refuses of `identity` before writing: Validate, and a
// record it cannot encode (over kMaxRecordBytes with its extra keys).
Status CheckStorable(const Identity& identity);

// What every StoreMany checks before it writes anything: at most
// kMaxStoreMany identities, no id twice, and `check` (CheckStorable when
// empty) of each. An error is InvalidArgument prefixed with the index of
// the identity it is about: "identities[3]: ...".
Status CheckStoreMany(const std::vector<Identity>& identities,
                      const std::function<Status(const Identity&)>& check = {});
// `status`, an error about identities[index], with the prefix
// "identities[3]: ", its code kept.
Status AboutElement(std::size_t index, const Status& status);

// Called once per identity by Scan, in id order; return false to stop early.
using ScanVisitor = std::function<bool(const Identity&)>;

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  // Inserts `identity`, or replaces the stored identity with the same id.
  // On replace the first created_at is kept and updated_at is set to now.
  // On insert a zero updated_at is set to now, and a zero created_at to now
  // or, when updated_at is given and earlier, to updated_at. Invalid input
  // gives InvalidArgument naming the field and the id; nothing is written.
  // A decorator may refuse more than a backend does, the same way (the
  // plugin refuses timestamps outside its [entropy] window).
  [[nodiscard]] virtual Status Store(const Identity& identity) = 0;

  // Stores many identities, each as Store would, in order. Every one is
  // checked first: an invalid one, or an id given twice, gives
  // InvalidArgument naming its index ("identities[3]: ...") and nothing is
  // written. A store that can commits them all in one atomic write, so that
  // a failure leaves none of them (RocksDbStore: one WriteBatch with every
  // participant's writes; MemoryStore: under one lock). Otherwise (the
  // default) they are stored one at a time, and a failure part way leaves
  // those before it stored. Either way `*stored` (when not null) is set to
  // how many, from the first, are stored when the call returns. At most
  // kMaxStoreMany identities per call.
  [[nodiscard]] virtual Status StoreMany(const std::vector<Identity>& identities,
                                         std::size_t* stored);

  // Reads the identity stored under `id` into `*out`. NotFound when absent;
  // Corruption naming the id when the stored bytes cannot be decoded.
  [[nodiscard]] virtual Status Fetch(std::string_view id, Identity* out) = 0;

  // Fetches many ids at once. `*out` is replaced by the identities found, in
  // the order of `ids`; absent ids are skipped. The default calls Fetch.
  [[nodiscard]] virtual Status FetchMany(const std::vector<std::string>& ids,
                                         std::vector<Identity>* out) {
    out->clear();
    out->reserve(ids.size());
    for (const std::string& id : ids) {
      Identity identity;
      Status s = Fetch(id, &identity);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return s;
      out->push_back(std::move(identity));
    }
    return Status::OK();
  }

  // Deletes the identity stored under `id`. NotFound when absent.
  [[nodiscard]] virtual Status Remove(std::string_view id) = 0;

  // The identities matching `query`, newest updated_at first (ties by id),
  // at most query.limit of them. `*out` is replaced.
  [[nodiscard]] virtual Status List(const ListQuery& query, std::vector<Identity>* out) = 0;

  // Number of identities stored, of one type or (nullopt) of all.
  [[nodiscard]] virtual Status Count(std::optional<IdentityType> type, std::uint64_t* out) = 0;

  // Identities with min_entropy <= H <= max_entropy, highest entropy first
  // (ties by id), at most `limit`. `*out` is replaced.
  [[nodiscard]] virtual Status FindByEntropy(double min_entropy, double max_entropy,
                                             std::size_t limit, std::vector<Identity>* out) = 0;

  // Visits every identity with id > `start_after` in id order (all when
  // empty). A record that cannot be decoded stops the scan with Corruption.
  [[nodiscard]] virtual Status Scan(std::string_view start_after, const ScanVisitor& visit) = 0;

  // Applies decay to one identity: multiplies its weight and every term
  // intensity by exp(-(now - since) / tau_eff), where `since` is the last
  // application (or created_at) and tau_eff comes from the entropy before
  // this step, then sets decay_applied_at = updated_at = now. Applying at t1
  // then t2 equals applying once at t2 for a geoid (its entropy does not
  // change with scaling); a scar's entropy falls with its weight, so its tau
  // is recomputed at each step. NotFound when absent; a `now` before the last
  // application changes nothing and returns InvalidArgument.
  [[nodiscard]] virtual Status ApplyDecay(std::string_view id, Micros now,
                                          const DecayParams& params) = 0;

  // Makes every acknowledged write durable (flushes the WAL).
  [[nodiscard]] virtual Status Sync() = 0;

  // Capability: the RocksDbStore that holds this store's records and takes
  // write participants (RocksDbStore::AddParticipant), so that a layer above
  // can commit data of its own atomically with every record write, or
  // nullptr (the default) when there is none. RocksDbStore returns itself;
  // StoreWrapper forwards to its target. Borrowed: owned by the stack.
  virtual RocksDbStore* record_engine() { return nullptr; }
};

// Forwards every call to a target store it owns. Decorators derive from it
// and override only what they intercept.
class StoreWrapper : public IdentityStore {
 public:
  explicit StoreWrapper(std::unique_ptr<IdentityStore> target) : target_(std::move(target)) {}

  IdentityStore* target() const { return target_.get(); }

  Status Store(const Identity& identity) override { return target_->Store(identity); }
  Status StoreMany(const std::vector<Identity>& identities, std::size_t* stored) override {
    return target_->StoreMany(identities, stored);
  }
  Status Fetch(std::string_view id, Identity* out) override { return target_->Fetch(id, out); }
  Status FetchMany(const std::vector<std::string>& ids, std::vector<Identity>* out) override {
    return target_->FetchMany(ids, out);
  }
  Status Remove(std::string_view id) override { return target_->Remove(id); }
  Status List(const ListQuery& query, std::vector<Identity>* out) override {
    return target_->List(query, out);
  }
  Status Count(std::optional<IdentityType> type, std::uint64_t* out) override {
    return target_->Count(type, out);
  }
  Status FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                       std::vector<Identity>* out) override {
    return target_->FindByEntropy(min_entropy, max_entropy, limit, out);
  }
  Status Scan(std::string_view start_after, const ScanVisitor& visit) override {
    return target_->Scan(start_after, visit);
  }
  Status ApplyDecay(std::string_view id, Micros now, const DecayParams& params) override {
    return target_->ApplyDecay(id, now, params);
  }
  Status Sync() override { return target_->Sync(); }
  RocksDbStore* record_engine() override { return target_->record_engine(); }

 private:
  std::unique_ptr<IdentityStore> target_;
};

}  // namespace kimera

#endif  // KIMERA_IDENTITY_STORE_H_
