// EntropyStore::Check: the index verified against the records, and repaired.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <utility>

#include "index_participant.h"
#include "kimera/entropy_index.h"
#include "kimera/entropy_store.h"
#include "plugin_metrics.h"
#include "rocksdb_database.h"

namespace kimera {
namespace {

void Report(IndexCheckReport* report, std::string problem) {
  ++report->problem_count;
  if (report->problems.size() < IndexCheckReport::kMaxListedProblems) {
    report->problems.push_back(std::move(problem));
  }
}

bool SameEntry(const IndexEntry& a, const IndexEntry& b) {
  return a.entropy == b.entropy && a.identity_type == b.identity_type && a.tau == b.tau;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Walks records and index against each other, collecting problems into the
// report and, when repairing, their fixes into one batch.
class IndexChecker {
 public:
  using EntryOfRecord = std::function<IndexEntry(const Identity&)>;

  // `index` and `records` are borrowed; `entry_of` gives a record's
  // expected index entry.
  IndexChecker(const EntropyIndex& index, IdentityStore& records, EntryOfRecord entry_of,
               bool repair, IndexCheckReport* report)
      : index_(index),
        records_(records),
        entry_of_(std::move(entry_of)),
        repair_(repair),
        report_(report) {}

  // 1. Every record has an ordered entry at its recomputed entropy, with its
  // type and tau (and, in an index of its own, a by-id entry saying so).
  Status CheckRecords() {
    Status lookup_status;
    Status s = records_.Scan({}, [&](const Identity& record) {
      lookup_status = CheckRecord(record);
      return lookup_status.ok();
    });
    if (!lookup_status.ok()) return lookup_status;
    return s;
  }

  // 2. Every by-id entry belongs to a record.
  Status CheckByIdEntries() {
    if (!index_.keeps_by_id()) return Status::OK();
    return index_.ForEachById([&](const IndexEntry& e) {
      Identity record;
      if (records_.Fetch(e.id, &record).IsNotFound()) {
        Report(report_, "id '" + DisplayId(e.id) + "': by-id index entry without a record");
        if (repair_) index_.DeleteById(e.id, &fixes_);
      }
      return true;
    });
  }

  // 3. Every ordered entry belongs to a record of that entropy; any other is
  // an orphan (no record) or stale (the record moved).
  Status CheckOrderedEntries() {
    return index_.ForEachOrdered({}, [&](std::string_view key, const IndexEntry& e) {
      ++report_->index_entries;
      entries_.Add(e);
      Identity record;
      const Status fs = records_.Fetch(e.id, &record);
      const bool orphan = fs.IsNotFound();
      if (orphan || (fs.ok() && entry_of_(record).entropy != e.entropy)) {
        Report(report_, "id '" + DisplayId(e.id) + "': " + (orphan ? "orphan" : "stale") +
                            " ordered index entry at entropy " + Num(e.entropy));
        if (repair_) fixes_.Delete(index_.column_family(), rocksdb::Slice(key.data(), key.size()));
      }
      return true;
    });
  }

  // 4. The per-type counts equal the records.
  void CheckCounts(const std::array<std::atomic<std::int64_t>, 2>& counts) {
    for (std::size_t t = 0; t < 2; ++t) {
      const std::int64_t have = counts[t].load();
      if (have != counted_[t]) {
        Report(report_, std::string("count of ") + IdentityTypeName(static_cast<IdentityType>(t)) +
                            " is " + std::to_string(have) +
                            ", records: " + std::to_string(counted_[t]));
      }
    }
  }

  // 5. The index's stored totals equal its entries (of pass 3).
  Status CheckSummary() {
    IndexSummary stored;
    bool complete = false;
    Status s = index_.ReadSummary(&stored, &complete);
    if (s.IsCorruption()) {
      Report(report_, s.message());
      return Status::OK();
    }
    // None stored (the store is open for writing, or crashed): nothing to compare.
    if (!s.ok() || !complete || stored == entries_) return s;
    std::map<std::uint32_t, std::int64_t> drift = stored.cells;
    for (const auto& [cell, n] : entries_.cells) drift[cell] -= n;
    const auto cells = std::count_if(drift.begin(), drift.end(),
                                     [](const auto& cell) { return cell.second != 0; });
    Report(report_, "the index's stored totals differ from its entries: geoids " +
                        std::to_string(stored.types[0]) + " stored, " +
                        std::to_string(entries_.types[0]) + " entries; scars " +
                        std::to_string(stored.types[1]) + " stored, " +
                        std::to_string(entries_.types[1]) + " entries; " + std::to_string(cells) +
                        " entropy cells differ" +
                        (stored.exact == entries_.exact ? "" : ", and the exact values past them"));
    return Status::OK();
  }

  rocksdb::WriteBatch* fixes() { return &fixes_; }

 private:
  // Pass 1 for one record; an error only when a lookup failed.
  Status CheckRecord(const Identity& record) {
    ++report_->records;
    const IndexEntry want = entry_of_(record);
    ++counted_[static_cast<std::size_t>(want.identity_type)];
    const std::string who = "id '" + DisplayId(record.id) + "': ";
    bool wrong = false;
    IndexEntry ordered;
    Status os = index_.LookupOrdered(want.entropy, record.id, &ordered);
    if (os.IsNotFound()) {
      Report(report_, who + "no ordered index entry at its entropy " + Num(want.entropy));
      wrong = true;
    } else if (!os.ok()) {
      return os;
    } else if (!SameEntry(ordered, want)) {
      Report(report_, who + "ordered index entry holds tau " + Num(ordered.tau) +
                          "; the record gives tau " + Num(want.tau));
      wrong = true;
    }
    if (index_.keeps_by_id()) {
      Status ls = CheckByIdEntryOf(record.id, want, who, &wrong);
      if (!ls.ok()) return ls;
    }
    if (repair_ && wrong) index_.AddChanges(record.id, nullptr, &want, &fixes_);
    return Status::OK();
  }

  Status CheckByIdEntryOf(std::string_view id, const IndexEntry& want, const std::string& who,
                          bool* wrong) {
    IndexEntry by_id;
    Status ls = index_.Lookup(id, &by_id);
    if (ls.IsNotFound()) {
      Report(report_, who + "no by-id index entry");
      *wrong = true;
    } else if (!ls.ok()) {
      return ls;
    } else if (!SameEntry(by_id, want)) {
      Report(report_, who + "by-id index entry holds entropy " + Num(by_id.entropy) + ", tau " +
                          Num(by_id.tau) + "; the record gives entropy " + Num(want.entropy) +
                          ", tau " + Num(want.tau));
      *wrong = true;
    }
    return Status::OK();
  }

  const EntropyIndex& index_;
  IdentityStore& records_;
  const EntryOfRecord entry_of_;
  const bool repair_;
  IndexCheckReport* report_;
  rocksdb::WriteBatch fixes_;
  std::array<std::int64_t, 2> counted_{};
  IndexSummary entries_;  // Of every ordered entry, in pass 3.
};

}  // namespace

Status EntropyStore::Check(bool repair, IndexCheckReport* report) {
  const auto start = std::chrono::steady_clock::now();
  *report = IndexCheckReport{};
  IndexChecker checker(
      indexer_->index(), *target(),
      [this](const Identity& record) { return indexer_->EntryOf(record); }, repair, report);
  Status s = checker.CheckRecords();
  if (s.ok()) s = checker.CheckByIdEntries();
  if (s.ok()) s = checker.CheckOrderedEntries();
  if (s.ok()) s = checker.CheckSummary();
  if (!s.ok()) return s;
  checker.CheckCounts(indexer_->counts());

  if (repair && report->problem_count > 0) {
    s = indexer_->index().database().Write(checker.fixes());
    if (!s.ok()) return s;
    report->repaired = report->problem_count;
    // Counts and percentiles are counted again from the repaired index (the
    // close stores them).
    s = indexer_->RecountState();
    if (!s.ok()) return s;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  last_check_seconds_.store(seconds);
  last_check_problems_.store(report->problem_count);
  if (metrics_) {
    metrics_->ObserveOperation(Operation::kCheck, std::nullopt, seconds, Status::OK());
  }
  return Status::OK();
}

}  // namespace kimera
