// EntropyStore::Check: the index verified against the records, and repaired.
#include <chrono>
#include <cstdio>

#include "kimera/entropy_store.h"

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

}  // namespace

Status EntropyStore::Check(bool repair, IndexCheckReport* report) {
  const auto start = std::chrono::steady_clock::now();
  *report = IndexCheckReport{};
  rocksdb::WriteBatch fixes;
  std::array<std::int64_t, 2> counted{};

  // 1. Every record has an ordered entry at its recomputed entropy, with its
  // type and tau (and, in an index of its own, a by-id entry saying so).
  Status lookup_status;
  Status s = target()->Scan({}, [&](const Identity& record) {
    ++report->records;
    const IndexEntry want = EntryOf(record);
    ++counted[static_cast<std::size_t>(want.identity_type)];
    const std::string who = "id '" + DisplayId(record.id) + "': ";
    bool wrong = false;
    IndexEntry ordered;
    Status os = index_->LookupOrdered(want.entropy, record.id, &ordered);
    if (os.IsNotFound()) {
      Report(report, who + "no ordered index entry at its entropy " + Num(want.entropy));
      wrong = true;
    } else if (!os.ok()) {
      lookup_status = os;
      return false;
    } else if (!SameEntry(ordered, want)) {
      Report(report, who + "ordered index entry holds tau " + Num(ordered.tau) +
                         "; the record gives tau " + Num(want.tau));
      wrong = true;
    }
    if (index_->keeps_by_id()) {
      IndexEntry by_id;
      Status ls = index_->Lookup(record.id, &by_id);
      if (ls.IsNotFound()) {
        Report(report, who + "no by-id index entry");
        wrong = true;
      } else if (!ls.ok()) {
        lookup_status = ls;
        return false;
      } else if (!SameEntry(by_id, want)) {
        Report(report, who + "by-id index entry holds entropy " + Num(by_id.entropy) + ", tau " +
                           Num(by_id.tau) + "; the record gives entropy " + Num(want.entropy) +
                           ", tau " + Num(want.tau));
        wrong = true;
      }
    }
    if (repair && wrong) index_->AddChanges(record.id, nullptr, &want, &fixes);
    return true;
  });
  if (!lookup_status.ok()) return lookup_status;
  if (!s.ok()) return s;

  // 2. Every by-id entry belongs to a record.
  if (index_->keeps_by_id()) {
    s = index_->ForEachById([&](const IndexEntry& e) {
      Identity record;
      if (target()->Fetch(e.id, &record).IsNotFound()) {
        Report(report, "id '" + DisplayId(e.id) + "': by-id index entry without a record");
        if (repair) index_->DeleteById(e.id, &fixes);
      }
      return true;
    });
    if (!s.ok()) return s;
  }

  // 3. Every ordered entry belongs to a record of that entropy; any other is
  // an orphan (no record) or stale (the record moved).
  s = index_->ForEachOrdered({}, [&](std::string_view key, const IndexEntry& e) {
    ++report->index_entries;
    Identity record;
    const Status fs = target()->Fetch(e.id, &record);
    const bool orphan = fs.IsNotFound();
    if (orphan || (fs.ok() && EntryOf(record).entropy != e.entropy)) {
      Report(report, "id '" + DisplayId(e.id) + "': " + (orphan ? "orphan" : "stale") +
                         " ordered index entry at entropy " + Num(e.entropy));
      if (repair) fixes.Delete(index_->column_family(), rocksdb::Slice(key.data(), key.size()));
    }
    return true;
  });
  if (!s.ok()) return s;

  // 4. The per-type counts equal the records.
  for (std::size_t t = 0; t < 2; ++t) {
    const std::int64_t have = counts_[t].load();
    if (have != counted[t]) {
      Report(report, std::string("count of ") + IdentityTypeName(static_cast<IdentityType>(t)) +
                         " is " + std::to_string(have) +
                         ", records: " + std::to_string(counted[t]));
    }
  }

  if (repair && report->problem_count > 0) {
    s = index_->database().Write(&fixes);
    if (!s.ok()) return s;
    report->repaired = report->problem_count;
    // Counts and percentiles are rebuilt from the repaired index.
    s = LoadState();
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
