#include "kimera/decay_verifier.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "decay_ledger.h"
#include "kimera/entropy_index.h"
#include "kimera/memory_store.h"
#include "record_codec.h"

namespace kimera {
namespace {

constexpr std::array<const char*, kDecayCheckCount> kCheckNames = {
    "formula", "bounds", "order", "half_life", "semigroup", "correlation", "no_compounding"};
static_assert(std::ranges::none_of(kCheckNames, [](const char* n) { return n == nullptr; }) &&
                  static_cast<std::size_t>(DecayCheck::kNoCompounding) + 1 == kDecayCheckCount,
              "a name for every DecayCheck");

bool Close(double a, double b) {
  if (a == b) return true;
  return std::fabs(a - b) <= kDecayTolerance * std::max(std::fabs(a), std::fabs(b));
}

double RelativeError(double a, double b) {
  const double scale = std::max(std::fabs(a), std::fabs(b));
  return scale == 0 ? 0 : std::fabs(a - b) / scale;
}

// Numbers in failure messages carry every digit, so a reader can redo the
// arithmetic.
std::string AllDigits(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double Seconds(Micros micros) { return static_cast<double>(micros) / 1e6; }

Micros DecaySince(const Identity& identity) {
  return identity.decay_applied_at != 0 ? identity.decay_applied_at : identity.created_at;
}

// The term intensities ScaleWeights scales, in order.
std::vector<double> Intensities(const Identity& identity) {
  std::vector<double> out;
  const auto terms = identity.meta.find("terms");
  if (terms == identity.meta.end() || !terms->is_array()) return out;
  for (const auto& term : *terms) {
    if (!term.is_object()) continue;
    const auto x = term.find("intensity");
    if (x == term.end()) continue;
    if (const std::optional<double> value = IntensityValue(*x)) out.push_back(*value);
  }
  return out;
}

// Counts a failure of `check` and lists it while the report has room.
void Fail(DecayVerificationReport* report, DecayCheck check, const std::string& id,
          std::string detail) {
  ++report->failures_by_check[static_cast<std::size_t>(check)];
  if (report->failures.size() < DecayVerificationReport::kMaxListedFailures) {
    report->failures.push_back({check, id, std::move(detail)});
  }
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) return 0;
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace

const char* DecayCheckName(DecayCheck check) {
  return kCheckNames[static_cast<std::size_t>(check)];
}

std::string DecayCheckFailure::ToString() const {
  std::string s = DecayCheckName(check);
  if (!id.empty()) s += " id '" + DisplayId(id) + "'";
  return s + ": " + detail;
}

bool DecayVerificationReport::ok() const {
  return std::all_of(failures_by_check.begin(), failures_by_check.end(),
                     [](std::uint64_t n) { return n == 0; });
}

struct DecayVerifier::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : status_family(prometheus::BuildGauge()
                          .Name("kimera_decay_verification_status")
                          .Help("1 when every check of the last decay verification passed, else 0")
                          .Register(registry)),
        checks_family(prometheus::BuildCounter()
                          .Name("kimera_decay_verification_checks_total")
                          .Help("Decay verification checks run, by check and result (one per "
                                "check per run)")
                          .Register(registry)),
        last_run_family(prometheus::BuildGauge()
                            .Name("kimera_decay_verification_last_run_timestamp_seconds")
                            .Help("When the last decay verification finished, in Unix seconds")
                            .Register(registry)),
        correlation_family(prometheus::BuildGauge()
                               .Name("kimera_decay_age_correlation")
                               .Help("Pearson r of age / tau_eff against -ln(decay factor) over "
                                     "the last verification sample; 1 when decay follows the "
                                     "formula")
                               .Register(registry)),
        last_run(last_run_family.Add({})) {
    for (std::size_t c = 0; c < kDecayCheckCount; ++c) {
      checks[c][0] = &checks_family.Add({{"check", kCheckNames[c]}, {"result", "pass"}});
      checks[c][1] = &checks_family.Add({{"check", kCheckNames[c]}, {"result", "fail"}});
    }
  }

  prometheus::Family<prometheus::Gauge>& status_family;
  prometheus::Family<prometheus::Counter>& checks_family;
  prometheus::Family<prometheus::Gauge>& last_run_family;
  prometheus::Family<prometheus::Gauge>& correlation_family;
  prometheus::Gauge& last_run;
  // Both added by the first run, together, so that neither vanishes nor appears later than the
  // other: absent() alerts and dashboards see one state change, from "never verified" to
  // "verified".
  prometheus::Gauge* status = nullptr;
  prometheus::Gauge* correlation = nullptr;
  std::array<std::array<prometheus::Counter*, 2>, kDecayCheckCount> checks{};
};

struct DecayVerifier::Sampled {
  IndexEntry entry;
  Identity record;
  bool has_ledger = false;
  DecayLedgerEntry ledger;
};

DecayVerifier::DecayVerifier(EntropyStore& store, const DecayVerifierOptions& options)
    : store_(store),
      options_(options),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()) {}

DecayVerifier::~DecayVerifier() = default;

Status DecayVerifier::Open(EntropyStore& store, const DecayVerifierOptions& options,
                           std::unique_ptr<DecayVerifier>* out) {
  std::unique_ptr<DecayVerifier> verifier(new DecayVerifier(store, options));
  // Only when the index shares the records' database can one snapshot hold
  // records, index and ledger (the index's database is then the store's).
  verifier->rocks_ = store.shared_records();
  Status s = DecayLedger::Open(&store.index().database(), &verifier->ledger_);
  if (!s.ok()) return s;
  if (store.registry()) verifier->metrics_ = std::make_unique<Metrics>(*store.registry());
  *out = std::move(verifier);
  return Status::OK();
}

Status DecayVerifier::Sample(std::vector<IndexEntry>* entries, const rocksdb::Snapshot* snapshot) {
  entries->clear();
  const std::size_t n = options_.sample_size;
  if (n == 0) return Status::OK();
  // A random quantile of the entropy population puts the start anywhere in
  // rank order at the cost of one seek, where skipping a random count of
  // entries would read up to the whole index.
  double start_entropy = store_.EntropyQuantile(std::uniform_real_distribution<double>(0, 1)(rng_));
  if (!std::isfinite(start_entropy)) start_entropy = 0;
  const std::string start = EncodeIndexKey(start_entropy, {});
  const EntropyIndex& index = store_.index();
  Status s = index.ForEachOrdered(
      start,
      [&](std::string_view, const IndexEntry& e) {
        entries->push_back(e);
        return entries->size() < n;
      },
      snapshot);
  if (!s.ok() || entries->size() >= n) return s;
  return index.ForEachOrdered(
      {},
      [&](std::string_view key, const IndexEntry& e) {
        if (key >= start) return false;
        entries->push_back(e);
        return entries->size() < n;
      },
      snapshot);
}

Status DecayVerifier::Run(Micros now, DecayVerificationReport* report) {
  return Run([now] { return now; }, report);
}

Status DecayVerifier::Run(const Clock& clock, DecayVerificationReport* report) {
  std::lock_guard lock(run_mu_);
  const auto started = std::chrono::steady_clock::now();
  *report = DecayVerificationReport{};
  std::vector<Sampled> rows;
  Status s = rocks_ != nullptr ? ReadAtSnapshot(&rows, report) : ReadAndReconcile(&rows, report);
  if (!s.ok()) return s;
  // Read after the sample: a `now` read before it would make a record stored
  // in between look created in the future (a negative age).
  report->now = clock();
  report->verified = rows.size();
  Judge(report->now, rows, report);
  report->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  UpdateMetrics(*report);
  return Status::OK();
}

Status DecayVerifier::ReadAtSnapshot(std::vector<Sampled>* rows, DecayVerificationReport* report) {
  const auto snapshot = rocks_->TakeSnapshot();
  std::vector<IndexEntry> entries;
  Status s = Sample(&entries, snapshot->get());
  if (!s.ok()) return s;
  report->sampled = entries.size();
  std::vector<std::string> ids;
  ids.reserve(entries.size());
  for (const auto& e : entries) ids.push_back(e.id);
  std::vector<DecayLedgerEntry> ledger;
  std::vector<bool> found;
  s = ledger_->LookupMany(ids, &ledger, &found, snapshot->get());
  if (!s.ok()) return s;
  std::vector<std::optional<Identity>> records;
  s = rocks_->ReadMany(ids, snapshot.get(), &records);
  if (!s.ok()) return s;
  rows->clear();
  rows->reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!records[i]) {
      // Record and index entry commit in one batch: at one snapshot, an
      // entry without its record is the index's fault, not a race.
      Fail(report, DecayCheck::kFormula, entries[i].id,
           "index entry at entropy " + AllDigits(entries[i].entropy) + " has no record");
      continue;
    }
    rows->push_back(Sampled{std::move(entries[i]), std::move(*records[i]), found[i], ledger[i]});
  }
  return Status::OK();
}

