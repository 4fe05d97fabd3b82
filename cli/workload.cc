#include "workload.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace kimera_cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

enum class Kind {
  kNewGeoid,
  kRestore,
  kScar,
  kFetch,
  kFindByEntropy,
  kList,
  kCount,
  kScan,
  kRemove,
  kApplyDecay,
  kSync,
};

// Weights of the random mix, per mille (Sync runs on a schedule instead).
// List is rare: without an index on updated_at it reads every record, as
// an operator's occasional listing would; its cost grows with the store, so
// it is also held to kListShare of the workload's time (see NextKind).
constexpr std::array<std::pair<Kind, int>, 10> kMix = {{{Kind::kNewGeoid, 290},
                                                        {Kind::kRestore, 140},
                                                        {Kind::kScar, 100},
                                                        {Kind::kFetch, 248},
                                                        {Kind::kFindByEntropy, 100},
                                                        {Kind::kList, 2},
                                                        {Kind::kCount, 40},
                                                        {Kind::kScan, 20},
                                                        {Kind::kRemove, 30},
                                                        {Kind::kApplyDecay, 30}}};

// The stores of kMix, in the same proportions.
constexpr std::array<std::pair<Kind, int>, 3> kStoreMix = {
    {{Kind::kNewGeoid, 290}, {Kind::kRestore, 140}, {Kind::kScar, 100}}};

// Every kind once, so each shows on /metrics from the first seconds.
constexpr std::array<Kind, 13> kOpening = {
    Kind::kNewGeoid,   Kind::kNewGeoid, Kind::kNewGeoid,      Kind::kScar,  Kind::kRestore,
    Kind::kFetch,      Kind::kList,     Kind::kFindByEntropy, Kind::kCount, Kind::kScan,
    Kind::kApplyDecay, Kind::kRemove,   Kind::kSync};

constexpr std::uint64_t kSyncEvery = 1000;  // Operations between WAL flushes.
// At most this share of the workload's time goes to lists: after a list
// that took d, the next one waits (1 / kListShare - 1) * d. Without it a
// list per 500 operations made the workload fall ever further behind its
// rate as the store grew (at 2,000 op/s and 30,000 identities, lists took
// two thirds of the thread's time).
constexpr double kListShare = 0.05;
constexpr std::size_t kVocabularySize = 2000;
constexpr int kMaxTerms = 300;
constexpr std::size_t kGeoidSample = 10'000;
constexpr std::size_t kScarSample = 2'000;
constexpr std::size_t kStartupScanLimit = 200'000;  // Ids read at start to seed the samples.

// The workload's own identities: these id prefixes, and meta.source kSource.
constexpr const char* kGeoidPrefix = "wg-";
constexpr const char* kScarPrefix = "ws-";
constexpr const char* kSource = "workload";

bool HasPrefix(const std::string& id, std::string_view prefix) {
  return id.compare(0, prefix.size(), prefix) == 0;
}

bool IsOwn(const kimera::Identity& identity) {
  if (!HasPrefix(identity.id, kGeoidPrefix) && !HasPrefix(identity.id, kScarPrefix)) return false;
  const auto source = identity.meta.find("source");
  return source != identity.meta.end() && source->is_string() && *source == kSource;
}

constexpr std::array<const char*, 16> kSyllables = {"ka",   "to",  "ri",  "mu",  "sen", "lo",
                                                    "va",   "qui", "dra", "pel", "no",  "zu",
                                                    "ther", "an",  "is",  "om"};
constexpr std::array<const char*, 5> kLangAxes = {"en", "fr", "de", "es", "ja"};

// A bounded uniform sample of the ids seen (reservoir sampling, Algorithm R).
class Reservoir {
 public:
  explicit Reservoir(std::size_t capacity) : capacity_(capacity) {}

  void Offer(std::string id, std::mt19937_64& rng) {
    ++seen_;
    if (ids_.size() < capacity_) {
      ids_.push_back(std::move(id));
      return;
    }
    const std::uint64_t slot = std::uniform_int_distribution<std::uint64_t>(0, seen_ - 1)(rng);
    if (slot < capacity_) ids_[slot] = std::move(id);
  }

  // Index of a random id; false when empty.
  bool Pick(std::mt19937_64& rng, std::size_t* index) const {
    if (ids_.empty()) return false;
    *index = std::uniform_int_distribution<std::size_t>(0, ids_.size() - 1)(rng);
    return true;
  }

  const std::string& at(std::size_t index) const { return ids_[index]; }
  std::size_t size() const { return ids_.size(); }

  void Erase(std::size_t index) {
    ids_[index] = std::move(ids_.back());
    ids_.pop_back();
  }

