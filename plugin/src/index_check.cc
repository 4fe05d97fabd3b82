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
  RocksDbDatabase& db = index_->database();
  std::array<std::int64_t, 2> counted{};

  // 1. Every record has a by-id entry and an ordered entry at its entropy.
  Status lookup_status;
  Status s = target()->Scan({}, [&](const Identity& record) {
    ++report->records;
    IndexEntry want = EntryOf(record);
    ++counted[static_cast<std::size_t>(want.identity_type)];
    IndexEntry have;
    Status ls = index_->Lookup(record.id, &have);
    if (!ls.ok() && !ls.IsNotFound()) {
      lookup_status = ls;
      return false;
    }
    const bool by_id_ok = ls.ok() && SameEntry(have, want);
    if (!ls.ok()) {
      Report(report, "id '" + record.id + "': record has no index entry (entropy " +
                         Num(want.entropy) + ")");
    } else if (!by_id_ok) {
      Report(report, "id '" + record.id + "': index holds entropy " + Num(have.entropy) + ", tau " +
                         Num(have.tau) + "; the record gives entropy " + Num(want.entropy) +
                         ", tau " + Num(want.tau));
    }
    std::string value;
    rocksdb::Status os = db.db()->Get(rocksdb::ReadOptions(), index_->column_family(),
                                      EncodeIndexKey(want.entropy, record.id), &value);
    if (os.IsNotFound() && by_id_ok) {
      Report(report, "id '" + record.id + "': ordered index entry at entropy " + Num(want.entropy) +
                         " is missing");
    }
    if (repair && (!by_id_ok || os.IsNotFound())) {
      index_->AddChanges(record.id, nullptr, &want, &fixes);
      if (ls.ok() && have.entropy != want.entropy) {
        fixes.Delete(index_->column_family(), EncodeIndexKey(have.entropy, record.id));
      }
    }
    return true;
  });
  if (!lookup_status.ok()) return lookup_status;
  if (!s.ok()) return s;

  // 2. Every by-id entry belongs to a record.
  std::vector<std::string> orphans;
  s = index_->ForEachById([&](const IndexEntry& e) {
    Identity record;
    Status fs = target()->Fetch(e.id, &record);
    if (fs.IsNotFound()) {
      Report(report, "id '" + e.id + "': index entry without a record");
      orphans.push_back(e.id);
    }
    return true;
  });
  if (!s.ok()) return s;
  if (repair) {
    for (const std::string& id : orphans) {
      IndexEntry e;
      if (index_->Lookup(id, &e).ok()) index_->AddChanges(id, &e, nullptr, &fixes);
    }
  }

  // 3. Every ordered entry matches its id's by-id entry or, when that entry
  // is missing or wrong (reported in step 1), the record itself; else it is
  // stale. Judging by the by-id entry alone would delete the very key step 1
  // re-creates for such a record.
  s = index_->ForEachOrdered({}, [&](std::string_view key, const IndexEntry& e) {
    ++report->index_entries;
    IndexEntry current;
    Status ls = index_->Lookup(e.id, &current);
    Identity record;
    if ((!ls.ok() || current.entropy != e.entropy) &&
        !(target()->Fetch(e.id, &record).ok() && EntryOf(record).entropy == e.entropy)) {
      Report(report, "id '" + e.id + "': stale ordered index entry at entropy " + Num(e.entropy));
      if (repair) fixes.Delete(index_->column_family(), rocksdb::Slice(key.data(), key.size()));
    }
    return true;
  });
  if (!s.ok()) return s;

  // 4. Counters equal the counts.
  std::array<std::int64_t, 2> stored{};
  s = index_->ReadCounters(&stored);
  if (!s.ok()) return s;
  for (std::size_t t = 0; t < 2; ++t) {
    if (stored[t] != counted[t]) {
      const auto type = static_cast<IdentityType>(t);
      Report(report, std::string("counter of ") + IdentityTypeName(type) + " is " +
                         std::to_string(stored[t]) + ", records: " + std::to_string(counted[t]));
      if (repair) index_->SetCounter(type, counted[t], &fixes);
    }
  }

  if (repair && report->problem_count > 0) {
    // The fixes carry counter merges of their own; the counted values are
    // the truth, so they are written after the fixes land.
    s = db.Write(&fixes);
    if (!s.ok()) return s;
    rocksdb::WriteBatch counters;
    for (std::size_t t = 0; t < 2; ++t) {
      index_->SetCounter(static_cast<IdentityType>(t), counted[t], &counters);
    }
    s = db.Write(&counters);
    if (!s.ok()) return s;
    report->repaired = report->problem_count;
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