Status DecayVerifier::ReadAndReconcile(std::vector<Sampled>* rows,
                                       DecayVerificationReport* report) {
  std::vector<IndexEntry> entries;
  Status s = Sample(&entries, nullptr);
  if (!s.ok()) return s;
  report->sampled = entries.size();
  std::vector<std::string> ids;
  ids.reserve(entries.size());
  for (const auto& e : entries) ids.push_back(e.id);
  // Read below the decorator: a verification's batched read is not a host
  // fetch and must not skew the fetch latency histogram.
  std::vector<Identity> records;
  s = store_.target()->FetchMany(ids, &records);
  if (!s.ok()) return s;
  std::vector<DecayLedgerEntry> ledger;
  std::vector<bool> found;
  s = ledger_->LookupMany(ids, &ledger, &found);
  if (!s.ok()) return s;

  const DecayParams& params = store_.config().entropy.decay;
  rows->clear();
  rows->reserve(records.size());
  std::size_t r = 0;
  for (std::size_t i = 0; i < entries.size() && r < records.size(); ++i) {
    if (records[r].id != entries[i].id) continue;  // Removed since the index was read.
    Sampled row{std::move(entries[i]), std::move(records[r++]), found[i], ledger[i]};
    const double entropy = Entropy(row.record);
    if (entropy != row.entry.entropy || EffectiveTau(entropy, params) != row.entry.tau) {
      // Index and record were read at different moments; a write in between
      // makes them disagree without anything being wrong. Judge the pair
      // read as one state instead; without an entry for the record the
      // stale one stays, and the formula check reports the disagreement.
      IndexEntry entry;
      bool indexed = false;
      s = store_.ReadIndexed(row.entry.id, &row.record, &entry, &indexed);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return s;
      if (indexed) row.entry = std::move(entry);
    }
    rows->push_back(std::move(row));
  }
  return Status::OK();
}

