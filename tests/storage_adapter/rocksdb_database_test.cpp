#include "rocksdb_database.h"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "../temp_dir.h"

namespace kimera {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

constexpr int kRecords = 60;

// Writes `records` batches in a child that exits without closing the
// database: their only copy is the write-ahead log, as after a crash.
// `last_value`, when not empty, is the value of one more batch at the end
// (one larger than a 32 KiB log block is written as several fragments).
void WriteThenCrash(const fs::path& db, int records = kRecords, std::size_t value_bytes = 200,
                    const std::string& last_value = {}) {
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    std::unique_ptr<RocksDbDatabase> database;
    if (!RocksDbDatabase::Open(db.string(), RocksDbOptions{}, &database).ok()) ::_exit(1);
    for (int i = 0; i < records; ++i) {
      rocksdb::WriteBatch batch;
      std::string key = "key";
      key += std::to_string(1000 + i);
      batch.Put(key, std::string(value_bytes, static_cast<char>('a' + i % 26)));
      if (!database->Write(&batch).ok()) ::_exit(2);
    }
    if (!last_value.empty()) {
      rocksdb::WriteBatch batch;
      batch.Put("last", last_value);
      if (!database->Write(&batch).ok()) ::_exit(2);
    }
    ::_exit(0);
  }
  int status = 0;
  BOOST_REQUIRE_EQUAL(::waitpid(child, &status, 0), child);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

fs::path OnlyLog(const fs::path& db) {
  fs::path found;
  for (const auto& entry : fs::directory_iterator(db)) {
    if (entry.path().extension() == ".log" && fs::file_size(entry.path()) > 0) found = entry.path();
  }
  BOOST_REQUIRE(!found.empty());
  return found;
}

int CountKeys(RocksDbDatabase& database) {
  std::unique_ptr<rocksdb::Iterator> it(database.db()->NewIterator(rocksdb::ReadOptions()));
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  return n;
}

RocksDbOptions ReadOnly(bool salvage = false) {
  RocksDbOptions options;
  options.read_only = true;
  options.salvage = salvage;
  return options;
}

// Opens `db`, whose log ends inside the batch after kRecords whole ones: all
// of those are read, and the report says the log was torn.
void ExpectOpensAsTorn(const fs::path& db) {
  std::unique_ptr<RocksDbDatabase> database;
  Status s = RocksDbDatabase::Open(db.string(), RocksDbOptions{}, &database);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(CountKeys(*database) == kRecords);
  BOOST_TEST(database->recovery_report().find("ended inside a record") != std::string::npos,
             database->recovery_report());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rocksdb_database)

BOOST_AUTO_TEST_CASE(read_only_open_of_a_missing_database_creates_nothing) {
  TempDir dir;
  std::unique_ptr<RocksDbDatabase> database;
  Status s = RocksDbDatabase::Open((dir.path / "typo").string(), ReadOnly(), &database);
  BOOST_TEST(s.IsNotFound());
  BOOST_TEST(s.message().find("no database at") != std::string::npos);
  BOOST_TEST(!fs::exists(dir.path / "typo"));
  RocksDbOptions no_create;
  no_create.create_if_missing = false;
  s = RocksDbDatabase::Open(dir.path.string(), no_create, &database);
  BOOST_TEST(s.IsNotFound());
  BOOST_TEST(fs::is_empty(dir.path));
}

BOOST_AUTO_TEST_CASE(read_only_open_reads_beside_a_writer_and_refuses_writes) {
  TempDir dir;
  std::unique_ptr<RocksDbDatabase> writer;
  BOOST_REQUIRE(RocksDbDatabase::Open(dir.path.string(), RocksDbOptions{}, &writer).ok());
  rocksdb::WriteBatch batch;
  batch.Put("k", "v");
  BOOST_REQUIRE(writer->Write(&batch).ok());
  std::unique_ptr<RocksDbDatabase> reader;
  Status s = RocksDbDatabase::Open(dir.path.string(), ReadOnly(), &reader);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(reader->read_only());
  BOOST_TEST(CountKeys(*reader) == 1);
  BOOST_TEST(reader->Write(&batch).IsIOError());
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  BOOST_TEST(reader->ColumnFamily("absent", &cf).IsNotFound());
}

BOOST_AUTO_TEST_CASE(clean_close_flushes_the_memtables) {
  TempDir dir;
  {
    std::unique_ptr<RocksDbDatabase> database;
    BOOST_REQUIRE(RocksDbDatabase::Open(dir.path.string(), RocksDbOptions{}, &database).ok());
    rocksdb::WriteBatch batch;
    batch.Put("k", "v");
    BOOST_REQUIRE(database->Write(&batch).ok());
  }
  bool sst = false;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    sst = sst || entry.path().extension() == ".sst";
  }
  BOOST_TEST(sst);
}

void Damage(const fs::path& log) {
  std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(log) / 2));
  f.write(std::string(32, '\xab').data(), 32);
}

