#include "kimera/entropy_store.h"

#include <prometheus/collectable.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rocksdb/db.h>

#include <chrono>
#include <stdexcept>

#include "kimera/entropy_change_tracker.h"
#include "kimera/entropy_index.h"
#include "kimera/entropy_population.h"
#include "kimera/identity_json.h"
#include "kimera/metrics_endpoint.h"
#include "kimera/metrics_exposition.h"
#include "kimera/plugin_metrics.h"
#include "kimera/record_codec.h"
#include "kimera/rocksdb_database.h"

namespace kimera {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Times one call from construction to Done, as RocksDB's StopWatch times an
// operation, and records it with its outcome: the one timing of every call.
class OperationTimer {
 public:
  OperationTimer(PluginMetrics* metrics, Operation op)
      : metrics_(metrics), op_(op), start_(SteadyClock::now()) {}

  // Records the call's time and outcome (`type` labels the counter when the
  // call was about one identity) and returns `s`.
  Status Done(Status s, std::optional<IdentityType> type = std::nullopt) const {
    if (metrics_ != nullptr) metrics_->ObserveOperation(op_, type, SecondsSince(start_), s);
    return s;
  }

 private:
  PluginMetrics* metrics_;  // Null when metrics are disabled.
  const Operation op_;
  const SteadyClock::time_point start_;
};

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void AddGauge(prometheus::MetricFamily* family, double value,
              std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family->metric.push_back(std::move(metric));
}

constexpr std::size_t kRebuildBatch = 1000;

// InvalidArgument naming the id and the field when `at` (not 0, which means
// "now") lies outside the configured window around `now`.
Status CheckTimestampWindow(const Identity& identity, const char* field, Micros at, Micros now,
                            const EntropyConfig& config) {
  constexpr Micros kMicros = 1'000'000;
  if (at == 0) return Status::OK();
  const Micros earliest = config.earliest_timestamp_seconds * kMicros;
  const Micros latest = now + config.max_future_seconds * kMicros;
  std::string what;
  if (at < earliest) {
    what = "is before " + FormatTimestamp(earliest) + " ([entropy] earliest_timestamp_seconds)";
  } else if (at > latest) {
    what = "is more than " + std::to_string(config.max_future_seconds) +
           " s in the future ([entropy] max_future_seconds; now " + FormatTimestamp(now) + ")";
  } else {
    return Status::OK();
  }
  return Status::InvalidArgument("identity '" + DisplayId(identity.id) + "': field '" + field +
                                 "' " + FormatTimestamp(at) + " " + what);
}

Status CheckTimestamps(const Identity& identity, Micros now, const EntropyConfig& config) {
  Status s = CheckTimestampWindow(identity, "created_at", identity.created_at, now, config);
  if (!s.ok()) return s;
  return CheckTimestampWindow(identity, "updated_at", identity.updated_at, now, config);
}

}  // namespace