namespace {

// One sampled row as the checks see it: the index entry, its record, and
// what follows from them as of `now`.
struct Observation {
  const IndexEntry& entry;
  const Identity& record;
  Micros now;
  double age;      // Seconds since created_at.
  double entropy;  // Recomputed from the record.
  double tau;      // Recomputed from the record.
  double factor;   // The decay factor at `age` with the index's tau.
};

void CheckFormula(const Observation& o, DecayVerificationReport* report) {
  const IndexEntry& e = o.entry;
  if (!Close(o.entropy, e.entropy) || !Close(o.tau, e.tau)) {
    Fail(report, DecayCheck::kFormula, e.id,
         "index holds entropy " + AllDigits(e.entropy) + " tau " + AllDigits(e.tau) +
             ", the record gives entropy " + AllDigits(o.entropy) + " tau " + AllDigits(o.tau) +
             " (relative error " + AllDigits(RelativeError(o.tau, e.tau)) + ")");
    return;
  }
  const double expected = o.tau > 0 ? std::exp(-o.age / o.tau) : 0.0;
  if (!Close(o.factor, expected)) {
    Fail(report, DecayCheck::kFormula, e.id,
         "decay factor " + AllDigits(o.factor) + " at age " + AllDigits(o.age) +
             " s != exp(-age/tau) " + AllDigits(expected) + " with tau " + AllDigits(o.tau));
  }
}

void CheckBounds(const Observation& o, DecayVerificationReport* report) {
  const IndexEntry& e = o.entry;
  const double d = o.factor;
  if (o.age < 0) {
    Fail(report, DecayCheck::kBounds, e.id,
         "negative age " + AllDigits(o.age) + " s: created_at " +
             std::to_string(o.record.created_at) + " us is after now " + std::to_string(o.now) +
             " us (clock went backwards?)");
  } else if (!(d > 0 && d <= 1) && !(d == 0 && e.tau > 0)) {
    // d == 0 with a positive tau is exp(-age / tau) underflowing (an age
    // above ~745 tau, e.g. a created_at decades ago): the right value, and
    // failing it would fail every verification from then on.
    Fail(report, DecayCheck::kBounds, e.id,
         "decay factor " + AllDigits(d) + " outside (0, 1] at age " + AllDigits(o.age) +
             " s, tau " + AllDigits(e.tau));
  }
}

// d(age + tau / 3) = d(age) * d(tau / 3) with the index's tau.
void CheckSemigroupStep(const Observation& o, DecayVerificationReport* report) {
  const IndexEntry& e = o.entry;
  if (!(o.age >= 0 && e.tau > 0)) return;
  const double b = e.tau / 3;
  const double joint = DecayFactor(o.age + b, e.tau);
  const double product = DecayFactor(o.age, e.tau) * DecayFactor(b, e.tau);
  if (!Close(joint, product)) {
    Fail(report, DecayCheck::kSemigroup, e.id,
         "d(" + AllDigits(o.age) + " + " + AllDigits(b) + ") = " + AllDigits(joint) +
             " != d(a)*d(b) = " + AllDigits(product) + " with tau " + AllDigits(e.tau));
  }
}

// No-compounding proof (1): the store's step arithmetic on a scratch copy,
// decayed twice against once.
void CheckScenario(const Observation& o, const DecayParams& params,
                   DecayVerificationReport* report) {
  const Identity& rec = o.record;
  const Micros now = o.now;
  const Micros since = DecaySince(rec);
  const Clock fixed = [now] { return now; };
  MemoryStore twice(fixed), once(fixed);
  const Micros t1 = since + (now - since) / 3;
  Identity a, b;
  Status st = twice.Store(rec);
  if (st.ok()) st = once.Store(rec);
  if (st.ok()) st = twice.ApplyDecay(rec.id, t1, params);
  if (st.ok()) st = twice.ApplyDecay(rec.id, now, params);
  if (st.ok()) st = once.ApplyDecay(rec.id, now, params);
  if (st.ok()) st = twice.Fetch(rec.id, &a);
  if (st.ok()) st = once.Fetch(rec.id, &b);
  if (!st.ok()) {
    Fail(report, DecayCheck::kNoCompounding, o.entry.id, "scratch decay failed: " + st.ToString());
    return;
  }
  const double closed = rec.weight * DecayFactor(Seconds(now - since), o.tau);
  const auto xa = Intensities(a), xb = Intensities(b);
  bool same = xa.size() == xb.size();
  for (std::size_t k = 0; same && k < xa.size(); ++k) same = Close(xa[k], xb[k]);
  if (!Close(a.weight, b.weight) || !Close(b.weight, closed) || !same) {
    Fail(report, DecayCheck::kNoCompounding, o.entry.id,
         "decayed at " + std::to_string(t1) + " then " + std::to_string(now) + " us: weight " +
             AllDigits(a.weight) + "; once at " + std::to_string(now) +
             " us: " + AllDigits(b.weight) + "; w0*exp(-(t-since)/tau) = " + AllDigits(closed) +
             (same ? "" : "; term intensities differ"));
  }
}

// No-compounding proof (2): the stored weight against the ledger's chain.
void CheckLedger(const Observation& o, const DecayLedgerEntry& l, DecayVerificationReport* report) {
  const Identity& rec = o.record;
  if (!Close(rec.weight, l.weight)) {
    Fail(report, DecayCheck::kNoCompounding, o.entry.id,
         "stored weight " + AllDigits(rec.weight) + " != " + AllDigits(l.weight) +
             " left by the last decay application, with updated_at unchanged (" +
             std::to_string(rec.updated_at) +
             " us): multiplied again behind the store "
             "(ratio " +
             AllDigits(l.weight != 0 ? rec.weight / l.weight : 0) + ")");
  } else if (rec.identity_type == IdentityType::kGeoid) {
    const double expected =
        l.origin_weight * DecayFactor(Seconds(rec.decay_applied_at - l.origin_since), o.tau);
    if (!Close(rec.weight, expected)) {
      Fail(report, DecayCheck::kNoCompounding, o.entry.id,
           "weight " + AllDigits(rec.weight) + " != w0 " + AllDigits(l.origin_weight) +
               " * exp(-(" + std::to_string(rec.decay_applied_at) + " - " +
               std::to_string(l.origin_since) + ") us / tau " + AllDigits(o.tau) +
               ") = " + AllDigits(expected) + ": decay compounded");
    }
  }
}

// half_life, once per distinct tau.
void CheckHalfLives(const std::set<double>& taus, DecayVerificationReport* report) {
  for (double tau : taus) {
    const double half = DecayFactor(tau * std::log(2.0), tau);
    if (!(tau > 0) || !Close(half, 0.5)) {
      Fail(report, DecayCheck::kHalfLife, {},
           "d(tau ln 2) = " + AllDigits(half) + " != 0.5 for tau " + AllDigits(tau));
    }
  }
}

// Semigroup over a pair of equal entropy: decay over the sum of their ages
// is the product of their factors only when both carry one tau.
void CheckSemigroupPair(const Observation& x, const Observation& y, double entropy,
                        DecayVerificationReport* report) {
  const double joint = DecayFactor(x.age + y.age, x.entry.tau);
  const double product = x.factor * y.factor;
  if (!Close(joint, product)) {
    Fail(report, DecayCheck::kSemigroup, y.entry.id,
         "d(" + AllDigits(x.age) + " + " + AllDigits(y.age) + ") = " + AllDigits(joint) +
             " with tau " + AllDigits(x.entry.tau) + " != d(a)*d(b) = " + AllDigits(product) +
             " with the taus " + AllDigits(x.entry.tau) + " of '" + DisplayId(x.entry.id) +
             "' and " + AllDigits(y.entry.tau) + ", at equal entropy " + AllDigits(entropy));
  }
}

void CheckOrderPair(const Observation& older, const Observation& younger, double entropy,
                    DecayVerificationReport* report) {
  if (older.factor > younger.factor * (1 + kDecayTolerance)) {
    Fail(report, DecayCheck::kOrder, older.entry.id,
         "age " + AllDigits(older.age) + " s has decay factor " + AllDigits(older.factor) +
             " (tau " + AllDigits(older.entry.tau) + ") above younger id '" +
             DisplayId(younger.entry.id) + "' of age " + AllDigits(younger.age) + " s with " +
             AllDigits(younger.factor) + " (tau " + AllDigits(younger.entry.tau) +
             "), both at entropy " + AllDigits(entropy));
  }
}

// One group of equal entropy: `members` index `obs`, sorted here by age.
void CheckGroup(const std::vector<Observation>& obs, double entropy,
                std::vector<std::size_t>& members, DecayVerificationReport* report) {
  std::sort(members.begin(), members.end(),
            [&](std::size_t a, std::size_t b) { return obs[a].age < obs[b].age; });
  std::size_t youngest_min = members.size();  // Index (in members) of the running minimum.
  std::size_t j = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    // Fold in every strictly younger member before judging this one.
    for (; j < i && obs[members[j]].age < obs[members[i]].age; ++j) {
      if (youngest_min == members.size() ||
          obs[members[j]].factor < obs[members[youngest_min]].factor)
        youngest_min = j;
    }
    if (i > 0) CheckSemigroupPair(obs[members[i - 1]], obs[members[i]], entropy, report);
    if (youngest_min == members.size()) continue;
    CheckOrderPair(obs[members[i]], obs[members[youngest_min]], entropy, report);
  }
}

