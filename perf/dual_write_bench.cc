// The cost of dual-write, measured side by side in one run.
//
// Stores the same ~250-byte identities (geoids with Zipf-weighted terms, one
// in five a scar) into three configured stacks (OpenConfiguredStore: the
// EntropyStore plugin over a RocksDbStore) that differ only in [dual_write]:
// off, on with the legacy column families of the same database, and on with
// a second database (legacy format). Interleaved chunks, rotating which goes
// first, so that drift of the machine hits all three alike. Then times a full
// sweep (ids verified per second) of each dual-write stack. Last, untimed, it
// plants differences behind each secondary's back (changed fields, deleted
// records, extra records) and requires a sweep to find exactly those, so that
// "no difference on equal sides" cannot pass with a verifier that never
// reports one.
//
// Then the same identities again into three fresh stacks through StoreMany,
// 100 per call, where a second database takes one write per call (and the
// primary two) instead of one per identity (and two).
//
// Also printed, to explain the cost: the legacy row encoding and the record
// encoding timed alone, and the keys in one write batch of each stack.
//
// Usage: dual_write_bench [--count N] [--quick]   (default 1,000,000; --quick 100,000)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench_support.h"
#include "kimera/dual_write_store.h"
#include "kimera/entropy_store.h"
#include "kimera/identity.h"
#include "kimera/rocksdb_store.h"
#include "kimera/secondary_store.h"
#include "kimera/store_factory.h"
#include "legacy_format.h"
#include "record_codec.h"

namespace {

using bench::Clock;
using bench::Fixed;
using bench::Generate;
using bench::Numbered;
using bench::Require;
using bench::Seconds;
using bench::Target;
using bench::TempDir;

// Counts the keys of every record batch; registered after the other
// participants, so it sees everything they added.
class BatchKeyCounter : public kimera::WriteParticipant {
 public:
  kimera::Status Prepare(kimera::RecordWrite& write) override {
    keys_ += static_cast<std::uint64_t>(write.batch()->Count());
    ++batches_;
    return kimera::Status::OK();
  }
  void Committed(kimera::RecordWrite&) override {}
  double per_batch() const {
    return batches_ == 0 ? 0.0 : static_cast<double>(keys_) / static_cast<double>(batches_);
  }