// Scrape-time gauges: computed from the store's state when /metrics is read,
// so they cost nothing between scrapes.
class EntropyStore::Collector : public prometheus::Collectable {
 public:
  explicit Collector(const EntropyStore* store) : store_(store) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    AddPopulation(&out);
    AddCounts(&out);
    AddLastCheck(&out);
    AddRocksDb(&out);
    auto build = GaugeFamily("kimera_build_info", "Version of the kimera plugin; always 1");
    AddGauge(&build, 1.0, {{"version", KIMERA_VERSION}});
    out.push_back(std::move(build));
    return out;
  }

 private:
  // The entropy distribution: percentiles and categories.
  void AddPopulation(std::vector<prometheus::MetricFamily>* out) const {
    const EntropyStore& s = *store_;
    // A summary, not gauges: the "quantile" label is reserved for summaries
    // (promtool rejects it on a gauge); the quantile series read the same.
    prometheus::MetricFamily quantiles;
    quantiles.name = "kimera_stored_entropy_quantile";
    quantiles.help = "Exact percentiles of the entropy of every identity currently stored, in bits";
    quantiles.type = prometheus::MetricType::Summary;
    prometheus::ClientMetric population;
    for (double q : {0.5, 0.9, 0.99}) {
      population.summary.quantile.push_back({q, s.population_->Quantile(q)});
    }
    population.summary.sample_count = s.population_->size();
    population.summary.sample_sum = s.population_->Sum();
    quantiles.metric.push_back(std::move(population));
    out->push_back(std::move(quantiles));

    const std::uint64_t total = s.population_->size();
    const std::uint64_t low = s.population_->CountBelow(s.config_.entropy.low_entropy_below);
    const std::uint64_t below_high = s.population_->CountBelow(s.config_.entropy.high_entropy_from);
    auto categories = GaugeFamily("kimera_entropy_category_identities",
                                  "Identities stored per entropy category (thresholds configured)");
    AddGauge(&categories, static_cast<double>(low), {{"category", "low"}});
    AddGauge(&categories, static_cast<double>(below_high - std::min(low, below_high)),
             {{"category", "medium"}});
    AddGauge(&categories, static_cast<double>(total - std::min(total, below_high)),
             {{"category", "high"}});
    out->push_back(std::move(categories));
  }

  // Identities per type, index entries and the entropy change rate.
  void AddCounts(std::vector<prometheus::MetricFamily>* out) const {
    const EntropyStore& s = *store_;
    auto active = GaugeFamily("kimera_active_identities", "Identities stored, per identity type");
    for (std::size_t t = 0; t < kTypeLabelCount; ++t) {
      const double n = t < 2 ? static_cast<double>(s.counts_[t].load()) : 0.0;
      AddGauge(&active, n, {{"identity_type", TypeLabelName(t)}});
    }
    out->push_back(std::move(active));

    auto entries = GaugeFamily("kimera_entropy_index_entries", "Entries in the entropy index");
    AddGauge(&entries, static_cast<double>(s.population_->size()));
    out->push_back(std::move(entries));

    auto rate = GaugeFamily("kimera_entropy_change_rate",
                            "Entropy change of re-stored identities per second over the "
                            "configured window, in bits per second");
    const auto rates = s.changes_->Rates(s.clock_());
    for (std::size_t t = 0; t < kTypeLabelCount; ++t) {
      AddGauge(&rate, t < 2 ? rates[t] : 0.0, {{"identity_type", TypeLabelName(t)}});
    }
    for (const auto& d : s.changes_->Detailed()) {
      AddGauge(&rate, d.bits_per_second,
               {{"identity_id", d.id}, {"identity_type", IdentityTypeName(d.type)}});
    }
    out->push_back(std::move(rate));
  }

  // What the last index check took and found.
  void AddLastCheck(std::vector<prometheus::MetricFamily>* out) const {
    auto check_duration = GaugeFamily("kimera_entropy_index_check_duration_seconds",
                                      "Duration of the last index check, in seconds");
    AddGauge(&check_duration, store_->last_check_seconds_.load());
    out->push_back(std::move(check_duration));
    auto inconsistencies = GaugeFamily("kimera_entropy_index_inconsistencies",
                                       "Problems found by the last index check");
    AddGauge(&inconsistencies, static_cast<double>(store_->last_check_problems_.load()));
    out->push_back(std::move(inconsistencies));
  }

  // Properties of the database holding the index.
  void AddRocksDb(std::vector<prometheus::MetricFamily>* out) const {
    rocksdb::DB* db = store_->index_->database().db();
    const auto property = [db](const std::string& name) {
      std::uint64_t v = 0;
      return db->GetAggregatedIntProperty(name, &v) ? static_cast<double>(v) : 0.0;
    };
    const std::pair<const char*, const char*> rocks_gauges[] = {
        {"kimera_rocksdb_estimated_keys", "rocksdb.estimate-num-keys"},
        {"kimera_rocksdb_live_sst_bytes", "rocksdb.live-sst-files-size"},
        {"kimera_rocksdb_block_cache_usage_bytes", "rocksdb.block-cache-usage"},
        {"kimera_rocksdb_pending_compaction_bytes", "rocksdb.estimate-pending-compaction-bytes"},
    };
    for (const auto& [metric, prop] : rocks_gauges) {
      auto family = GaugeFamily(
          metric, std::string("RocksDB property ") + prop + " of the database holding the index");
      AddGauge(&family, property(prop));
      out->push_back(std::move(family));
    }
    auto stalled = GaugeFamily("kimera_rocksdb_write_stalled",
                               "1 when RocksDB stops or delays writes, else 0");
    AddGauge(&stalled, property("rocksdb.is-write-stopped") > 0 ||
                               property("rocksdb.actual-delayed-write-rate") > 0
                           ? 1.0
                           : 0.0);
    out->push_back(std::move(stalled));
  }

 private:
  const EntropyStore* store_;
};

EntropyStore::EntropyStore(std::unique_ptr<IdentityStore> inner, const PluginConfig& config,
                           Clock clock)
    : StoreWrapper(std::move(inner)),
      config_(config),
      clock_(std::move(clock)),
      population_(std::make_unique<EntropyPopulation>()),
      changes_(std::make_unique<EntropyChangeTracker>(config.entropy.change_rate_window_seconds,
                                                      config.metrics.detailed)) {}