// order: within each entropy, sorted by age, no identity may have a larger
// factor than any strictly younger one.
void CheckOrder(const std::vector<Observation>& obs, DecayVerificationReport* report) {
  std::map<double, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < obs.size(); ++i) {
    if (obs[i].age >= 0) groups[obs[i].entry.entropy].push_back(i);
  }
  for (auto& [entropy, members] : groups) CheckGroup(obs, entropy, members, report);
}

// Points (age / tau, -ln d) whose Pearson r the correlation check judges.
struct CorrelationPoints {
  std::vector<double> xs, ys;

  void Add(const Observation& o) {
    if (o.age >= 0 && o.factor > 0 && o.tau > 0) {
      xs.push_back(o.age / o.tau);
      ys.push_back(-std::log(o.factor));
    }
  }
};

void CheckCorrelation(const CorrelationPoints& points, DecayVerificationReport* report) {
  const std::set<double> distinct(points.xs.begin(), points.xs.end());
  if (distinct.size() < 3) return;
  const double r = Pearson(points.xs, points.ys);
  report->correlation = r;
  if (!(r >= kMinAgeCorrelation)) {
    Fail(report, DecayCheck::kCorrelation, {},
         "Pearson r of age/tau against -ln d is " + AllDigits(r) + " < " +
             AllDigits(kMinAgeCorrelation) + " over " + std::to_string(points.xs.size()) +
             " identities");
  }
}

}  // namespace

