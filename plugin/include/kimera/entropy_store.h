// EntropyStore: the decorator plugin. Wraps any IdentityStore, keeps an
// entropy index of it in RocksDB column families, and times every call into
// Prometheus metrics.
//
// A host swaps it in where it built its store:
//
//   auto store = kimera::wrap(std::move(inner), config);
//
// and nothing else changes. When the wrapped store's records are in a
// RocksDbStore (IdentityStore::record_engine), the index lives in that database and every index
// write goes into the record's own WriteBatch, so data and index commit together. Any other store
// gets an index database of its own at config.index.separate_path; an intent entry written before
// each inner write and cleared with the index update is replayed at open, so a crash leaves both in
// agreement.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef KIMERA_ENTROPY_STORE_H_
#define KIMERA_ENTROPY_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kimera/identity_store.h"
#include "kimera/index_entry.h"
#include "kimera/metrics_endpoint.h"
#include "kimera/operation.h"
#include "kimera/plugin_config.h"
#include "kimera/rocksdb_store.h"

namespace prometheus {
class Collectable;
class Registry;
}  // namespace prometheus

namespace kimera {

class EntropyIndex;
class IndexParticipant;
class MetricsExposition;
class PluginMetrics;

// What `Check` found; `problems` lists at most kMaxListedProblems of them.
struct IndexCheckReport {
  static constexpr std::size_t kMaxListedProblems = 1000;
  std::uint64_t records = 0;
  std::uint64_t index_entries = 0;
  std::uint64_t problem_count = 0;
  std::uint64_t repaired = 0;
  std::vector<std::string> problems;
  bool ok() const { return problem_count == 0; }
};

namespace internal {
// Holds the registry in a base constructed before StoreWrapper, so it is
// destroyed after the wrapped stack, whose layers may hold metric handles
// in it until they stop.
struct RegistryHolder {
  std::shared_ptr<prometheus::Registry> registry_;
};
}  // namespace internal

class EntropyStore : private internal::RegistryHolder, public StoreWrapper {
 public:
  // Wraps `inner` (owned). Registers the metrics in `registry` when given,
  // else in a registry of its own (kept alive as long as the store, even with
  // metrics disabled, for the layers below that register in it), and serves /metrics when
  // config.metrics.enabled and config.metrics.serve. Builds the index from
  // the records when it is new, and replays pending intents.
  //
  // `records` (borrowed) is the RocksDbStore that holds the records below
  // `inner`, as the stack's factory knows it; when nullptr, the one `inner`
  // names (IdentityStore::record_engine), if any. Unless index.separate_path
  // is set, the index then shares its database and joins its writes as a
  // participant (and leaves when this store closes); otherwise, or without
  // one, the index lives at index.separate_path. A caller with background
  // writers below starts them only after Open (DualWriteStore::Start).
  static Status Open(std::unique_ptr<IdentityStore> inner, const PluginConfig& config,
                     std::unique_ptr<EntropyStore>* out,
                     std::shared_ptr<prometheus::Registry> registry = nullptr,
                     Clock clock = SystemNow, RocksDbStore* records = nullptr);
  ~EntropyStore() override;

  Status Store(const Identity& identity) override;
  // Timed once as store_many. The timestamp window is checked for every
  // identity first. With the index in the records' database, one atomic
  // batch below; with a separate index, one indexed write per identity.
  Status StoreMany(const std::vector<Identity>& identities, std::size_t* stored) override;
  Status Fetch(std::string_view id, Identity* out) override;
  Status FetchMany(const std::vector<std::string>& ids, std::vector<Identity>* out) override;
  Status Remove(std::string_view id) override;
  Status List(const ListQuery& query, std::vector<Identity>* out) override;
  // From the index counters: no scan.
  Status Count(std::optional<IdentityType> type, std::uint64_t* out) override;
  // A range scan of the index plus one batched read of the records.
  Status FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                       std::vector<Identity>* out) override;
  Status Scan(std::string_view start_after, const ScanVisitor& visit) override;
  Status ApplyDecay(std::string_view id, Micros now, const DecayParams& params) override;
  Status Sync() override;

  // Verifies the index against the records: every record indexed once at
  // its recomputed entropy, type and tau, no orphan entries, counters equal
  // to the counts. With `repair`, fixes each problem found. Meant for a
  // quiet store: writes running meanwhile may show as transient problems.
  Status Check(bool repair, IndexCheckReport* report);

  // The index entry of `id`: its by-id entry, or, when the index shares the
  // records' database, the ordered entry at the record's entropy. NotFound
  // when the id is not indexed.
  Status IndexEntryOf(std::string_view id, IndexEntry* out);

  // The record of `id` and its index entry as one state, though writes go
  // on: at one snapshot when the index shares the records' database (they
  // commit in one batch), else under the id's lock (which every write of the
  // id holds across its record and index update). Below the decorator: not
  // timed as a fetch. NotFound when the record is absent; `*indexed` false
  // when the index holds no entry for it (in a shared database, none at the
  // record's entropy).
  Status ReadIndexed(std::string_view id, Identity* record, IndexEntry* entry, bool* indexed);

  // Identities stored (of one type, or all), from the in-memory counts: no
  // I/O and, unlike Count, not recorded as an operation (for status lines).
  std::uint64_t StoredCount(std::optional<IdentityType> type = std::nullopt) const;

  // The q-quantile of the entropy of every identity stored now (exact to
  // within 0.0005 bits).
  double EntropyQuantile(double q) const;
  const EntropyIndex& index() const;
  // True when the index shares the records' database and batches.
  bool index_in_record_database() const { return shared_records() != nullptr; }
  // The records' store whose database and batches the index shares, or
  // nullptr when the index has a database of its own. For readers that need
  // records and index entries at one snapshot (decay sweep and verifier).
  RocksDbStore* shared_records() const;
  const PluginConfig& config() const { return config_; }
  // Where the decay and dual-write components register their metrics.
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // The text /metrics serves (whether or not the endpoint runs).
  std::string MetricsText() const;
  // The endpoint, or nullptr when metrics are not served.
  const MetricsEndpoint* endpoint() const;
  // Starts serving /metrics (when not already) with every collectable
  // registered so far.
  Status StartEndpoint();
  // Adds a scrape-time collectable to /metrics (decay, dual-write gauges).
  void AddCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  // Runs `call` and records its time as `op` in
  // kimera_storage_operations_duration_seconds (with its outcome), like the
  // store's own calls: for administration done beside the store (dual-write
  // verify, repair and stats).
  Status Timed(Operation op, const std::function<Status()>& call);

 private:
  class Collector;

  EntropyStore(std::unique_ptr<IdentityStore> inner, const PluginConfig& config, Clock clock);

  const PluginConfig config_;
  const Clock clock_;
  std::unique_ptr<IndexParticipant> indexer_;  // The index of the records below.
  std::atomic<double> last_check_seconds_{0};
  std::atomic<std::uint64_t> last_check_problems_{0};

  std::unique_ptr<PluginMetrics> metrics_;  // Null when metrics are disabled.

  // Registry, collector, layers' collectables and the endpoint. Null when
  // metrics are disabled. Last: scrapes stop before the rest goes.
  std::unique_ptr<MetricsExposition> exposition_;
};

// The one-line swap: wraps `inner` with the plugin. Throws
// std::runtime_error with the reason when it cannot (index database cannot
// be opened, metrics port in use): bad configuration at construction.
std::unique_ptr<EntropyStore> wrap(std::unique_ptr<IdentityStore> inner,
                                   const PluginConfig& config = {});

}  // namespace kimera

#endif  // KIMERA_ENTROPY_STORE_H_