double EntropyStore::EntropyQuantile(double q) const { return population_->Quantile(q); }

EntropyStore::~EntropyStore() {
  // Writes of the records' store no longer reach this index.
  if (rocks_ != nullptr && registered_) rocks_->RemoveParticipant(this);
  // Stop scrapes before the state they read goes away.
  exposition_.reset();
}

Status EntropyStore::Open(std::unique_ptr<IdentityStore> inner, const PluginConfig& config,
                          std::unique_ptr<EntropyStore>* out,
                          std::shared_ptr<prometheus::Registry> registry, Clock clock,
                          RocksDbStore* records) {
  if (!inner) return Status::InvalidArgument("EntropyStore needs a store to wrap");
  if (records == nullptr) records = inner->record_engine();
  std::unique_ptr<EntropyStore> store(new EntropyStore(std::move(inner), config, std::move(clock)));
  store->registry_ = registry ? std::move(registry) : std::make_shared<prometheus::Registry>();
  if (config.index.separate_path.empty()) store->rocks_ = records;
  RocksDbDatabase* database = nullptr;
  if (store->rocks_ != nullptr) {
    database = &store->rocks_->database();
  } else {
    if (config.index.separate_path.empty()) {
      return Status::InvalidArgument(
          "the wrapped store is not a RocksDbStore: set index.separate_path to a folder for "
          "the entropy index");
    }
    // The index database is opened as the records' one was: read-only,
    // salvaging, or neither.
    RocksDbOptions index_options;
    if (const RocksDbStore* below = records) {
      index_options.read_only = below->database().read_only();
      index_options.salvage = below->database().salvage();
    }
    Status s =
        RocksDbDatabase::Open(config.index.separate_path, index_options, &store->own_index_db_);
    if (!s.ok()) return s;
    database = store->own_index_db_.get();
  }
  if (database->read_only() && !database->HasColumnFamily(kEntropyIndexColumnFamily)) {
    return Status::NotFound("the database " + database->path() +
                            " has no entropy index yet, and a read-only open cannot build it; "
                            "open it once with a command that writes (kimera check --repair)");
  }
  bool created = false;
  Status s = EntropyIndex::Open(database, /*keeps_by_id=*/store->rocks_ == nullptr, &store->index_,
                                &created);
  if (!s.ok()) return s;
  if (created) {
    s = store->Rebuild();
  } else if (store->rocks_ == nullptr && !database->read_only()) {
    std::vector<std::string> intents;
    s = store->index_->PendingIntents(&intents);
    for (std::size_t i = 0; s.ok() && i < intents.size(); ++i) s = store->Reconcile(intents[i]);
    if (s.ok()) s = store->LoadState();
  } else {
    s = store->LoadState();
  }
  if (!s.ok()) return s;
  if (store->rocks_ != nullptr) {
    store->rocks_->AddParticipant(store.get());
    store->registered_ = true;
  }

  if (config.metrics.enabled) {
    store->metrics_ = std::make_unique<PluginMetrics>(*store->registry_, config);
    store->exposition_ = std::make_unique<MetricsExposition>(
        config.metrics, store->registry_, std::make_shared<Collector>(store.get()));
    if (config.metrics.serve) {
      s = store->StartEndpoint();
      if (!s.ok()) return s;
    }
  }
  *out = std::move(store);
  return Status::OK();
}

Status EntropyStore::StartEndpoint() { return exposition_ ? exposition_->Start() : Status::OK(); }

void EntropyStore::AddCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  if (exposition_) exposition_->Add(std::move(collectable));
}

std::string EntropyStore::MetricsText() const { return exposition_ ? exposition_->Text() : ""; }

const MetricsEndpoint* EntropyStore::endpoint() const {
  return exposition_ ? exposition_->endpoint() : nullptr;
}

IndexEntry EntropyStore::EntryOf(const Identity& identity) const {
  IndexEntry e;
  e.id = identity.id;
  e.entropy = Entropy(identity);
  e.identity_type = identity.identity_type;
  e.tau = EffectiveTau(e.entropy, config_.entropy.decay);
  return e;
}

Status EntropyStore::Participate(RecordWrite& write) {
  IndexEntry before, after;
  if (write.before()) before = EntryOf(*write.before());
  if (write.after()) after = EntryOf(*write.after());
  const IndexEntry* was = write.before() ? &before : nullptr;
  const IndexEntry* is = write.after() ? &after : nullptr;
  index_->AddChanges(write.id(), was, is, write.batch());
  Status s = write.Continue();
  if (!s.ok()) return s;
  Apply(write.id(), was, is, write.before() && write.after() ? write.before()->updated_at : 0);
  return Status::OK();
}

void EntropyStore::Apply(std::string_view id, const IndexEntry* before, const IndexEntry* after,
                         Micros previous_update) {
  if (before) {
    population_->Remove(before->entropy);
    counts_[static_cast<std::size_t>(before->identity_type)].fetch_sub(1);
  }
  if (after) {
    population_->Add(after->entropy);
    counts_[static_cast<std::size_t>(after->identity_type)].fetch_add(1);
  }
  if (before && after) {
    changes_->Record(id, after->identity_type, before->entropy, after->entropy, clock_(),
                     previous_update);
  }
  if (!metrics_) return;
  metrics_->ObserveIndexUpdate(before != nullptr, after != nullptr);
  if (after) {
    metrics_->ObserveStore(after->identity_type, after->entropy, after->tau,
                           before ? std::optional<double>(before->entropy) : std::nullopt);
  } else if (before) {
    metrics_->ObserveRemove(before->identity_type, before->entropy);
  }
}

Status EntropyStore::WriteIntent(std::string_view id) {
  rocksdb::WriteBatch batch;
  index_->AddIntent(id, &batch);
  return index_->database().Write(&batch);
}

Status EntropyStore::Reconcile(std::string_view id) {
  Identity record;
  Status s = target()->Fetch(id, &record);
  if (!s.ok() && !s.IsNotFound()) return s;
  const bool has_after = s.ok();
  IndexEntry after = has_after ? EntryOf(record) : IndexEntry{};
  IndexEntry before;
  s = index_->Lookup(id, &before);
  if (!s.ok() && !s.IsNotFound()) return s;
  const bool has_before = s.ok();
  rocksdb::WriteBatch batch;
  index_->AddChanges(id, has_before ? &before : nullptr, has_after ? &after : nullptr, &batch);
  index_->ClearIntent(id, &batch);
  s = index_->database().Write(&batch);
  if (!s.ok()) return s;
  if (has_before && has_after && before.entropy == after.entropy &&
      before.identity_type == after.identity_type && before.tau == after.tau) {
    return Status::OK();
  }
  Apply(id, has_before ? &before : nullptr, has_after ? &after : nullptr,
        has_after ? record.updated_at : 0);
  return Status::OK();
}

Status EntropyStore::LoadState() {
  std::array<std::int64_t, 2> counts{};
  population_->Clear();
  Status s = index_->ForEachOrdered({}, [&](std::string_view, const IndexEntry& e) {
    population_->Add(e.entropy);
    ++counts[static_cast<std::size_t>(e.identity_type)];
    return true;
  });
  for (std::size_t t = 0; t < 2; ++t) counts_[t].store(counts[t]);
  return s;
}

Status EntropyStore::IndexEntryOf(std::string_view id, IndexEntry* out) {
  if (index_->keeps_by_id()) return index_->Lookup(id, out);
  Identity record;
  Status s = target()->Fetch(id, &record);
  if (!s.ok()) return s;
  return index_->LookupOrdered(Entropy(record), id, out);
}

Status EntropyStore::ReadIndexed(std::string_view id, Identity* record, IndexEntry* entry,
                                 bool* indexed) {
  *indexed = false;
  Status s;
  if (rocks_ != nullptr) {
    rocksdb::DB* db = rocks_->database().db();
    rocksdb::ManagedSnapshot snapshot(db);
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot.snapshot();
    rocksdb::PinnableSlice value;
    const rocksdb::Status rs = db->Get(ro, rocks_->identities(), id, &value);
    if (rs.IsNotFound()) return Status::NotFound("identity '" + DisplayId(id) + "' not found");
    if (!rs.ok()) return RocksDbDatabase::FromRocks(rs, "reading '" + DisplayId(id) + "'");
    s = DecodeRecord(id, value.ToStringView(), record);
    if (s.ok()) s = index_->LookupOrdered(Entropy(*record), id, entry, snapshot.snapshot());
  } else {
    std::lock_guard lock(locks_.For(id));
    s = target()->Fetch(id, record);
    if (!s.ok()) return s;
    s = index_->Lookup(id, entry);
  }
  if (s.IsNotFound()) return Status::OK();
  *indexed = s.ok();
  return s;
}

Status EntropyStore::Rebuild() {
  Status s = index_->Clear();
  if (!s.ok()) return s;
  rocksdb::WriteBatch batch;
  Status write_status;
  s = target()->Scan({}, [&](const Identity& identity) {
    IndexEntry e = EntryOf(identity);
    index_->AddChanges(identity.id, nullptr, &e, &batch);
    if (batch.Count() >= kRebuildBatch) {
      write_status = index_->database().Write(&batch);
      batch.Clear();
    }
    return write_status.ok();
  });
  if (!write_status.ok()) return write_status;
  if (!s.ok()) return s;
  s = index_->database().Write(&batch);
  if (!s.ok()) return s;
  return LoadState();
}

template <typename Write>
Status EntropyStore::WriteBelow(std::string_view id, Write&& write) {
  if (rocks_ != nullptr) return write();  // The index joins the record's batch.
  std::lock_guard lock(locks_.For(id));
  Status s = WriteIntent(id);
  if (!s.ok()) return s;
  s = write();
  // Reconciled whether or not the write went through: the record decides.
  Status r = Reconcile(id);
  return s.ok() ? r : s;
}

Status EntropyStore::Store(const Identity& identity) {
  OperationTimer timer(metrics_.get(), Operation::kStore);
  // Refused like any other invalid input: observed, nothing written.
  Status s = CheckTimestamps(identity, clock_(), config_.entropy);
  if (s.ok()) s = WriteBelow(identity.id, [&] { return target()->Store(identity); });
  return timer.Done(s, identity.identity_type);
}

Status EntropyStore::Fetch(std::string_view id, Identity* out) {
  OperationTimer timer(metrics_.get(), Operation::kFetch);
  Status s = target()->Fetch(id, out);
  return timer.Done(s, s.ok() ? std::optional(out->identity_type) : std::nullopt);
}

Status EntropyStore::FetchMany(const std::vector<std::string>& ids, std::vector<Identity>* out) {
  OperationTimer timer(metrics_.get(), Operation::kFetch);
  return timer.Done(target()->FetchMany(ids, out));
}

Status EntropyStore::Remove(std::string_view id) {
  OperationTimer timer(metrics_.get(), Operation::kRemove);
  return timer.Done(WriteBelow(id, [&] { return target()->Remove(id); }));
}

Status EntropyStore::List(const ListQuery& query, std::vector<Identity>* out) {
  OperationTimer timer(metrics_.get(), Operation::kList);
  return timer.Done(target()->List(query, out), query.identity_type);
}

std::uint64_t EntropyStore::StoredCount(std::optional<IdentityType> type) const {
  const std::int64_t n = type ? counts_[static_cast<std::size_t>(*type)].load()
                              : counts_[0].load() + counts_[1].load();
  return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

Status EntropyStore::Count(std::optional<IdentityType> type, std::uint64_t* out) {
  OperationTimer timer(metrics_.get(), Operation::kCount);
  *out = StoredCount(type);
  return timer.Done(Status::OK(), type);
}

Status EntropyStore::FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                                   std::vector<Identity>* out) {
  OperationTimer timer(metrics_.get(), Operation::kFindByEntropy);
  std::vector<IndexEntry> entries;
  std::size_t scanned = 0;
  Status s = index_->Range(min_entropy, max_entropy, limit, &entries, &scanned);
  if (s.ok()) {
    std::vector<std::string> ids;
    ids.reserve(entries.size());
    for (auto& e : entries) ids.push_back(std::move(e.id));
    s = target()->FetchMany(ids, out);
  }
  if (metrics_ && s.ok()) metrics_->ObserveQuery(out->size(), scanned);
  return timer.Done(s);
}

Status EntropyStore::Scan(std::string_view start_after, const ScanVisitor& visit) {
  OperationTimer timer(metrics_.get(), Operation::kScan);
  return timer.Done(target()->Scan(start_after, visit));
}

Status EntropyStore::ApplyDecay(std::string_view id, Micros now, const DecayParams& params) {
  OperationTimer timer(metrics_.get(), Operation::kApplyDecay);
  return timer.Done(WriteBelow(id, [&] { return target()->ApplyDecay(id, now, params); }));
}

Status EntropyStore::Timed(Operation op, const std::function<Status()>& call) {
  OperationTimer timer(metrics_.get(), op);
  return timer.Done(call());
}

Status EntropyStore::Sync() {
  OperationTimer timer(metrics_.get(), Operation::kSync);
  Status s = target()->Sync();
  if (s.ok() && own_index_db_) s = own_index_db_->SyncWal();
  return timer.Done(s);
}

std::unique_ptr<EntropyStore> wrap(std::unique_ptr<IdentityStore> inner,
                                   const PluginConfig& config) {
  std::unique_ptr<EntropyStore> store;
  Status s = EntropyStore::Open(std::move(inner), config, &store);
  if (!s.ok()) throw std::runtime_error("cannot wrap the store: " + s.ToString());
  return store;
}

}  // namespace kimera