 private:
  std::size_t capacity_;
  std::uint64_t seen_ = 0;
  std::vector<std::string> ids_;
};

double Uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

int UniformInt(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

std::string HexDigits(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

// Everything the operation thread owns: the random stream, the vocabulary and
// the samples of known ids. Used by that thread only.
class Workload::Generator {
 public:
  Generator(kimera::IdentityStore& store, const WorkloadOptions& options)
      : store_(store),
        options_(options),
        rng_(options.seed),
        run_tag_(HexDigits(static_cast<std::uint64_t>(kimera::SystemNow()))),
        geoids_(kGeoidSample),
        scars_(kScarSample) {
    vocabulary_.reserve(kVocabularySize);
    for (std::size_t i = 0; i < kVocabularySize; ++i) {
      vocabulary_.push_back(std::string(kSyllables[i % 16]) + kSyllables[(i / 16) % 16] +
                            kSyllables[(i / 256) % 16]);
    }
    // Word frequencies follow Zipf's law (s = 1.07) over the vocabulary.
    std::vector<double> weights(kVocabularySize);
    for (std::size_t rank = 0; rank < kVocabularySize; ++rank) {
      weights[rank] = 1.0 / std::pow(static_cast<double>(rank + 1), 1.07);
    }
    word_by_rank_ = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
    if (!options.ack_log_path.empty()) ack_log_ = std::fopen(options.ack_log_path.c_str(), "a");
  }

  ~Generator() {
    if (ack_log_ != nullptr) std::fclose(ack_log_);
  }

  bool ack_log_failed() const { return !options_.ack_log_path.empty() && ack_log_ == nullptr; }

  // Seeds the samples with the workload's own identities already stored
  // (its id prefixes, stored with meta.source "workload"), so a restarted
  // workload keeps working on what the previous run left. Identities it did
  // not create are never sampled, so never removed, re-stored or decayed.
  kimera::Status SampleExisting() {
    // One scan over the id range from the geoid prefix to the end of the scar
    // prefix ("wg-" < "ws-"); ids in between that are not the workload's are
    // skipped.
    const std::string_view last_prefix(kScarPrefix);
    std::size_t visited = 0;
    return store_.Scan(kGeoidPrefix, [&](const kimera::Identity& identity) {
      if (identity.id.compare(0, last_prefix.size(), last_prefix) > 0) return false;
      if (IsOwn(identity)) {
        (identity.identity_type == kimera::IdentityType::kScar ? scars_ : geoids_)
            .Offer(identity.id, rng_);
      }
      return ++visited < kStartupScanLimit;
    });
  }

  Kind NextKind(std::uint64_t sequence) {
    if (options_.mix == WorkloadMix::kStoresOnly) return Draw(kStoreMix);
    if (sequence < kOpening.size()) return kOpening[sequence];
    if (sequence % kSyncEvery == 0) return Kind::kSync;
    const Kind kind = Draw(kMix);
    if (kind == Kind::kList && SteadyClock::now() < next_list_) return Kind::kFetch;
    return kind;
  }

  // Runs one operation. `*write_acknowledged` tells whether it was a write
  // the store acknowledged; `*created` / `*removed` whether it added or
  // deleted an identity.
  kimera::Status Execute(Kind kind, bool* write_acknowledged, bool* created, bool* removed) {
    *write_acknowledged = *created = *removed = false;
    switch (kind) {
      case Kind::kNewGeoid:
        return NewGeoid(write_acknowledged, created);
      case Kind::kRestore:
        return Restore(write_acknowledged, created);
      case Kind::kScar:
        return NewScar(write_acknowledged, created);
      case Kind::kFetch:
        return Fetch();
      case Kind::kFindByEntropy:
        return FindByEntropy();
      case Kind::kList:
        return List();
      case Kind::kCount: {
        std::uint64_t count = 0;
        const int pick = UniformInt(rng_, 0, 2);
        std::optional<kimera::IdentityType> type;
        if (pick == 1) type = kimera::IdentityType::kGeoid;
        if (pick == 2) type = kimera::IdentityType::kScar;
        return store_.Count(type, &count);
      }
      case Kind::kScan:
        return Scan();
      case Kind::kRemove:
        return Remove(write_acknowledged, removed);
      case Kind::kApplyDecay:
        return ApplyDecay(write_acknowledged);
      case Kind::kSync:
        if (ack_log_ != nullptr) std::fflush(ack_log_);
        return store_.Sync();
    }
    return kimera::Status::OK();
  }

 private:
  template <std::size_t N>
  Kind Draw(const std::array<std::pair<Kind, int>, N>& mix) {
    int total = 0;
    for (const auto& entry : mix) total += entry.second;
    int roll = UniformInt(rng_, 0, total - 1);
    for (const auto& [kind, weight] : mix) {
      if (roll < weight) return kind;
      roll -= weight;
    }
    return mix.back().first;
  }

  void LogAck(char sign, const std::string& id) {
    if (ack_log_ != nullptr) std::fprintf(ack_log_, "%c%s\n", sign, id.c_str());
  }

  // Distinct words drawn by their Zipf frequency; uniform draws fill in when
  // the head of the distribution keeps repeating.
  std::vector<std::size_t> DrawWords(int n) {
    std::unordered_set<std::size_t> seen;
    std::vector<std::size_t> words;
    for (int attempts = 0; static_cast<int>(words.size()) < n && attempts < 4 * n; ++attempts) {
      const std::size_t w = word_by_rank_(rng_);
      if (seen.insert(w).second) words.push_back(w);
    }
    while (static_cast<int>(words.size()) < n) {
      const std::size_t w =
          std::uniform_int_distribution<std::size_t>(0, kVocabularySize - 1)(rng_);
      if (seen.insert(w).second) words.push_back(w);
    }
    return words;
  }

  // Terms whose intensities fall as 1 / rank^s, with s and the number of
  // terms varied per identity so the entropy spreads over 0..~8 bits.
  nlohmann::json MakeTerms() {
    const int n = std::clamp(
        static_cast<int>(std::exp(Uniform(rng_, 0, std::log(kMaxTerms + 1.0)))), 1, kMaxTerms);
    const double s = Uniform(rng_, 0.2, 2.5);
    const double scale = Uniform(rng_, 0.5, 10.0);
    nlohmann::json terms = nlohmann::json::array();
    int rank = 1;
    for (std::size_t w : DrawWords(n)) {
      const double intensity = scale / std::pow(rank++, s) * Uniform(rng_, 0.8, 1.2);
      terms.push_back({{"term", vocabulary_[w]}, {"intensity", intensity}});
    }
    return terms;
  }

  void Describe(kimera::Identity* identity) {
    const nlohmann::json& terms = identity->meta["terms"];
    std::string text;
    for (std::size_t i = 0; i < terms.size() && i < 8; ++i) {
      if (!text.empty()) text += ' ';
      text += terms[i]["term"].get<std::string>();
    }
    identity->raw = text;
    identity->echo = text;
  }

  kimera::Status NewGeoid(bool* acknowledged, bool* created) {
    kimera::Identity identity;
    identity.id = kGeoidPrefix + run_tag_ + "-" + std::to_string(next_id_++);
    identity.identity_type = kimera::IdentityType::kGeoid;
    identity.lang_axis = kLangAxes[UniformInt(rng_, 0, kLangAxes.size() - 1)];
    identity.weight = Uniform(rng_, 0.1, 2.0);
    identity.meta["terms"] = MakeTerms();
    identity.meta["source"] = kSource;
    for (int t = UniformInt(rng_, 0, 3); t > 0; --t) {
      identity.tags.push_back(vocabulary_[word_by_rank_(rng_)]);
    }
    Describe(&identity);
    kimera::Status s = store_.Store(identity);
    if (!s.ok()) return s;
    *acknowledged = *created = true;
    LogAck('+', identity.id);
    geoids_.Offer(identity.id, rng_);
    return s;
  }

  kimera::Status Restore(bool* acknowledged, bool* created) {
    std::size_t index = 0;
    if (!geoids_.Pick(rng_, &index)) return NewGeoid(acknowledged, created);
    const std::string id = geoids_.at(index);
    kimera::Identity identity;
    kimera::Status s = store_.Fetch(id, &identity);
    if (s.IsNotFound()) {
      geoids_.Erase(index);
      return kimera::Status::OK();
    }
    if (!s.ok()) return s;
    // Changed terms: some dropped, some rescaled, a few new ones.
    nlohmann::json terms = nlohmann::json::array();
    const nlohmann::json old = identity.meta.value("terms", nlohmann::json::array());
    for (const nlohmann::json& term : old) {
      if (Uniform(rng_, 0, 1) < 0.15) continue;
      nlohmann::json changed = term;
      if (changed.contains("intensity") && changed["intensity"].is_number() &&
          Uniform(rng_, 0, 1) < 0.5) {
        changed["intensity"] = changed["intensity"].get<double>() * Uniform(rng_, 0.3, 3.0);
      }
      terms.push_back(std::move(changed));
    }
    for (int add = UniformInt(rng_, 0, 10); add > 0 && terms.size() < kMaxTerms; --add) {
      terms.push_back(
          {{"term", vocabulary_[word_by_rank_(rng_)]}, {"intensity", Uniform(rng_, 0.05, 5.0)}});
    }
    identity.meta["terms"] = std::move(terms);
    identity.meta["revision"] = identity.meta.value("revision", 0) + 1;
    s = store_.Store(identity);
    if (!s.ok()) return s;
    *acknowledged = true;
    LogAck('+', identity.id);
    return s;
  }

  kimera::Status NewScar(bool* acknowledged, bool* created) {
    if (geoids_.size() < 2) return NewGeoid(acknowledged, created);
    const int wanted = std::min<int>(UniformInt(rng_, 2, 50), static_cast<int>(geoids_.size()));
    kimera::Identity identity;
    identity.id = kScarPrefix + run_tag_ + "-" + std::to_string(next_id_++);
    identity.identity_type = kimera::IdentityType::kScar;
    identity.weight = Uniform(rng_, 0.0, 2.0);
    std::unordered_set<std::size_t> chosen;
    while (static_cast<int>(chosen.size()) < wanted) {
      std::size_t index = 0;
      if (!geoids_.Pick(rng_, &index)) break;
      if (chosen.insert(index).second) identity.related_ids.push_back(geoids_.at(index));
    }
    identity.raw = "link of " + std::to_string(identity.related_ids.size()) + " geoids";
    identity.meta["source"] = kSource;
    kimera::Status s = store_.Store(identity);
    if (!s.ok()) return s;
    *acknowledged = *created = true;
    LogAck('+', identity.id);
    scars_.Offer(identity.id, rng_);
    return s;
  }

  // A known id of either type; false when none is known.
  bool PickAny(Reservoir** from, std::size_t* index) {
    const bool scar = scars_.size() > 0 && Uniform(rng_, 0, 1) < 0.2;
    *from = scar ? &scars_ : &geoids_;
    return (*from)->Pick(rng_, index);
  }

  kimera::Status Fetch() {
    if (Uniform(rng_, 0, 1) < 0.3) {
      std::vector<std::string> ids;
      for (int n = UniformInt(rng_, 5, 20); n > 0; --n) {
        std::size_t index = 0;
        if (geoids_.Pick(rng_, &index)) ids.push_back(geoids_.at(index));
      }
      ids.push_back("wg-absent-" + std::to_string(next_id_));
      std::vector<kimera::Identity> found;
      return store_.FetchMany(ids, &found);
    }
    Reservoir* from = nullptr;
    std::size_t index = 0;
    const std::string id = PickAny(&from, &index) ? from->at(index) : "wg-absent";
    kimera::Identity identity;
    kimera::Status s = store_.Fetch(id, &identity);
    return s.IsNotFound() ? kimera::Status::OK() : s;
  }

  kimera::Status FindByEntropy() {
    const double lo = Uniform(rng_, 0, 8);
    const double hi = lo + Uniform(rng_, 0.05, 1.5);
    const std::size_t limit = Uniform(rng_, 0, 1) < 0.9 ? 10 : 100;
    std::vector<kimera::Identity> found;
    return store_.FindByEntropy(lo, hi, limit, &found);
  }

  kimera::Status List() {
    const auto start = SteadyClock::now();
    kimera::ListQuery query;
    const int pick = UniformInt(rng_, 0, 3);
    if (pick == 1) query.identity_type = kimera::IdentityType::kGeoid;
    if (pick == 2) query.identity_type = kimera::IdentityType::kScar;
    if (pick == 3) query.lang_axis = kLangAxes[UniformInt(rng_, 0, kLangAxes.size() - 1)];
    query.limit = 20;
    std::vector<kimera::Identity> found;
    kimera::Status s = store_.List(query, &found);
    const auto took = SteadyClock::now() - start;
    next_list_ = start + std::chrono::duration_cast<SteadyClock::duration>(took / kListShare);
    return s;
  }

  kimera::Status Scan() {
    Reservoir* from = nullptr;
    std::size_t index = 0;
    const std::string start = PickAny(&from, &index) ? from->at(index) : "";
    int left = 20;
    return store_.Scan(start, [&left](const kimera::Identity&) { return --left > 0; });
  }

  kimera::Status Remove(bool* acknowledged, bool* removed) {
    Reservoir* from = nullptr;
    std::size_t index = 0;
    if (!PickAny(&from, &index)) return kimera::Status::OK();
    const std::string id = from->at(index);
    from->Erase(index);
    kimera::Status s = store_.Remove(id);
    if (s.IsNotFound()) return kimera::Status::OK();
    if (!s.ok()) return s;
    *acknowledged = *removed = true;
    LogAck('-', id);
    return s;
  }

  kimera::Status ApplyDecay(bool* acknowledged) {
    Reservoir* from = nullptr;
    std::size_t index = 0;
    if (!PickAny(&from, &index)) return kimera::Status::OK();
    const kimera::Micros now = kimera::SystemNow();
    kimera::Status s = store_.ApplyDecay(from->at(index), now, options_.decay);
    if (s.IsNotFound()) {
      from->Erase(index);
      return kimera::Status::OK();
    }
    if (s.IsInvalidArgument() && DecayedAfter(from->at(index), now)) {
      // A decay of everything ([decay] apply_interval_seconds) moved this id
      // past `now` after it was read: nothing left to apply, not an error.
      return kimera::Status::OK();
    }
    if (!s.ok()) return s;
    *acknowledged = true;
    return s;
  }

  bool DecayedAfter(const std::string& id, kimera::Micros now) {
    kimera::Identity current;
    if (!store_.Fetch(id, &current).ok()) return false;
    const kimera::Micros since =
        current.decay_applied_at != 0 ? current.decay_applied_at : current.created_at;
    return since > now;
  }

  kimera::IdentityStore& store_;
  const WorkloadOptions& options_;
  std::mt19937_64 rng_;
  const std::string run_tag_;  // Keeps ids of successive runs apart.
  std::uint64_t next_id_ = 0;
  std::vector<std::string> vocabulary_;
  std::discrete_distribution<std::size_t> word_by_rank_;
  Reservoir geoids_;
  Reservoir scars_;
  std::FILE* ack_log_ = nullptr;
  SteadyClock::time_point next_list_;  // No list before this (kListShare).
};

Workload::Workload(kimera::IdentityStore& store, const WorkloadOptions& options)
    : store_(store), options_(options) {}

Workload::~Workload() { Stop(); }

void Workload::Start() {
  if (options_.rate <= 0 || thread_.joinable()) {
    finished_.store(true, std::memory_order_release);
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void Workload::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_requested_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  finished_.store(true, std::memory_order_release);
}

WorkloadCounters Workload::counters() const {
  WorkloadCounters c;
  c.operations = operations_.load(std::memory_order_relaxed);
  c.errors = errors_.load(std::memory_order_relaxed);
  c.acknowledged = acknowledged_.load(std::memory_order_relaxed);
  c.created = created_.load(std::memory_order_relaxed);
  c.removed = removed_.load(std::memory_order_relaxed);
  return c;
}

std::string Workload::first_error() const {
  std::lock_guard<std::mutex> lock(error_mu_);
  return first_error_;
}

void Workload::Record(bool failed, const kimera::Status& s) {
  operations_.fetch_add(1, std::memory_order_relaxed);
  if (!failed) return;
  errors_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(error_mu_);
  if (first_error_.empty()) first_error_ = s.ToString();
}

void Workload::Run() {
  Generator generator(store_, options_);
  if (generator.ack_log_failed()) {
    std::lock_guard<std::mutex> lock(error_mu_);
    first_error_ = "cannot open acknowledgement log " + options_.ack_log_path;
  }
  if (kimera::Status s = generator.SampleExisting(); !s.ok()) Record(true, s);

  const auto period = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(1.0 / options_.rate));
  const auto start = SteadyClock::now();
  const auto deadline = options_.duration_seconds > 0
                            ? start + std::chrono::duration_cast<SteadyClock::duration>(
                                          std::chrono::duration<double>(options_.duration_seconds))
                            : SteadyClock::time_point::max();
  auto next = start;
  for (std::uint64_t sequence = 0;; ++sequence) {
    {
      std::unique_lock<std::mutex> lock(stop_mu_);
      if (stop_cv_.wait_until(lock, std::min(next, deadline), [this] { return stop_requested_; })) {
        break;
      }
    }
    const auto now = SteadyClock::now();
    if (now >= deadline) break;
    // A store that fell behind (a compaction stall) resumes at the rate
    // rather than bursting to catch up.
    next = now - next > std::chrono::seconds(1) ? now + period : next + period;

    bool acknowledged = false;
    bool created = false;
    bool removed = false;
    const kimera::Status s =
        generator.Execute(generator.NextKind(sequence), &acknowledged, &created, &removed);
    if (acknowledged) acknowledged_.fetch_add(1, std::memory_order_relaxed);
    if (created) created_.fetch_add(1, std::memory_order_relaxed);
    if (removed) removed_.fetch_add(1, std::memory_order_relaxed);
    Record(!s.ok(), s);
  }
  finished_.store(true, std::memory_order_release);
}

}  // namespace kimera_cli
