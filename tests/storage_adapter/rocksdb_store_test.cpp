#include "kimera/rocksdb_store.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../temp_dir.h"
#include "record_codec.h"
#include "rocksdb_database.h"

namespace kimera {
namespace {

// Builds "<prefix><n>" by appending: GCC 12 warns falsely (-Wrestrict) on
// "literal" + std::to_string(n).
std::string Numbered(std::string prefix, long long n) {
  prefix += std::to_string(n);
  return prefix;
}

// A fresh folder under the system temporary folder, removed afterwards.
using test::TempDir;

struct ManualClock {
  std::shared_ptr<std::atomic<Micros>> now = std::make_shared<std::atomic<Micros>>(1'000'000);
  Micros operator()() const { return now->load(); }
};

RocksDbOptions SmallOptions() {
  RocksDbOptions options;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  return options;
}

std::unique_ptr<RocksDbStore> OpenStore(const TempDir& dir, Clock clock = SystemNow) {
  std::unique_ptr<RocksDbStore> store;
  const Status s = RocksDbStore::Open(dir.str(), SmallOptions(), &store, std::move(clock));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return store;
}

Identity Geoid(const std::string& id, const std::vector<double>& intensities,
               const std::string& lang_axis = "en") {
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kGeoid;
  identity.raw = "raw " + id;
  identity.lang_axis = lang_axis;
  nlohmann::json terms = nlohmann::json::array();
  for (std::size_t i = 0; i < intensities.size(); ++i) {
    terms.push_back({{"term", Numbered("t", i)}, {"intensity", intensities[i]}});
  }
  identity.meta["terms"] = terms;
  return identity;
}

Identity Scar(const std::string& id, std::size_t links, double weight) {
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kScar;
  identity.weight = weight;
  for (std::size_t i = 0; i < links; ++i) identity.related_ids.push_back(Numbered("r", i));
  return identity;
}

std::uint64_t CountAll(RocksDbStore& store) {
  std::uint64_t n = 0;
  const Status s = store.Count(std::nullopt, &n);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return n;
}

// Writes the record's raw text under the id in column family "extra" through
// the record's batch, and remembers what it was shown.
class MirrorExtension : public WriteParticipant {
 public:
  struct Call {
    std::string id;
    std::optional<Identity> before;
    std::optional<Identity> after;
  };

  explicit MirrorExtension(RocksDbDatabase& database) {
    const Status s = database.ColumnFamily("extra", &cf_);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

  Status Prepare(RecordWrite& write) override {
    const std::string_view id = write.id();
    const Identity* before = write.before();
    const Identity* after = write.after();
    rocksdb::WriteBatch* batch = write.batch();
    calls.push_back({std::string(id), before ? std::optional(*before) : std::nullopt,
                     after ? std::optional(*after) : std::nullopt});
    if (after != nullptr) {
      batch->Put(cf_, rocksdb::Slice(id.data(), id.size()), after->raw);
    } else {
      batch->Delete(cf_, rocksdb::Slice(id.data(), id.size()));
    }
    if (fail) return Status::Aborted("mirror refused '" + std::string(id) + "'");
    return Status::OK();
  }
  void Committed(RecordWrite&) override { ++committed; }

  rocksdb::ColumnFamilyHandle* cf() const { return cf_; }

  std::vector<Call> calls;
  int committed = 0;
  bool fail = false;

 private:
  rocksdb::ColumnFamilyHandle* cf_ = nullptr;
};

std::optional<std::string> ReadExtra(RocksDbStore& store, rocksdb::ColumnFamilyHandle* cf,
                                     const std::string& key) {
  std::string value;
  const rocksdb::Status s = DatabaseOf(store).db()->Get(rocksdb::ReadOptions(), cf, key, &value);
  if (s.IsNotFound()) return std::nullopt;
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return value;
}

}  // namespace

// The IdentityStore contract is tested once for every store in
// tests/conformance; these cases cover what only RocksDbStore does.
BOOST_AUTO_TEST_SUITE(rocksdb_store)

BOOST_AUTO_TEST_CASE(reopen_keeps_everything) {
  TempDir dir;
  Identity before;
  {
    auto store = OpenStore(dir);
    for (int i = 0; i < 50; ++i) BOOST_REQUIRE(store->Store(Geoid(Numbered("id", i), {1, 2})).ok());
    BOOST_REQUIRE(store->Store(Scar("scar", 3, 0.5)).ok());
    BOOST_REQUIRE(store->Fetch("scar", &before).ok());
    rocksdb::ColumnFamilyHandle* counters = nullptr;
    BOOST_REQUIRE(DatabaseOf(*store).ColumnFamily("counters", &counters).ok());
    BOOST_REQUIRE(
        DatabaseOf(*store)
            .db()
            ->Merge(rocksdb::WriteOptions(), counters, "n", RocksDbDatabase::EncodeCounter(7))
            .ok());
    BOOST_REQUIRE(store->Sync().ok());
  }
  auto store = OpenStore(dir);
  BOOST_TEST(CountAll(*store) == 51u);
  Identity after;
  BOOST_REQUIRE(store->Fetch("scar", &after).ok());
  BOOST_TEST((after == before));
  BOOST_TEST(DatabaseOf(*store).HasColumnFamily("counters"));
  rocksdb::ColumnFamilyHandle* counters = nullptr;
  BOOST_REQUIRE(DatabaseOf(*store).ColumnFamily("counters", &counters).ok());
  std::string value;
  BOOST_REQUIRE(DatabaseOf(*store).db()->Get(rocksdb::ReadOptions(), counters, "n", &value).ok());
  BOOST_TEST(RocksDbDatabase::DecodeCounter(value) == 7);
}

BOOST_AUTO_TEST_CASE(extension_writes_commit_with_the_record) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir, clock);
  MirrorExtension mirror(DatabaseOf(*store));
  store->AddParticipant(&mirror);

