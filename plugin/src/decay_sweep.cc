#include "kimera/decay_sweep.h"

#include <prometheus/collectable.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <array>
#include <cstring>

#include "kimera/entropy_index.h"
#include "kimera/rocksdb_store.h"
#include "plugin_metrics.h"
#include "record_codec.h"

namespace kimera {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr double kHour = 3600, kDay = 86400;
constexpr std::size_t kBandCount = 6;
constexpr std::array<const char*, kBandCount> kBandNames = {"0-1d",   "1-7d",   "7-14d",
                                                            "14-30d", "30-90d", "90d+"};
constexpr std::array<double, kBandCount - 1> kBandUpperDays = {1, 7, 14, 30, 90};

std::size_t BandOf(double age_seconds) {
  std::size_t b = 0;
  while (b < kBandUpperDays.size() && age_seconds >= kBandUpperDays[b] * kDay) ++b;
  return b;
}

using BandTable = std::array<std::array<double, kBandCount>, kTypeLabelCount>;

}  // namespace

class DecaySweep::Metrics {
 public:
  explicit Metrics(prometheus::Registry& registry)
      : age_family_(prometheus::BuildHistogram()
                        .Name("kimera_identity_age_seconds")
                        .Help("Age now - created_at of each identity, observed once per decay "
                              "sweep, in seconds")
                        .Register(registry)),
        factor_family_(prometheus::BuildHistogram()
                           .Name("kimera_identity_decay_factor")
                           .Help("Decay factor exp(-age / tau_eff) of each identity since "
                                 "creation, observed once per decay sweep")
                           .Register(registry)),
        duration_family_(prometheus::BuildHistogram()
                             .Name("kimera_decay_sweep_duration_seconds")
                             .Help("Wall time of one decay sweep over the stored identities, "
                                   "without its verification, in seconds")
                             .Register(registry)),
        duration_(
            duration_family_.Add({}, prometheus::Histogram::BucketBoundaries{
                                         0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120})) {
    const prometheus::Histogram::BucketBoundaries age_buckets = {
        kHour,     6 * kHour, kDay,      3 * kDay,   7 * kDay,  14 * kDay,
        30 * kDay, 60 * kDay, 90 * kDay, 180 * kDay, 365 * kDay};
    const prometheus::Histogram::BucketBoundaries factor_buckets = {
        0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1};
    for (std::size_t t = 0; t < kTypeLabelCount; ++t) {
      age_[t] = &age_family_.Add({{"identity_type", TypeLabelName(t)}}, age_buckets);
      factor_[t] = &factor_family_.Add({{"identity_type", TypeLabelName(t)}}, factor_buckets);
    }
  }

  void Observe(IdentityType type, double age, double factor) {
    age_[TypeLabel(type)]->Observe(age);
    factor_[TypeLabel(type)]->Observe(factor);
  }
  void ObserveDuration(double seconds) { duration_.Observe(seconds); }

 private:
  prometheus::Family<prometheus::Histogram>& age_family_;
  prometheus::Family<prometheus::Histogram>& factor_family_;
  prometheus::Family<prometheus::Histogram>& duration_family_;
  prometheus::Histogram& duration_;
  std::array<prometheus::Histogram*, kTypeLabelCount> age_{};
  std::array<prometheus::Histogram*, kTypeLabelCount> factor_{};
};

// The age-band gauges, computed by each sweep and read at scrape time. Owns
// its values: the store keeps it registered after the sweep is gone.
class DecaySweep::BandGauges : public prometheus::Collectable {
 public:
  void Set(const BandTable& means) {
    std::lock_guard lock(mu_);
    means_ = means;
    has_values_ = true;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mu_);
    if (!has_values_) return {};
    prometheus::MetricFamily family;
    family.name = "kimera_decay_factor_by_age_band";
    family.help =
        "Mean decay factor exp(-age / tau_eff) per age band at the last decay sweep (0 when the "
        "band is empty)";
    family.type = prometheus::MetricType::Gauge;
    for (std::size_t t = 0; t < kTypeLabelCount; ++t) {
      for (std::size_t b = 0; b < kBandCount; ++b) {
        prometheus::ClientMetric metric;
        metric.label = {{"age_band", kBandNames[b]}, {"identity_type", TypeLabelName(t)}};
        metric.gauge.value = means_[t][b];
        family.metric.push_back(std::move(metric));
      }
    }
    return {std::move(family)};
  }

 private:
  mutable std::mutex mu_;  // Guards means_, has_values_.
  BandTable means_{};
  bool has_values_ = false;
};

