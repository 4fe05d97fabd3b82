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
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace kimera {
namespace {

// Builds "<prefix><n>" by appending: GCC 12 warns falsely (-Wrestrict) on
// "literal" + std::to_string(n).
std::string Numbered(std::string prefix, long long n) {
  prefix += std::to_string(n);
  return prefix;
}

// A fresh folder under the system temporary folder, removed afterwards.
struct TempDir {
  TempDir() {
    std::random_device random;
    path = std::filesystem::temp_directory_path() /
           (Numbered("kimera_rocksdb_store_test_", ::getpid()) + "_" + std::to_string(random()) +
            std::to_string(random()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }

  std::filesystem::path path;
};

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

std::vector<std::string> Ids(const std::vector<Identity>& identities) {
  std::vector<std::string> ids;
  for (const Identity& identity : identities) ids.push_back(identity.id);
  return ids;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::uint64_t CountAll(RocksDbStore& store) {
  std::uint64_t n = 0;
  const Status s = store.Count(std::nullopt, &n);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return n;
}

// Writes the record's raw text under the id in column family "extra" through
// the record's batch, and remembers what it was shown.
class MirrorExtension : public WriteBatchExtension {
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

  Status Extend(std::string_view id, const Identity* before, const Identity* after,
                rocksdb::WriteBatch* batch) override {
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

  void Committed(std::string_view, const Identity*, const Identity*) override { ++committed; }

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
  const rocksdb::Status s = store.database().db()->Get(rocksdb::ReadOptions(), cf, key, &value);
  if (s.IsNotFound()) return std::nullopt;
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return value;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rocksdb_store)

BOOST_AUTO_TEST_CASE(stores_fetches_and_removes) {
  TempDir dir;
  auto store = OpenStore(dir);
  Identity in = Geoid("a", {1, 2});
  in.echo = "echo";
  in.tags = {"x", "y", "x"};
  in.related_ids = {"b"};
  in.weight = 0.25;
  in.meta["nested"] = {{"k", {1, 2.5, "s", nullptr, true}}};
  BOOST_REQUIRE(store->Store(in).ok());
  Identity out;
  BOOST_REQUIRE(store->Fetch("a", &out).ok());
  in.created_at = out.created_at;
  in.updated_at = out.updated_at;
  BOOST_TEST(out.created_at != 0);
  BOOST_TEST((out == in));
  BOOST_REQUIRE(store->Remove("a").ok());
  BOOST_TEST(store->Fetch("a", &out).IsNotFound());
  BOOST_TEST(CountAll(*store) == 0u);
}

BOOST_AUTO_TEST_CASE(remove_of_absent_id_is_not_found) {
  TempDir dir;
  auto store = OpenStore(dir);
  const Status s = store->Remove("nobody");
  BOOST_TEST(s.IsNotFound());
  BOOST_TEST(Contains(s.message(), "nobody"));
}

BOOST_AUTO_TEST_CASE(replace_keeps_first_created_at) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir, clock);
  *clock.now = 100;
  BOOST_REQUIRE(store->Store(Geoid("a", {1})).ok());
  Identity out;
  BOOST_REQUIRE(store->Fetch("a", &out).ok());
  BOOST_TEST(out.created_at == 100);
  BOOST_TEST(out.updated_at == 100);
  *clock.now = 200;
  Identity again = Geoid("a", {3});
  again.created_at = 150;
  again.updated_at = 150;
  BOOST_REQUIRE(store->Store(again).ok());
  BOOST_REQUIRE(store->Fetch("a", &out).ok());
  BOOST_TEST(out.created_at == 100);
  BOOST_TEST(out.updated_at == 200);
  BOOST_TEST(out.meta["terms"][0]["intensity"].get<double>() == 3.0);
}

BOOST_AUTO_TEST_CASE(list_filters_orders_and_limits) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir, clock);
  *clock.now = 10;
  BOOST_REQUIRE(store->Store(Geoid("g1", {1}, "en")).ok());
  *clock.now = 30;
  BOOST_REQUIRE(store->Store(Geoid("g2", {1}, "fr")).ok());
  BOOST_REQUIRE(store->Store(Geoid("g0", {1}, "en")).ok());  // Ties with g2: id decides.
  *clock.now = 20;
  BOOST_REQUIRE(store->Store(Scar("s1", 2, 1)).ok());

  std::vector<Identity> out;
  BOOST_REQUIRE(store->List({}, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"g0", "g2", "s1", "g1"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(store->List({IdentityType::kGeoid, std::nullopt, 2}, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"g0", "g2"}), boost::test_tools::per_element());
  BOOST_REQUIRE(store->List({std::nullopt, std::string("en"), 100}, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"g0", "g1"}), boost::test_tools::per_element());
  BOOST_REQUIRE(store->List({IdentityType::kScar, std::nullopt, 100}, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"s1"}), boost::test_tools::per_element());
  BOOST_REQUIRE(store->List({std::nullopt, std::nullopt, 0}, &out).ok());
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(count_by_type) {
  TempDir dir;
  auto store = OpenStore(dir);
  BOOST_REQUIRE(store->Store(Geoid("g1", {1})).ok());
  BOOST_REQUIRE(store->Store(Geoid("g2", {1})).ok());
  BOOST_REQUIRE(store->Store(Scar("s1", 2, 1)).ok());
  BOOST_REQUIRE(store->Store(Geoid("g1", {2})).ok());  // A replace is not a second record.
  std::uint64_t n = 0;
  BOOST_TEST(CountAll(*store) == 3u);
  BOOST_REQUIRE(store->Count(IdentityType::kGeoid, &n).ok());
  BOOST_TEST(n == 2u);
  BOOST_REQUIRE(store->Count(IdentityType::kScar, &n).ok());
  BOOST_TEST(n == 1u);
}

BOOST_AUTO_TEST_CASE(find_by_entropy_orders_limits_and_bounds) {
  TempDir dir;
  auto store = OpenStore(dir);
  BOOST_REQUIRE(store->Store(Geoid("h0", {1})).ok());           // H = 0
  BOOST_REQUIRE(store->Store(Geoid("h1", {1, 1})).ok());        // H = 1
  BOOST_REQUIRE(store->Store(Geoid("h2", {1, 1, 1, 1})).ok());  // H = 2
  BOOST_REQUIRE(store->Store(Scar("s2", 4, 1.0)).ok());         // H = 2
  BOOST_REQUIRE(store->Store(Scar("s3", 8, 1.0)).ok());         // H = 3

  std::vector<Identity> out;
  BOOST_REQUIRE(store->FindByEntropy(0, 10, 100, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"s3", "h2", "s2", "h1", "h0"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(store->FindByEntropy(1, 2, 100, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"h2", "s2", "h1"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(store->FindByEntropy(0, 10, 2, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"s3", "h2"}), boost::test_tools::per_element());
  BOOST_REQUIRE(store->FindByEntropy(5, 10, 2, &out).ok());
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(scan_starts_after_and_stops_early) {
  TempDir dir;
  auto store = OpenStore(dir);
  for (int i = 0; i < 100; ++i) {
    char id[8];
    std::snprintf(id, sizeof(id), "k%03d", i);
    BOOST_REQUIRE(store->Store(Geoid(id, {1})).ok());
  }
  std::vector<std::string> seen;
  auto collect = [&](const Identity& identity) {
    seen.push_back(identity.id);
    return true;
  };
  BOOST_REQUIRE(store->Scan("k009", collect).ok());
  BOOST_REQUIRE(seen.size() == 90u);
  BOOST_TEST(seen.front() == "k010");
  BOOST_TEST(seen.back() == "k099");
  BOOST_TEST(std::is_sorted(seen.begin(), seen.end()));

  seen.clear();
  BOOST_REQUIRE(store->Scan("k0095", collect).ok());  // Not a stored id: starts at the next.
  BOOST_TEST(seen.front() == "k010");

  seen.clear();
  BOOST_REQUIRE(store
                    ->Scan({},
                           [&](const Identity& identity) {
                             seen.push_back(identity.id);
                             return seen.size() < 3;
                           })
                    .ok());
  BOOST_TEST(seen == (std::vector<std::string>{"k000", "k001", "k002"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reopen_keeps_everything) {
  TempDir dir;
  Identity before;
  {
    auto store = OpenStore(dir);
    for (int i = 0; i < 50; ++i) BOOST_REQUIRE(store->Store(Geoid(Numbered("id", i), {1, 2})).ok());
    BOOST_REQUIRE(store->Store(Scar("scar", 3, 0.5)).ok());
    BOOST_REQUIRE(store->Fetch("scar", &before).ok());
    rocksdb::ColumnFamilyHandle* counters = nullptr;
    BOOST_REQUIRE(store->database().ColumnFamily("counters", &counters).ok());
    BOOST_REQUIRE(
        store->database()
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
  BOOST_TEST(store->database().HasColumnFamily("counters"));
  rocksdb::ColumnFamilyHandle* counters = nullptr;
  BOOST_REQUIRE(store->database().ColumnFamily("counters", &counters).ok());
  std::string value;
  BOOST_REQUIRE(store->database().db()->Get(rocksdb::ReadOptions(), counters, "n", &value).ok());
  BOOST_TEST(RocksDbDatabase::DecodeCounter(value) == 7);
}

BOOST_AUTO_TEST_CASE(concurrent_stores_and_reads) {
  TempDir dir;
  auto store = OpenStore(dir);
  constexpr int kThreads = 4;
  constexpr int kOps = 2000;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const std::string id = Numbered(Numbered("t", t) + "-", i);
        if (!store->Store(Geoid(id, {1.0 + i})).ok()) ++failures;
        Identity out;
        if (!store->Fetch(id, &out).ok() || out.id != id) ++failures;
        // Every thread also rewrites a few shared ids, so stripes contend.
        if (!store->Store(Geoid(Numbered("shared", i % 4), {1.0})).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(CountAll(*store) == kThreads * kOps + 4u);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kOps; ++i) {
      Identity out;
      BOOST_REQUIRE(store->Fetch(Numbered(Numbered("t", t) + "-", i), &out).ok());
      BOOST_REQUIRE(out.meta["terms"][0]["intensity"].get<double>() == 1.0 + i);
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_bad_input_and_writes_nothing) {
  TempDir dir;
  auto store = OpenStore(dir);
  MirrorExtension mirror(store->database());
  store->AddWriteExtension(&mirror);
  BOOST_REQUIRE(store->Store(Geoid("good", {1})).ok());
  mirror.calls.clear();

  std::vector<std::pair<Identity, std::string>> bad;
  bad.emplace_back(Geoid("", {1}), "id");
  bad.emplace_back(Geoid(std::string(513, 'x'), {1}), "id");
  Identity nan_weight = Geoid("nan-weight", {1});
  nan_weight.weight = std::numeric_limits<double>::quiet_NaN();
  bad.emplace_back(nan_weight, "weight");
  Identity negative = Geoid("negative-weight", {1});
  negative.weight = -1;
  bad.emplace_back(negative, "weight");
  bad.emplace_back(Geoid("nan-intensity", {1, std::numeric_limits<double>::quiet_NaN()}),
                   "intensity");
  Identity utf8 = Geoid("bad-utf8", {1});
  utf8.raw = "abc\xff";
  bad.emplace_back(utf8, "raw");
  Identity meta = Geoid("meta-array", {1});
  meta.meta = nlohmann::json::array();
  bad.emplace_back(meta, "meta");
  Identity huge = Geoid("huge", {1});
  huge.raw.assign(kMaxRecordBytes + 1, 'a');
  bad.emplace_back(huge, "huge");

  for (const auto& [identity, field] : bad) {
    BOOST_TEST_CONTEXT("field " << field) {
      for (const Status& s : {store->Store(identity), store->Restore(identity)}) {
        BOOST_TEST(s.IsInvalidArgument());
        BOOST_TEST(Contains(s.message(), field), s.message().substr(0, 200));
        if (!identity.id.empty() && identity.id.size() <= 64) {
          BOOST_TEST(Contains(s.message(), identity.id), s.message().substr(0, 200));
        }
      }
      Identity out;
      BOOST_TEST(store->Fetch(identity.id, &out).IsNotFound());
    }
  }
  BOOST_TEST(CountAll(*store) == 1u);
  BOOST_TEST(mirror.calls.empty());
}

BOOST_AUTO_TEST_CASE(corrupt_record_is_reported_naming_the_id) {
  TempDir dir;
  auto store = OpenStore(dir);
  BOOST_REQUIRE(store->Store(Geoid("a-good", {1})).ok());
  BOOST_REQUIRE(store->Store(Geoid("z-good", {1})).ok());
  BOOST_REQUIRE(store->database()
                    .db()
                    ->Put(rocksdb::WriteOptions(), store->identities(), "m-bad", "\x01garbage")
                    .ok());

  Identity out;
  Status s = store->Fetch("m-bad", &out);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(Contains(s.message(), "m-bad"));

  std::vector<std::string> seen;
  s = store->Scan({}, [&](const Identity& identity) {
    seen.push_back(identity.id);
    return true;
  });
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(Contains(s.message(), "m-bad"));
  BOOST_TEST(seen == (std::vector<std::string>{"a-good"}), boost::test_tools::per_element());

  std::vector<Identity> many;
  s = store->FetchMany({"a-good", "m-bad"}, &many);
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(Contains(s.message(), "m-bad"));
  std::uint64_t n = 0;
  BOOST_TEST(store->Count(IdentityType::kGeoid, &n).IsCorruption());
  BOOST_TEST(store->List({}, &many).IsCorruption());
  BOOST_TEST(store->FindByEntropy(0, 10, 10, &many).IsCorruption());

  // Store will not overwrite what it cannot read; Restore (repair) will.
  BOOST_TEST(store->Store(Geoid("m-bad", {1})).IsCorruption());
  BOOST_TEST(store->Remove("m-bad").IsCorruption());
  Identity repaired = Geoid("m-bad", {2});
  repaired.created_at = 1;
  repaired.updated_at = 2;
  BOOST_REQUIRE(store->Restore(repaired).ok());
  BOOST_REQUIRE(store->Fetch("m-bad", &out).ok());
  BOOST_TEST((out == repaired));
}

BOOST_AUTO_TEST_CASE(extension_writes_commit_with_the_record) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir, clock);
  MirrorExtension mirror(store->database());
  store->AddWriteExtension(&mirror);

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
  MirrorExtension mirror(store->database());
  store->AddWriteExtension(&mirror);
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

BOOST_AUTO_TEST_CASE(decay_twice_equals_decay_once) {
  TempDir dir;
  auto store = OpenStore(dir);
  for (const char* id : {"twice", "once"}) {
    Identity in = Geoid(id, {0.5, 1.5, 3.0});
    in.weight = 2.0;
    in.created_at = 1'000'000;
    in.updated_at = 1'000'000;
    BOOST_REQUIRE(store->Restore(in).ok());
  }
  const Micros t1 = 1'000'000 + 3LL * 86'400'000'000LL;
  const Micros t2 = 1'000'000 + 10LL * 86'400'000'000LL;
  BOOST_REQUIRE(store->ApplyDecay("twice", t1, {}).ok());
  BOOST_REQUIRE(store->ApplyDecay("twice", t2, {}).ok());
  BOOST_REQUIRE(store->ApplyDecay("once", t2, {}).ok());
  Identity twice, once;
  BOOST_REQUIRE(store->Fetch("twice", &twice).ok());
  BOOST_REQUIRE(store->Fetch("once", &once).ok());
  // H = entropy of (0.5, 1.5, 3) / 5; ten days at tau = 14 days * (1 + 0.1 H).
  const double h = Entropy(once);
  const double expected = 2.0 * std::exp(-10.0 * 86'400 / (1'209'600.0 * (1 + 0.1 * h)));
  BOOST_TEST(once.weight == expected, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(twice.weight == once.weight, boost::test_tools::tolerance(1e-12));
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(twice.meta["terms"][i]["intensity"].get<double>() ==
                   once.meta["terms"][i]["intensity"].get<double>(),
               boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(twice.decay_applied_at == t2);
  BOOST_TEST(twice.updated_at == t2);
  BOOST_TEST(twice.created_at == 1'000'000);

  const Status s = store->ApplyDecay("twice", t1, {});
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(Contains(s.message(), "twice"));
  Identity after;
  BOOST_REQUIRE(store->Fetch("twice", &after).ok());
  BOOST_TEST((after == twice));
  BOOST_TEST(store->ApplyDecay("absent", t2, {}).IsNotFound());
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

BOOST_AUTO_TEST_CASE(fetch_many_keeps_order_and_skips_absent) {
  TempDir dir;
  auto store = OpenStore(dir);
  for (const char* id : {"a", "b", "c"}) BOOST_REQUIRE(store->Store(Geoid(id, {1})).ok());
  std::vector<Identity> out = {Geoid("stale", {1})};
  BOOST_REQUIRE(store->FetchMany({"c", "missing", "a", "b"}, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"c", "a", "b"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(store->FetchMany({}, &out).ok());
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(counters_add_with_merge) {
  TempDir dir;
  auto store = OpenStore(dir);
  RocksDbDatabase& database = store->database();
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
  RocksDbDatabase& database = store->database();
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
