#include "kimera/entropy_store.h"

#include <prometheus/collectable.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rocksdb/db.h>

#include <chrono>
#include <stdexcept>

#include "entropy_change_tracker.h"
#include "entropy_population.h"
#include "index_participant.h"
#include "kimera/entropy_index.h"
#include "kimera/identity_json.h"
#include "kimera/metrics_endpoint.h"
#include "metrics_exposition.h"
#include "plugin_metrics.h"
#include "record_codec.h"
#include "rocksdb_database.h"

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
      population.summary.quantile.push_back({q, s.indexer_->population().Quantile(q)});
    }
    population.summary.sample_count = s.indexer_->population().size();
    population.summary.sample_sum = s.indexer_->population().Sum();
    quantiles.metric.push_back(std::move(population));
    out->push_back(std::move(quantiles));

    const std::uint64_t total = s.indexer_->population().size();
    const std::uint64_t low =
        s.indexer_->population().CountBelow(s.config_.entropy.low_entropy_below);
    const std::uint64_t below_high =
        s.indexer_->population().CountBelow(s.config_.entropy.high_entropy_from);
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
      const double n = t < 2 ? static_cast<double>(s.indexer_->counts()[t].load()) : 0.0;
      AddGauge(&active, n, {{"identity_type", TypeLabelName(t)}});
    }
    out->push_back(std::move(active));

    auto entries = GaugeFamily("kimera_entropy_index_entries", "Entries in the entropy index");
    AddGauge(&entries, static_cast<double>(s.indexer_->population().size()));
    out->push_back(std::move(entries));

    auto rate = GaugeFamily("kimera_entropy_change_rate",
                            "Entropy change of re-stored identities per second over the "
                            "configured window, in bits per second");
    const auto rates = s.indexer_->changes().Rates(s.clock_());
    for (std::size_t t = 0; t < kTypeLabelCount; ++t) {
      AddGauge(&rate, t < 2 ? rates[t] : 0.0, {{"identity_type", TypeLabelName(t)}});
    }
    for (const auto& d : s.indexer_->changes().Detailed()) {
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
    rocksdb::DB* db = store_->indexer_->index().database().db();
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
    : StoreWrapper(std::move(inner)), config_(config), clock_(std::move(clock)) {}

EntropyStore::~EntropyStore() {
  // Scrapes stop first: the collector reads the index's state. Then writes
  // below no longer reach the index.
  exposition_.reset();
  indexer_.reset();
}

Status EntropyStore::Open(std::unique_ptr<IdentityStore> inner, const PluginConfig& config,
                          std::unique_ptr<EntropyStore>* out,
                          std::shared_ptr<prometheus::Registry> registry, Clock clock,
                          RocksDbStore* records) {
  if (!inner) return Status::InvalidArgument("EntropyStore needs a store to wrap");
  if (records == nullptr) records = inner->record_engine();
  std::unique_ptr<EntropyStore> store(new EntropyStore(std::move(inner), config, std::move(clock)));
  store->registry_ = registry ? std::move(registry) : std::make_shared<prometheus::Registry>();
  Status s =
      IndexParticipant::Open(store->target(), records, config, store->clock_, &store->indexer_);
  if (!s.ok()) return s;
  if (config.metrics.enabled) {
    store->metrics_ = std::make_unique<PluginMetrics>(*store->registry_, config);
    store->indexer_->AttachMetrics(store->metrics_.get());
  }
  store->indexer_->Join();

  if (config.metrics.enabled) {
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

double EntropyStore::EntropyQuantile(double q) const { return indexer_->population().Quantile(q); }

const EntropyIndex& EntropyStore::index() const { return indexer_->index(); }

RocksDbStore* EntropyStore::shared_records() const { return indexer_->shared_records(); }

std::uint64_t EntropyStore::StoredCount(std::optional<IdentityType> type) const {
  return indexer_->StoredCount(type);
}

Status EntropyStore::IndexEntryOf(std::string_view id, IndexEntry* out) {
  return indexer_->IndexEntryOf(id, out);
}

Status EntropyStore::ReadIndexed(std::string_view id, Identity* record, IndexEntry* entry,
                                 bool* indexed) {
  return indexer_->ReadIndexed(id, record, entry, indexed);
}

Status EntropyStore::Store(const Identity& identity) {
  OperationTimer timer(metrics_.get(), Operation::kStore);
  // Refused like any other invalid input: observed, nothing written.
  Status s = CheckTimestamps(identity, clock_(), config_.entropy);
  if (s.ok()) s = indexer_->WriteBelow(identity.id, [&] { return target()->Store(identity); });
  return timer.Done(s, identity.identity_type);
}

Status EntropyStore::StoreMany(const std::vector<Identity>& identities, std::size_t* stored) {
  OperationTimer timer(metrics_.get(), Operation::kStoreMany);
  if (stored != nullptr) *stored = 0;
  // The window is this layer's own rule. With the index in the records'
  // database the store below checks the rest before writing any; written
  // one at a time, every identity is checked whole first.
  const Micros now = clock_();
  const bool checked_below = indexer_->shared_records() != nullptr;
  Status s = CheckStoreMany(identities, [&](const Identity& identity) {
    Status t = checked_below ? Status::OK() : CheckStorable(identity);
    return t.ok() ? CheckTimestamps(identity, now, config_.entropy) : t;
  });
  if (!s.ok()) return timer.Done(s);
  if (checked_below) return timer.Done(target()->StoreMany(identities, stored));
  for (std::size_t i = 0; i < identities.size(); ++i) {
    const Identity& identity = identities[i];
    s = indexer_->WriteBelow(identity.id, [&] { return target()->Store(identity); });
    if (!s.ok()) return timer.Done(AboutElement(i, s));
    if (stored != nullptr) *stored = i + 1;
  }
  return timer.Done(Status::OK());
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
  return timer.Done(indexer_->WriteBelow(id, [&] { return target()->Remove(id); }));
}

Status EntropyStore::List(const ListQuery& query, std::vector<Identity>* out) {
  OperationTimer timer(metrics_.get(), Operation::kList);
  return timer.Done(target()->List(query, out), query.identity_type);
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
  Status s = indexer_->index().Range(min_entropy, max_entropy, limit, &entries, &scanned);
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
  return timer.Done(
      indexer_->WriteBelow(id, [&] { return target()->ApplyDecay(id, now, params); }));
}

Status EntropyStore::Timed(Operation op, const std::function<Status()>& call) {
  OperationTimer timer(metrics_.get(), op);
  return timer.Done(call());
}

Status EntropyStore::Sync() {
  OperationTimer timer(metrics_.get(), Operation::kSync);
  Status s = target()->Sync();
  if (s.ok()) s = indexer_->SyncOwnDatabase();
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