void DecayVerifier::Judge(Micros now, const std::vector<Sampled>& rows,
                          DecayVerificationReport* report) {
  const DecayParams& params = store_.config().entropy.decay;
  std::vector<Observation> obs;
  obs.reserve(rows.size());
  CorrelationPoints points;
  std::set<double> taus;
  std::size_t scenarios = 0;
  for (const Sampled& row : rows) {
    const IndexEntry& e = row.entry;
    const Identity& rec = row.record;
    const double age = Seconds(now - rec.created_at);
    const double entropy = Entropy(rec);
    const Observation& o = obs.emplace_back(Observation{
        e, rec, now, age, entropy, EffectiveTau(entropy, params), DecayFactor(age, e.tau)});
    taus.insert(e.tau);
    CheckFormula(o, report);
    CheckBounds(o, report);
    CheckSemigroupStep(o, report);
    points.Add(o);
    if (rec.identity_type == IdentityType::kGeoid && now >= DecaySince(rec) &&
        scenarios < kMaxScenarios) {
      ++scenarios;
      CheckScenario(o, params, report);
    }
    // Judged only when the record's last write was the decay step the
    // ledger describes: a store at the same microsecond keeps updated_at.
    if (row.has_ledger && row.ledger.updated_at == rec.updated_at &&
        rec.decay_applied_at == rec.updated_at) {
      ++report->ledger_checked;
      CheckLedger(o, row.ledger, report);
    }
  }
  report->scenarios = scenarios;
  CheckHalfLives(taus, report);
  CheckOrder(obs, report);
  CheckCorrelation(points, report);
}

void DecayVerifier::UpdateMetrics(const DecayVerificationReport& report) {
  if (!metrics_) return;
  Metrics& m = *metrics_;
  for (std::size_t c = 0; c < kDecayCheckCount; ++c) {
    m.checks[c][report.failures_by_check[c] == 0 ? 0 : 1]->Increment();
  }
  if (m.status == nullptr) {
    m.status = &m.status_family.Add({});
    m.correlation = &m.correlation_family.Add({});
  }
  m.status->Set(report.ok() ? 1.0 : 0.0);
  // NaN, not the last computable value, when this run's sample had too few distinct ages: a
  // stale r would claim a check that did not run, and NaN compares false in every alert rule.
  m.correlation->Set(report.correlation.value_or(std::numeric_limits<double>::quiet_NaN()));
  m.last_run.Set(Seconds(SystemNow()));
}

}  // namespace kimera