DecaySweep::DecaySweep(EntropyStore& store, const DecaySweepOptions& options, Clock clock)
    : store_(store), options_(options), clock_(std::move(clock)) {}

DecaySweep::~DecaySweep() { Stop(); }

Status DecaySweep::Open(EntropyStore& store, const DecaySweepOptions& options,
                        std::unique_ptr<DecaySweep>* out, Clock clock) {
  std::unique_ptr<DecaySweep> sweep(new DecaySweep(store, options, std::move(clock)));
  // Only when the index shares the records' database can the sweep read
  // record headers directly (the index's database is then the store's).
  sweep->rocks_ = store.shared_records();
  DecayVerifierOptions verifier_options;
  verifier_options.sample_size = options.config.verification_sample;
  verifier_options.seed = options.verifier_seed;
  Status s = DecayVerifier::Open(store, verifier_options, &sweep->verifier_);
  if (!s.ok()) return s;
  if (store.registry()) {
    sweep->metrics_ = std::make_unique<Metrics>(*store.registry());
    sweep->bands_ = std::make_shared<BandGauges>();
    store.AddCollectable(sweep->bands_);
  }
  *out = std::move(sweep);
  return Status::OK();
}

Status DecaySweep::ReadCreatedAt(const std::vector<std::string>& ids,
                                 std::vector<Identity>* out) const {
  if (rocks_ == nullptr) {
    // Below the decorator: the sweep's batched reads are not host fetches
    // and must not skew the fetch latency histogram.
    return store_.target()->FetchMany(ids, out);
  }
  // The sweep needs created_at alone: the record codec's header decode checks
  // version and checksum but leaves the terms and meta, whose decoding was
  // nine tenths of a sweep's time. Verification decodes whole records.
  std::vector<std::optional<RecordHeader>> headers;
  Status s = rocks_->ReadHeaders(ids, &headers);  // Errors name the id.
  if (!s.ok()) return s;
  out->clear();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!headers[i]) continue;
    Identity identity;
    identity.id = ids[i];
    identity.identity_type = headers[i]->identity_type;
    identity.created_at = headers[i]->created_at;
    out->push_back(std::move(identity));
  }
  return Status::OK();
}

bool DecaySweep::Pause(std::chrono::duration<double> pause) {
  if (pause.count() <= 0) {
    std::this_thread::yield();
    return !stop_.load();
  }
  std::unique_lock lock(state_mu_);
  stop_cv_.wait_for(lock, pause, [this] { return stop_.load(); });
  return !stop_.load();
}

Status DecaySweep::RunOnce(Micros now, DecaySweepResult* result) {
  return Run(
      now, [now] { return now; }, result);
}

Status DecaySweep::RunNow(DecaySweepResult* result) { return Run(clock_(), clock_, result); }