 private:
  std::uint64_t keys_ = 0;
  std::uint64_t batches_ = 0;
};

// The configured stack at `dir`: dual-write off, or on with `secondary`
// ("legacy" or a folder).
kimera::ConfiguredStore OpenStack(const std::filesystem::path& dir, const std::string& secondary,
                                  BatchKeyCounter* counter) {
  kimera::KimeraConfig config;
  config.db_path = dir.string();
  config.plugin.metrics.serve = false;
  if (!secondary.empty()) {
    config.dual_write.enabled = true;
    config.dual_write.secondary = secondary;
  }
  kimera::ConfiguredStore stack;
  Require(kimera::OpenConfiguredStore(config, /*serve_metrics=*/false, &stack), "open");
  // Joins last, after the stack's own participants, to count what they added.
  stack.store->shared_records()->AddParticipant(counter);
  return stack;
}

// Changes `n` records of `store`'s secondary through the SecondaryStore API,
// as a bug or an operator would, spread over the ids and four kinds: a
// changed field, a changed weight, a deleted record and a record only in the
// secondary. Returns the ids that now differ.
std::set<std::string> PlantDifferences(kimera::ConfiguredStore& stack,
                                       const std::vector<kimera::Identity>& identities,
                                       std::size_t n) {
  kimera::SecondaryStore& secondary = stack.dual_write->store()->secondary();
  std::set<std::string> planted;
  for (std::size_t k = 0; k < n; ++k) {
    const std::string& id = identities[k * identities.size() / n].id;
    kimera::Identity row;
    switch (k % 4) {
      case 0:  // A field the legacy row keeps, for geoids and scars alike.
        Require(secondary.Get(id, &row), "get");
        if (row.identity_type == kimera::IdentityType::kScar) {
          row.related_ids.push_back("geoid_planted");
        } else {
          row.lang_axis = row.lang_axis == "fr" ? "de" : "fr";
        }
        Require(secondary.Put(row), "plant changed field");
        planted.insert(id);
        break;
      case 1:
        Require(secondary.Get(id, &row), "get");
        row.weight += 0.25;
        Require(secondary.Put(row), "plant changed weight");
        planted.insert(id);
        break;
      case 2:
        Require(secondary.Delete(id), "plant missing record");
        planted.insert(id);
        break;
      case 3:
        row = identities[k * identities.size() / n];
        row.id += "_planted";
        Require(secondary.Put(row), "plant extra record");
        planted.insert(row.id);
        break;
    }
  }
  return planted;
}

void Row(const char* what, const std::string& value, const char* unit, const std::string& ratio) {
  std::printf("  %-46s %14s  %-12s %s\n", what, value.c_str(), unit, ratio.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t count = bench::ParseCount(argc, argv);
  constexpr std::size_t kBatch = 100;

  std::printf("dual_write_bench: %zu identities, generating...\n", count);
  std::fflush(stdout);
  const std::vector<kimera::Identity> identities = Generate(count);

  // The encodings alone, on the first 100,000 identities.
  const std::size_t encode_n = std::min<std::size_t>(count, 100'000);
  std::size_t record_bytes = 0, legacy_bytes = 0;
  auto start = Clock::now();
  for (std::size_t i = 0; i < encode_n; ++i) {
    std::string value;
    Require(kimera::EncodeRecord(identities[i], &value), "encode");
    record_bytes += value.size() + identities[i].id.size();
  }
  const double record_us = Seconds(start) * 1e6 / static_cast<double>(encode_n);
  start = Clock::now();
  for (std::size_t i = 0; i < encode_n; ++i) {
    legacy_bytes += kimera::EncodeLegacyRow(identities[i]).size() + identities[i].id.size();
  }
  const double legacy_us = Seconds(start) * 1e6 / static_cast<double>(encode_n);

  TempDir dir;
  BatchKeyCounter counters[3];
  kimera::ConfiguredStore stacks[3] = {
      OpenStack(dir.path / "off", "", &counters[0]),
      OpenStack(dir.path / "legacy", "legacy", &counters[1]),
      OpenStack(dir.path / "second", (dir.path / "second-secondary").string(), &counters[2]),
  };
  double store_seconds[3] = {0, 0, 0};

  std::printf("storing (interleaved chunks of 10,000)...\n");
  std::fflush(stdout);
  const std::size_t chunk = 10'000;
  for (std::size_t begin = 0, round = 0; begin < count; begin += chunk, ++round) {
    const std::size_t end = std::min(count, begin + chunk);
    for (std::size_t k = 0; k < 3; ++k) {
      const std::size_t which = (round + k) % 3;
      start = Clock::now();
      for (std::size_t i = begin; i < end; ++i) {
        Require(stacks[which].store->Store(identities[i]), "store");
      }
      store_seconds[which] += Seconds(start);
    }
  }
  double rate[3];
  for (int k = 0; k < 3; ++k) rate[k] = static_cast<double>(count) / store_seconds[k];

  // The same through StoreMany, kBatch identities per call, into fresh stacks.
  std::printf("storing in StoreMany calls of %zu...\n", kBatch);
  std::fflush(stdout);
  BatchKeyCounter batch_counters[3];
  kimera::ConfiguredStore batch_stacks[3] = {
      OpenStack(dir.path / "batch-off", "", &batch_counters[0]),
      OpenStack(dir.path / "batch-legacy", "legacy", &batch_counters[1]),
      OpenStack(dir.path / "batch-second", (dir.path / "batch-second-secondary").string(),
                &batch_counters[2]),
  };
  double batch_seconds[3] = {0, 0, 0};
  std::vector<kimera::Identity> group;
  for (std::size_t begin = 0, round = 0; begin < count; begin += chunk, ++round) {
    const std::size_t end = std::min(count, begin + chunk);
    for (std::size_t k = 0; k < 3; ++k) {
      const std::size_t which = (round + k) % 3;
      double seconds = 0;
      for (std::size_t i = begin; i < end; i += kBatch) {
        group.assign(identities.begin() + static_cast<std::ptrdiff_t>(i),
                     identities.begin() + static_cast<std::ptrdiff_t>(std::min(end, i + kBatch)));
        start = Clock::now();
        Require(batch_stacks[which].store->StoreMany(group, nullptr), "store many");
        seconds += Seconds(start);
      }
      batch_seconds[which] += seconds;
    }
  }
  double batch_rate[3];
  for (int k = 0; k < 3; ++k) batch_rate[k] = static_cast<double>(count) / batch_seconds[k];
  std::uint64_t batch_differences = 0;
  for (int k = 1; k < 3; ++k) {
    kimera::SweepReport report;
    Require(batch_stacks[k].dual_write->Verify(kimera::SweepOptions{}, &report), "sweep");
    batch_differences += report.differences + (report.visited == count ? 0 : 1);
  }

  std::printf("sweeping...\n");
  std::fflush(stdout);
  double sweep_rate[3] = {0, 0, 0};
  std::uint64_t sweep_differences[3] = {0, 0, 0};
  for (int k = 1; k < 3; ++k) {
    kimera::SweepOptions options;  // Unlimited rate.
    kimera::SweepReport report;
    Require(stacks[k].dual_write->Verify(options, &report), "sweep");
    if (report.visited != count) {
      std::fprintf(stderr, "sweep visited %llu ids, expected %zu\n",
                   static_cast<unsigned long long>(report.visited), count);
      return 1;
    }
    sweep_rate[k] = static_cast<double>(report.visited) / report.seconds;
    sweep_differences[k] = report.differences;
  }

  // Untimed: after the equal-sides sweep above, so its figures stay as they were.
  const std::size_t planted_n = std::clamp<std::size_t>(count / 1000, 4, 1000);
  std::printf("planting %zu differences in each secondary and sweeping...\n", planted_n);
  std::fflush(stdout);
  std::uint64_t planted_found[3] = {0, 0, 0};
  std::size_t planted_listed[3] = {0, 0, 0};  // Listed ids that are planted ones.
  for (int k = 1; k < 3; ++k) {
    const std::set<std::string> planted = PlantDifferences(stacks[k], identities, planted_n);
    kimera::SweepReport report;
    Require(stacks[k].dual_write->Verify(kimera::SweepOptions{}, &report), "sweep");
    planted_found[k] = report.differences;
    for (const kimera::IdCheck& c : report.listed) planted_listed[k] += planted.count(c.id);
  }

  const double legacy_share = rate[1] / rate[0];
  const double second_share = rate[2] / rate[0];
  std::printf(
      "\ndual_write_bench: %zu identities, %.0f bytes each on average (id + record), "
      "%.0f as a legacy row\n",
      count, static_cast<double>(record_bytes) / static_cast<double>(encode_n),
      static_cast<double>(legacy_bytes) / static_cast<double>(encode_n));
  std::printf("  %-46s %14s  %-12s %s\n", "measure", "value", "unit", "ratio to off");
  Row("store: dual-write off", Fixed(rate[0], 0), "ids/s", "1.000");
  Row("store: dual-write on, legacy (same database)", Fixed(rate[1], 0), "ids/s",
      Fixed(legacy_share, 3));
  Row("store: dual-write on, second database", Fixed(rate[2], 0), "ids/s", Fixed(second_share, 3));
  Row(("store many (" + std::to_string(kBatch) + " per call): dual-write off").c_str(),
      Fixed(batch_rate[0], 0), "ids/s", "1.000");
  Row("store many: legacy (same database)", Fixed(batch_rate[1], 0), "ids/s",
      Fixed(batch_rate[1] / batch_rate[0], 3));
  Row("store many: second database", Fixed(batch_rate[2], 0), "ids/s",
      Fixed(batch_rate[2] / batch_rate[0], 3));
  Row("sweep: legacy (same database)", Fixed(sweep_rate[1], 0), "ids/s",
      Fixed(sweep_rate[1] / rate[0], 3));
  Row("sweep: second database", Fixed(sweep_rate[2], 0), "ids/s",
      Fixed(sweep_rate[2] / rate[0], 3));
  Row("sweep differences found (legacy, second)",
      std::to_string(sweep_differences[1]) + ", " + std::to_string(sweep_differences[2]), "ids",
      "");
  Row("planted differences, each secondary", std::to_string(planted_n), "ids", "");
  Row("  found by a sweep (legacy, second)",
      std::to_string(planted_found[1]) + ", " + std::to_string(planted_found[2]), "ids",
      Fixed(static_cast<double>(planted_found[1]) / static_cast<double>(planted_n), 3) + ", " +
          Fixed(static_cast<double>(planted_found[2]) / static_cast<double>(planted_n), 3) +
          " of planted");
  Row("  of them the planted ids (legacy, second)",
      std::to_string(planted_listed[1]) + ", " + std::to_string(planted_listed[2]), "ids", "");
  Row("record encoding alone", Fixed(record_us, 3), "us/id", "");
  Row("legacy row encoding alone", Fixed(legacy_us, 3), "us/id",
      Fixed(legacy_us / record_us, 2) + "x record");
  Row("keys per write batch (off, legacy, second)",
      Fixed(counters[0].per_batch(), 1) + ", " + Fixed(counters[1].per_batch(), 1) + ", " +
          Fixed(counters[2].per_batch(), 1),
      "keys", "");
  std::printf("\ntargets\n");
  Target("legacy dual-write keeps >= 70 % of single-write throughput", legacy_share >= 0.70,
         Fixed(legacy_share * 100, 1) + " %");
  Target("second-database dual-write >= 70 % of single-write, one Store per call",
         second_share >= 0.70, Fixed(second_share * 100, 1) + " %");
  const double batch_second_share = batch_rate[2] / batch_rate[0];
  Target("second-database dual-write >= 70 % of single-write, StoreMany",
         batch_second_share >= 0.70,
         Fixed(batch_second_share * 100, 1) + " % (" + std::to_string(kBatch) + " per call)");
  Target("StoreMany stacks: sweeps find every id, no difference", batch_differences == 0,
         std::to_string(batch_differences) + " differences or missing ids");
  Target("sweeps find no difference on equal sides",
         sweep_differences[1] == 0 && sweep_differences[2] == 0,
         std::to_string(sweep_differences[1] + sweep_differences[2]) + " differences");
  bool all_planted_found = true;
  for (int k = 1; k < 3; ++k) {
    all_planted_found =
        all_planted_found && planted_found[k] == planted_n && planted_listed[k] == planted_n;
  }
  Target("sweeps find exactly the planted differences", all_planted_found,
         std::to_string(planted_found[1]) + ", " + std::to_string(planted_found[2]) + " found of " +
             std::to_string(planted_n) + " planted (legacy, second)");
  return 0;
}