  *clock.now = 10;
  BOOST_REQUIRE(store->Store(Geoid("a", {1})).ok());
  BOOST_REQUIRE(mirror.calls.size() == 1u);
  BOOST_TEST(mirror.calls[0].id == "a");
  BOOST_TEST(!mirror.calls[0].before.has_value());
  BOOST_REQUIRE(mirror.calls[0].after.has_value());
  BOOST_TEST(mirror.calls[0].after->created_at == 10);  // Sees the stamped record.
  BOOST_TEST((ReadExtra(*store, mirror.cf(), "a") == std::optional<std::string>("raw a")));

  *clock.now = 20;
  Identity changed = Geoid("a", {2});
  changed.raw = "second";
  BOOST_REQUIRE(store->Store(changed).ok());
  BOOST_REQUIRE(mirror.calls.size() == 2u);
  BOOST_REQUIRE(mirror.calls[1].before.has_value());
  BOOST_TEST(mirror.calls[1].before->raw == "raw a");
  BOOST_TEST(mirror.calls[1].after->raw == "second");
  BOOST_TEST(mirror.calls[1].after->created_at == 10);
  BOOST_TEST(mirror.calls[1].after->updated_at == 20);
  BOOST_TEST((ReadExtra(*store, mirror.cf(), "a") == std::optional<std::string>("second")));

  BOOST_REQUIRE(store->Remove("a").ok());
  BOOST_REQUIRE(mirror.calls.size() == 3u);
  BOOST_TEST(mirror.calls[2].before->raw == "second");
  BOOST_TEST(!mirror.calls[2].after.has_value());
  BOOST_TEST(!ReadExtra(*store, mirror.cf(), "a").has_value());
  BOOST_TEST(mirror.committed == 3);
}

BOOST_AUTO_TEST_CASE(extension_error_aborts_the_whole_write) {
  TempDir dir;
  auto store = OpenStore(dir);
  MirrorExtension mirror(DatabaseOf(*store));
  store->AddParticipant(&mirror);
  BOOST_REQUIRE(store->Store(Geoid("kept", {1})).ok());
  mirror.fail = true;

  Status s = store->Store(Geoid("new", {1}));
  BOOST_TEST(s.IsAborted());
  Identity out;
  BOOST_TEST(store->Fetch("new", &out).IsNotFound());
  BOOST_TEST(!ReadExtra(*store, mirror.cf(), "new").has_value());

  Identity changed = Geoid("kept", {5});
  changed.raw = "changed";
  BOOST_TEST(store->Store(changed).IsAborted());
  BOOST_TEST(store->Remove("kept").IsAborted());
  BOOST_TEST(store->ApplyDecay("kept", SystemNow(), {}).IsAborted());
  BOOST_REQUIRE(store->Fetch("kept", &out).ok());
  BOOST_TEST(out.raw == "raw kept");
  BOOST_TEST((ReadExtra(*store, mirror.cf(), "kept") == std::optional<std::string>("raw kept")));
  BOOST_TEST(mirror.committed == 1);
  BOOST_TEST(CountAll(*store) == 1u);
}

// Notes, for each write, the context handed down for it (if any), and
// whether it ran after another participant's part of the same write.
class ContextReader : public WriteParticipant {
 public:
  struct Tag : WriteContext {
    explicit Tag(const WriteParticipant* owner, std::string value)
        : WriteContext(owner), text(std::move(value)) {}
    std::string text;
    int seen = 0;
  };

  Status Prepare(RecordWrite& write) override {
    Tag* tag = write.ContextFor<Tag>(this);
    seen.push_back(tag != nullptr ? tag->text : "");
    if (tag != nullptr) ++tag->seen;
    return Status::OK();
  }
  void Committed(RecordWrite&) override {}

  std::vector<std::string> seen;
};

BOOST_AUTO_TEST_CASE(a_write_context_reaches_only_its_own_participant) {
  TempDir dir;
  auto store = OpenStore(dir);
  ContextReader first, second;
  store->AddParticipant(&first);
  store->AddParticipant(&second);

  ContextReader::Tag for_second(&second, "store");
  BOOST_REQUIRE(store->Store(Geoid("a", {1}), &for_second).ok());
  ContextReader::Tag for_first(&first, "decay");
  BOOST_REQUIRE(store->ApplyDecay("a", SystemNow(), {}, &for_first).ok());
  BOOST_REQUIRE(store->Store(Geoid("b", {1})).ok());  // No context.
  ContextReader::Tag remove(&second, "remove");
  BOOST_REQUIRE(store->Remove("a", &remove).ok());

  BOOST_TEST((first.seen == std::vector<std::string>{"", "decay", "", ""}));
  BOOST_TEST((second.seen == std::vector<std::string>{"store", "", "", "remove"}));
  BOOST_TEST(for_second.seen == 1);
  BOOST_TEST(for_first.seen == 1);
  BOOST_TEST(remove.seen == 1);
}

BOOST_AUTO_TEST_CASE(a_removed_participant_joins_no_further_write) {
  TempDir dir;
  auto store = OpenStore(dir);
  MirrorExtension mirror(DatabaseOf(*store));
  ContextReader reader;
  store->AddParticipant(&mirror);
  store->AddParticipant(&reader);
  BOOST_REQUIRE(store->Store(Geoid("a", {1})).ok());
  store->RemoveParticipant(&mirror);
  BOOST_REQUIRE(store->Store(Geoid("b", {1})).ok());

  BOOST_TEST(mirror.calls.size() == 1u);
  BOOST_TEST(reader.seen.size() == 2u);  // The one after it still joins.
  BOOST_TEST(ReadExtra(*store, mirror.cf(), "a").has_value());
  BOOST_TEST(!ReadExtra(*store, mirror.cf(), "b").has_value());
  Identity out;
  BOOST_TEST(store->Fetch("b", &out).ok());
}

BOOST_AUTO_TEST_CASE(reads_at_a_snapshot_see_one_state_while_writes_go_on) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir, clock);
  *clock.now = 10;
  BOOST_REQUIRE(store->Store(Geoid("a", {1})).ok());
  BOOST_REQUIRE(store->Store(Geoid("b", {1, 2})).ok());
  const auto snapshot = store->TakeSnapshot();
  *clock.now = 20;
  BOOST_REQUIRE(store->Store(Geoid("a", {5, 5, 5})).ok());
  BOOST_REQUIRE(store->Remove("b").ok());
  BOOST_REQUIRE(store->Store(Geoid("c", {1})).ok());

  const std::vector<std::string> ids = {"a", "b", "c", "absent"};
  std::vector<std::optional<Identity>> then, now;
  BOOST_REQUIRE(store->ReadMany(ids, snapshot.get(), &then).ok());
  BOOST_REQUIRE(store->ReadMany(ids, nullptr, &now).ok());
  BOOST_REQUIRE(then.size() == 4u);
  BOOST_REQUIRE(then[0].has_value());
  BOOST_TEST(then[0]->updated_at == 10);
  BOOST_TEST(then[0]->meta["terms"].size() == 1u);
  BOOST_TEST(then[1].has_value());   // Removed after the snapshot.
  BOOST_TEST(!then[2].has_value());  // Stored after it.
  BOOST_TEST(!then[3].has_value());
  BOOST_REQUIRE(now[0].has_value());
  BOOST_TEST(now[0]->updated_at == 20);
  BOOST_TEST(now[0]->created_at == 10);
  BOOST_TEST(!now[1].has_value());
  BOOST_TEST(now[2].has_value());

  std::vector<std::optional<RecordHeader>> headers;
  BOOST_REQUIRE(store->ReadHeaders(ids, &headers).ok());
  BOOST_REQUIRE(headers.size() == 4u);
  BOOST_REQUIRE(headers[0].has_value());
  BOOST_TEST(headers[0]->created_at == 10);
  BOOST_TEST(headers[0]->updated_at == 20);
  BOOST_TEST(!headers[1].has_value());
  BOOST_TEST(!headers[3].has_value());
}

BOOST_AUTO_TEST_CASE(batched_reads_name_the_id_of_an_undecodable_record) {
  TempDir dir;
  auto store = OpenStore(dir);
  BOOST_REQUIRE(store->Store(Geoid("good", {1})).ok());
  rocksdb::ColumnFamilyHandle* records = nullptr;
  BOOST_REQUIRE(DatabaseOf(*store).ColumnFamily(kIdentitiesColumnFamily, &records).ok());
  BOOST_REQUIRE(
      DatabaseOf(*store).db()->Put(rocksdb::WriteOptions(), records, "bad", "not a record").ok());
  std::vector<std::optional<Identity>> found;
  Status s = store->ReadMany({"good", "bad"}, nullptr, &found);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.message().find("'bad'") != std::string::npos, s.message());
  std::vector<std::optional<RecordHeader>> headers;
  s = store->ReadHeaders({"bad"}, &headers);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.message().find("'bad'") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(second_open_in_this_process_is_busy) {
  TempDir dir;
  auto store = OpenStore(dir);
  std::unique_ptr<RocksDbStore> second;
  const Status s = RocksDbStore::Open(dir.str(), SmallOptions(), &second);
  BOOST_TEST(s.IsBusy(), s.ToString());
  BOOST_TEST(s.message() ==
             "database folder " + dir.str() + " is in use by another process (lock held)");
  BOOST_TEST(!second);
}

BOOST_AUTO_TEST_CASE(open_held_by_another_process_is_busy) {
  TempDir dir;
  { OpenStore(dir); }
  int ready[2];
  int release[2];
  BOOST_REQUIRE(::pipe(ready) == 0);
  BOOST_REQUIRE(::pipe(release) == 0);
  const std::string lock_path = (dir.path / "LOCK").string();
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    // The child takes the lock as another RocksDB process would (an fcntl
    // write lock on LOCK). It must not run RocksDB itself: the parent's
    // background threads do not exist after fork and their mutexes may be
    // held. Only async-signal-safe calls from here on.
    ::close(ready[0]);
    ::close(release[1]);  // Otherwise the child never sees the parent let go.
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    const char ok = fd >= 0 && ::fcntl(fd, F_SETLK, &lock) == 0 ? 1 : 0;
    if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
    char byte;
    while (::read(release[0], &byte, 1) < 0) {
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char ok = 0;
  const bool got = ::read(ready[0], &ok, 1) == 1;
  std::unique_ptr<RocksDbStore> second;
  const Status s = RocksDbStore::Open(dir.str(), SmallOptions(), &second);
  ::close(release[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(ready[0]);
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(ok == 1);
  BOOST_TEST(s.IsBusy(), s.ToString());
  BOOST_TEST(s.message() ==
             "database folder " + dir.str() + " is in use by another process (lock held)");
  // Once the holder is gone the folder opens again.
  BOOST_TEST(RocksDbStore::Open(dir.str(), SmallOptions(), &second).ok());
}

BOOST_AUTO_TEST_CASE(restore_writes_timestamps_as_given) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir, clock);
  *clock.now = 500;
  BOOST_REQUIRE(store->Store(Geoid("a", {1})).ok());
  Identity in = Geoid("a", {4});
  in.created_at = 7;
  in.updated_at = 9;
  in.decay_applied_at = 8;
  BOOST_REQUIRE(store->Restore(in).ok());
  Identity out;
  BOOST_REQUIRE(store->Fetch("a", &out).ok());
  BOOST_TEST((out == in));
}

BOOST_AUTO_TEST_CASE(counters_add_with_merge) {
  TempDir dir;
  auto store = OpenStore(dir);
  RocksDbDatabase& database = DatabaseOf(*store);
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  BOOST_REQUIRE(database.ColumnFamily("counters", &cf).ok());
  auto merge = [&](std::int64_t delta) {
    BOOST_REQUIRE(
        database.db()
            ->Merge(rocksdb::WriteOptions(), cf, "k", RocksDbDatabase::EncodeCounter(delta))
            .ok());
  };
  auto read = [&] {
    std::string value;
    BOOST_REQUIRE(database.db()->Get(rocksdb::ReadOptions(), cf, "k", &value).ok());
    return RocksDbDatabase::DecodeCounter(value);
  };
  merge(1);
  merge(1);
  merge(1);
  merge(-1);
  BOOST_TEST(read() == 2);
  // The sum survives a flush and a compaction, where RocksDB folds operands.
  BOOST_REQUIRE(database.db()->Flush(rocksdb::FlushOptions(), cf).ok());
  merge(-5);
  BOOST_REQUIRE(database.db()->Flush(rocksdb::FlushOptions(), cf).ok());
  BOOST_REQUIRE(
      database.db()->CompactRange(rocksdb::CompactRangeOptions(), cf, nullptr, nullptr).ok());
  BOOST_TEST(read() == -3);
  // A malformed stored value counts as 0.
  BOOST_REQUIRE(database.db()->Put(rocksdb::WriteOptions(), cf, "k", "bad").ok());
  merge(4);
  BOOST_TEST(read() == 4);
  BOOST_TEST(RocksDbDatabase::DecodeCounter(RocksDbDatabase::EncodeCounter(-123456789012LL)) ==
             -123456789012LL);
}

BOOST_AUTO_TEST_CASE(drop_column_family_keeps_old_handles_valid) {
  TempDir dir;
  auto store = OpenStore(dir);
  RocksDbDatabase& database = DatabaseOf(*store);
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  BOOST_REQUIRE(database.ColumnFamily("scratch", &cf).ok());
  BOOST_REQUIRE(database.db()->Put(rocksdb::WriteOptions(), cf, "k", "v").ok());
  BOOST_TEST(database.HasColumnFamily("scratch"));
  BOOST_REQUIRE(database.DropColumnFamily("scratch").ok());
  BOOST_TEST(!database.HasColumnFamily("scratch"));
  BOOST_TEST(database.DropColumnFamily("scratch").IsNotFound());
  BOOST_TEST(cf->GetName() == "scratch");
  rocksdb::ColumnFamilyHandle* fresh = nullptr;
  BOOST_REQUIRE(database.ColumnFamily("scratch", &fresh).ok());
  std::string value;
  BOOST_TEST(database.db()->Get(rocksdb::ReadOptions(), fresh, "k", &value).IsNotFound());
}

BOOST_AUTO_TEST_CASE(sync_with_wal_disabled_flushes) {
  TempDir dir;
  RocksDbOptions options = SmallOptions();
  options.disable_wal = true;
  {
    std::unique_ptr<RocksDbStore> store;
    BOOST_REQUIRE(RocksDbStore::Open(dir.str(), options, &store).ok());
    BOOST_REQUIRE(store->Store(Geoid("a", {1})).ok());
    BOOST_REQUIRE(store->Sync().ok());
  }
  std::unique_ptr<RocksDbStore> store;
  BOOST_REQUIRE(RocksDbStore::Open(dir.str(), options, &store).ok());
  Identity out;
  BOOST_TEST(store->Fetch("a", &out).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera
