#include "audit_log.h"

#include <rocksdb/write_batch.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "dual_write_test_support.h"

using kimera::AuditEntry;
using kimera::AuditLog;
using kimera::RocksDbDatabase;
using kimera_test::TempDir;

namespace {

AuditEntry Entry(int i) {
  AuditEntry e;
  e.time = 1000 + i;
  e.id = kimera_test::Id("id", i);
  e.operation = "store";
  e.status = i % 7 == 0 ? "io_error" : "ok";
  e.details = i % 7 == 0 ? "injected" : "";
  return e;
}

// Entries stored in the log's column family, trimmed or not yet.
std::uint64_t EntriesOnDisk(RocksDbDatabase& db) {
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  BOOST_REQUIRE(db.ColumnFamily(kimera::kAuditColumnFamily, &cf).ok());
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(rocksdb::ReadOptions(), cf));
  std::uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid() && it->key().starts_with("e"); it->Next()) ++n;
  BOOST_REQUIRE(it->status().ok());
  return n;
}

std::unique_ptr<RocksDbDatabase> OpenDb(const TempDir& dir) {
  std::unique_ptr<RocksDbDatabase> db;
  BOOST_REQUIRE(RocksDbDatabase::Open(dir.Sub("db"), {}, &db).ok());
  return db;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(audit_log)

BOOST_AUTO_TEST_CASE(trims_in_steps_and_reads_only_the_newest_max_entries) {
  TempDir dir;
  auto db = OpenDb(dir);
  std::unique_ptr<AuditLog> log;
  BOOST_REQUIRE(AuditLog::Open(db.get(), 300, &log).ok());
  BOOST_CHECK_EQUAL(log->trim_step(), 3u);
  for (int i = 1; i <= 1000; ++i) {
    BOOST_REQUIRE(log->Write(Entry(i)).ok());
    // Never more than max_entries + trim_step - 1 on disk.
    BOOST_REQUIRE_LE(EntriesOnDisk(*db), 302u);
  }
  // The last trim was at entry 999: entry 1000 is one past the bound.
  BOOST_CHECK_EQUAL(EntriesOnDisk(*db), 301u);
  std::vector<AuditEntry> recent;
  BOOST_REQUIRE(log->Recent(5000, &recent).ok());
  BOOST_REQUIRE_EQUAL(recent.size(), 300u);
  BOOST_CHECK_EQUAL(recent.front().sequence, 1000u);
  BOOST_CHECK_EQUAL(recent.front().id, "id1000");
  BOOST_CHECK_EQUAL(recent.back().sequence, 701u);
  BOOST_CHECK_EQUAL(recent.back().id, "id701");
  BOOST_CHECK_EQUAL(log->total(), 1000u);
  std::uint64_t failures = 0;
  BOOST_REQUIRE(log->Failures(&failures).ok());
  BOOST_CHECK_EQUAL(failures, 1000u / 7);
}

BOOST_AUTO_TEST_CASE(reopen_with_a_smaller_bound_drops_what_the_earlier_run_left) {
  TempDir dir;
  auto db = OpenDb(dir);
  {
    std::unique_ptr<AuditLog> log;
    BOOST_REQUIRE(AuditLog::Open(db.get(), 1000, &log).ok());
    for (int i = 1; i <= 500; ++i) BOOST_REQUIRE(log->Write(Entry(i)).ok());
  }
  BOOST_CHECK_EQUAL(EntriesOnDisk(*db), 500u);
  std::unique_ptr<AuditLog> log;
  BOOST_REQUIRE(AuditLog::Open(db.get(), 200, &log).ok());
  BOOST_CHECK_EQUAL(log->total(), 500u);
  std::vector<AuditEntry> recent;
  BOOST_REQUIRE(log->Recent(1000, &recent).ok());
  BOOST_CHECK_EQUAL(recent.size(), 200u);
  // Entry 502 is the first trim (step 2) of this run: it clears from entry 1.
  BOOST_REQUIRE(log->Write(Entry(501)).ok());
  BOOST_CHECK_EQUAL(EntriesOnDisk(*db), 501u);
  BOOST_REQUIRE(log->Write(Entry(502)).ok());
  BOOST_CHECK_EQUAL(EntriesOnDisk(*db), 200u);
  BOOST_REQUIRE(log->Recent(1000, &recent).ok());
  BOOST_REQUIRE_EQUAL(recent.size(), 200u);
  BOOST_CHECK_EQUAL(recent.front().id, "id502");
  BOOST_CHECK_EQUAL(recent.back().id, "id303");
}

BOOST_AUTO_TEST_CASE(a_trim_in_a_batch_never_written_is_done_by_the_next) {
  TempDir dir;
  auto db = OpenDb(dir);
  std::unique_ptr<AuditLog> log;
  BOOST_REQUIRE(AuditLog::Open(db.get(), 300, &log).ok());
  for (int i = 1; i <= 1000; ++i) {
    if (i % 100 == 0) {
      // A trim point (every 3rd entry from 301 on) now and then, in a batch
      // its store refuses, as a failed group leaves it.
      rocksdb::WriteBatch dropped;
      log->Append(Entry(i), &dropped);
      continue;
    }
    BOOST_REQUIRE(log->Write(Entry(i)).ok());
    BOOST_REQUIRE_LE(EntriesOnDisk(*db), 302u);
  }
  BOOST_CHECK_EQUAL(log->total(), 1000u);
  std::vector<AuditEntry> recent;
  BOOST_REQUIRE(log->Recent(5000, &recent).ok());
  BOOST_CHECK_EQUAL(recent.front().sequence, 999u);
  BOOST_CHECK_EQUAL(recent.size(), 297u);  // 701..1000 less the dropped 800, 900, 1000.
}

BOOST_AUTO_TEST_SUITE_END()