Status DecaySweep::Run(Micros now, const Clock& verification_clock, DecaySweepResult* result) {
  std::lock_guard sweep_lock(sweep_mu_);
  const auto started = SteadyClock::now();
  DecaySweepResult r;
  BandTable sums{}, counts{};
  const std::size_t chunk_size = std::max<std::size_t>(1, options_.config.chunk_size);
  const double duty = options_.config.sweep_duty_cycle;
  std::string resume;
  std::vector<IndexEntry> entries;
  std::vector<std::string> ids;
  std::vector<Identity> records;
  for (;;) {
    const auto chunk_started = SteadyClock::now();
    entries.clear();
    std::string last_key;
    Status s =
        store_.index().ForEachOrdered(resume, [&](std::string_view key, const IndexEntry& e) {
          entries.push_back(e);
          if (entries.size() < chunk_size) return true;
          last_key.assign(key);
          return false;
        });
    if (!s.ok()) return s;
    if (entries.empty()) break;
    ++r.chunks;
    ids.clear();
    for (const IndexEntry& e : entries) ids.push_back(e.id);
    s = ReadCreatedAt(ids, &records);
    if (!s.ok()) return s;
    std::size_t i = 0;
    for (const Identity& record : records) {
      while (i < entries.size() && entries[i].id != record.id) ++i;
      if (i == entries.size()) break;
      const double age = static_cast<double>(now - record.created_at) / 1e6;
      // A negative age (created_at in the future) has no band and no
      // meaningful factor; verification reports it.
      if (age < 0) continue;
      const double factor = DecayFactor(age, entries[i].tau);
      ++r.identities;
      const std::size_t t = TypeLabel(record.identity_type);
      const std::size_t b = BandOf(age);
      sums[t][b] += factor;
      counts[t][b] += 1;
      if (metrics_) metrics_->Observe(record.identity_type, age, factor);
    }
    if (entries.size() < chunk_size) break;
    resume = std::move(last_key);
    if (duty < 1) {
      const auto work = std::chrono::duration<double>(SteadyClock::now() - chunk_started);
      if (!Pause(work * ((1 - duty) / std::max(duty, 0.01)))) {
        return Status::Aborted("decay sweep stopped");
      }
    } else if (!Pause(std::chrono::duration<double>(0))) {
      return Status::Aborted("decay sweep stopped");
    }
  }
  r.seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  if (metrics_) {
    for (std::size_t t = 0; t < kTypeLabelCount; ++t) {
      for (std::size_t b = 0; b < kBandCount; ++b) {
        sums[t][b] = counts[t][b] > 0 ? sums[t][b] / counts[t][b] : 0.0;
      }
    }
    bands_->Set(sums);
    metrics_->ObserveDuration(r.seconds);
  }
  if (options_.config.verification_sample > 0) {
    Status s = verifier_->Run(verification_clock, &r.verification);
    if (!s.ok()) return s;
    r.verified = true;
  }
  {
    std::lock_guard lock(state_mu_);
    last_ = r;
  }
  if (result) *result = std::move(r);
  return Status::OK();
}

DecaySweepResult DecaySweep::last_result() const {
  std::lock_guard lock(state_mu_);
  return last_;
}

void DecaySweep::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { Loop(); });
}

void DecaySweep::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(state_mu_);
    stop_.store(true);
  }
  stop_cv_.notify_all();
  thread_.join();
  stop_.store(false);
}

void DecaySweep::Loop() {
  using Seconds = std::chrono::duration<double>;
  const DecayConfig& c = options_.config;
  const auto sweep_every = Seconds(static_cast<double>(c.sweep_interval_seconds));
  const auto apply_every = Seconds(static_cast<double>(c.apply_interval_seconds));
  auto next_sweep = SteadyClock::now();
  auto next_apply =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(apply_every);
  const auto record_error = [this](const Status& s) {
    if (s.ok() || s.IsAborted()) return;
    std::lock_guard lock(state_mu_);
    last_.error = s.ToString();
  };
  while (!stop_.load()) {
    const bool sweeps = c.sweep_interval_seconds > 0, applies = c.apply_interval_seconds > 0;
    {
      std::unique_lock lock(state_mu_);
      const auto stopped = [this] { return stop_.load(); };
      if (!sweeps && !applies) {
        stop_cv_.wait(lock, stopped);
      } else {
        auto wake = sweeps ? next_sweep : next_apply;
        if (sweeps && applies) wake = std::min(next_sweep, next_apply);
        stop_cv_.wait_until(lock, wake, stopped);
      }
    }
    if (stop_.load()) break;
    const auto now = SteadyClock::now();
    if (applies && now >= next_apply) {
      DecayApplyResult applied;
      record_error(ApplyDecayAll(store_, *verifier_, clock_(), c.chunk_size, &applied, &stop_));
      next_apply = now + std::chrono::duration_cast<SteadyClock::duration>(apply_every);
    }
    if (sweeps && SteadyClock::now() >= next_sweep) {
      record_error(RunNow());
      next_sweep =
          SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(sweep_every);
    }
  }
}

}  // namespace kimera