void ExpectRefusedWithoutSalvage(const fs::path& db, const fs::path& log) {
  for (bool read_only : {true, false}) {
    RocksDbOptions options = read_only ? ReadOnly() : RocksDbOptions{};
    std::unique_ptr<RocksDbDatabase> database;
    Status s = RocksDbDatabase::Open(db.string(), options, &database);
    BOOST_TEST(s.IsCorruption(), s.ToString());
    BOOST_TEST(s.message().find(log.filename().string()) != std::string::npos);
    BOOST_TEST(s.message().find("bytes") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(damaged_log_fails_open_and_salvage_keeps_what_is_readable) {
  TempDir dir;
  constexpr int kMany = 200;  // About 200 KiB of log: the damage is not in its last block.
  WriteThenCrash(dir.path, kMany, 1000);
  const fs::path log = OnlyLog(dir.path);
  Damage(log);
  ExpectRefusedWithoutSalvage(dir.path, log);
  for (bool read_only : {true, false}) {
    std::unique_ptr<RocksDbDatabase> database;
    RocksDbOptions options = ReadOnly(/*salvage=*/true);
    options.read_only = read_only;
    Status s = RocksDbDatabase::Open(dir.path.string(), options, &database);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    BOOST_TEST_MESSAGE(database->recovery_report());
    BOOST_TEST(database->recovery_report().find(log.filename().string()) != std::string::npos);
    // Skipping damage, RocksDB resumes at the next 32 KiB block of the log:
    // at most a block of batches (about 31 here) is lost, and the report
    // counts them exactly.
    const int kept = CountKeys(*database);
    BOOST_TEST(kept >= kMany - 33);
    BOOST_TEST(kept < kMany);
    BOOST_TEST(database->recovery_report().find(std::to_string(kMany - kept) +
                                                " write entries missing") != std::string::npos);
  }
  // The writable salvage kept what it found: a plain open now works.
  std::unique_ptr<RocksDbDatabase> database;
  Status s = RocksDbDatabase::Open(dir.path.string(), RocksDbOptions{}, &database);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(database->recovery_report().empty());
}

BOOST_AUTO_TEST_CASE(damage_in_the_last_block_is_not_taken_for_a_torn_tail) {
  TempDir dir;
  WriteThenCrash(dir.path);  // 60 batches, about 14 KiB: one block.
  const fs::path log = OnlyLog(dir.path);
  Damage(log);
  ExpectRefusedWithoutSalvage(dir.path, log);
  std::unique_ptr<RocksDbDatabase> database;
  Status s = RocksDbDatabase::Open(dir.path.string(), ReadOnly(/*salvage=*/true), &database);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST_MESSAGE(database->recovery_report());
  // RocksDB drops the rest of a damaged last block even when skipping
  // damage; the report counts the batches lost with it.
  BOOST_TEST(database->recovery_report().find(log.filename().string()) != std::string::npos);
  BOOST_TEST(database->recovery_report().find("intact write batches after the damage") !=
             std::string::npos);
  BOOST_TEST(CountKeys(*database) >= kRecords / 2 - 1);
}

BOOST_AUTO_TEST_CASE(log_torn_at_its_tail_opens_and_says_so) {
  TempDir dir;
  WriteThenCrash(dir.path);
  const fs::path log = OnlyLog(dir.path);
  fs::resize_file(log, fs::file_size(log) - 10);
  std::unique_ptr<RocksDbDatabase> database;
  Status s = RocksDbDatabase::Open(dir.path.string(), RocksDbOptions{}, &database);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(CountKeys(*database) == kRecords - 1);
  BOOST_TEST(database->recovery_report().find("ended inside a record") != std::string::npos);
  BOOST_TEST(database->recovery_report().find(log.filename().string()) != std::string::npos);
}

// A crash (or power cut) can leave the first fragment of a batch that spans
// log blocks without the rest. That is a torn tail, not damage: the fragment
// holds the very next sequence number, and nothing after it was lost.
BOOST_AUTO_TEST_CASE(batch_torn_after_its_first_fragment_opens_and_says_so) {
  TempDir dir;
  WriteThenCrash(dir.path, kRecords, 200, /*last_value=*/std::string(40000, 'z'));
  const fs::path log = OnlyLog(dir.path);
  constexpr std::uintmax_t kBlock = 32768;
  BOOST_REQUIRE(fs::file_size(log) > kBlock + 4096);  // The last batch crosses the block.
  fs::resize_file(log, kBlock);                       // The first fragment ends the first block.
  ExpectOpensAsTorn(dir.path);
}

// A torn batch's payload may hold bytes that look like a record header with
// the very next sequence number; only their checksum tells them from a record
// written after the damage, and they are no reason to refuse the open.
BOOST_AUTO_TEST_CASE(torn_batch_whose_payload_looks_like_records_opens_as_torn) {
  TempDir dir;
  // Header: crc (4, wrong), length 20, type 1 (full); payload: sequence 61
  // (the torn batch's own: 60 batches of one entry replayed), count 1.
  std::string fake("\x01\x02\x03\x04\x14\x00\x01", 7);
  fake += std::string("\x3d\0\0\0\0\0\0\0\x01\0\0\0", 12);
  fake.resize(7 + 20, 'q');
  std::string value;
  while (value.size() < 40000) value += fake;
  WriteThenCrash(dir.path, kRecords, 200, value);
  const fs::path log = OnlyLog(dir.path);
  fs::resize_file(log, fs::file_size(log) - 10);
  ExpectOpensAsTorn(dir.path);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera
