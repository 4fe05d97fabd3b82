#include "kimera/secondary_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dual_write_test_support.h"
#include "kimera/rocksdb_store.h"
#include "legacy_format.h"

using kimera::DualWriteConfig;
using kimera::Identity;
using kimera::IdentityType;
using kimera::RocksDbDatabase;
using kimera::RocksDbOptions;
using kimera::SecondaryStore;
using kimera::Status;
using kimera_test::CheckSameIdentity;
using kimera_test::Geoid;
using kimera_test::Id;
using kimera_test::Scar;
using kimera_test::TempDir;

namespace {

enum class Kind {
  kLegacyColumnFamilies,  // config.secondary "legacy": tables in the primary's database.
  kLegacyDatabase,        // A second database in the legacy format.
  kCurrentDatabase,       // A second database in the current format.
};

const char* Name(Kind kind) {
  static constexpr const char* kNames[] = {"legacy column families",
                                           "second database, legacy format",
                                           "second database, current format"};
  return kNames[static_cast<int>(kind)];
}

RocksDbOptions SmallOptions(bool sync_writes = false) {
  RocksDbOptions options;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  options.sync_writes = sync_writes;
  return options;
}

DualWriteConfig ConfigFor(const TempDir& dir, Kind kind) {
  DualWriteConfig config;
  config.enabled = true;
  if (kind != Kind::kLegacyColumnFamilies) {
    config.secondary = dir.Sub("second");
    config.secondary_format = kind == Kind::kCurrentDatabase ? "current" : "legacy";
  }
  return config;
}

// A primary database and the secondary of one kind beside it, in a folder of
// their own, opened as the store factory opens them (OpenSecondary).
struct Setup {
  explicit Setup(Kind kind, const RocksDbOptions& options = SmallOptions()) : kind(kind) {
    Reopen(options);
  }

  void Close() {
    secondary.reset();
    primary.reset();
  }
  void Reopen(const RocksDbOptions& options = SmallOptions()) {
    Close();
    Status s = RocksDbDatabase::Open(dir.Sub("primary"), options, &primary);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    s = kimera::OpenSecondary(ConfigFor(dir, kind), primary.get(), options, &secondary);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    BOOST_REQUIRE(secondary != nullptr);
  }

  const Kind kind;
  TempDir dir;
  std::unique_ptr<RocksDbDatabase> primary;
  std::unique_ptr<SecondaryStore> secondary;  // Borrows primary; declared after it.
};

// Runs `body` on a fresh Setup of each of `kinds`, in a context naming it.
template <typename Body>
void ForEachKind(std::initializer_list<Kind> kinds, const RocksDbOptions& options, Body&& body) {
  for (Kind kind : kinds) {
    BOOST_TEST_CONTEXT(Name(kind)) {
      Setup setup(kind, options);
      body(setup);
    }
  }
}
template <typename Body>
void ForEachKind(Body&& body) {
  ForEachKind({Kind::kLegacyColumnFamilies, Kind::kLegacyDatabase, Kind::kCurrentDatabase},
              SmallOptions(), std::forward<Body>(body));
}

// A geoid carrying fields the legacy tables drop, with timestamps set.
Identity FullGeoid(const std::string& id) {
  Identity g = Geoid(id, "raw of " + id);
  g.related_ids = {"r1"};
  g.decay_applied_at = 9;
  g.created_at = 1'700'000'000'000'000;
  g.updated_at = 1'700'000'000'500'000;
  return g;
}
Identity FullScar(const std::string& id) {
  Identity s = Scar(id, 2.0);
  s.tags = {"dropped by legacy"};
  s.created_at = 1'700'000'000'000'000;
  s.updated_at = 1'700'000'000'000'000;
  return s;
}

Identity MustGet(SecondaryStore& secondary, std::string_view id) {
  Identity out;
  const Status s = secondary.Get(id, &out);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

kimera::SecondaryCounts MustCounts(SecondaryStore& secondary) {
  kimera::SecondaryCounts n;
  const Status s = secondary.Counts(&n);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return n;
}

std::uint64_t MustCount(SecondaryStore& secondary) { return MustCounts(secondary).total(); }

// Checks the counters against `geoids` and `scars`, and against a re-count.
void CheckCounts(SecondaryStore& secondary, std::uint64_t geoids, std::uint64_t scars) {
  const kimera::SecondaryCounts n = MustCounts(secondary);
  BOOST_TEST(n.geoids == geoids);
  BOOST_TEST(n.scars == scars);
  kimera::SecondaryCountCheck check;
  const Status s = secondary.CheckCounts(false, &check);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(check.exact(),
             "drift " << check.geoids_drift << " geoids, " << check.scars_drift << " scars");
  BOOST_TEST(check.found.geoids == geoids);
  BOOST_TEST(check.found.scars == scars);
  BOOST_TEST(!check.corrected);
}

// Writes `identity` into the secondary's folder behind its back (closed
// meanwhile): a legacy row put into its table, or a record stored by a
// plain RocksDbStore, so the counters do not see it.
void PlantBehindItsBack(Setup& o, const Identity& identity) {
  o.Close();
  if (o.kind == Kind::kCurrentDatabase) {
    std::unique_ptr<kimera::RocksDbStore> store;
    BOOST_REQUIRE(kimera::RocksDbStore::Open(o.dir.Sub("second"), SmallOptions(), &store).ok());
    BOOST_REQUIRE(store->Store(identity).ok());
  } else {
    std::unique_ptr<RocksDbDatabase> db;
    const bool in_primary = o.kind == Kind::kLegacyColumnFamilies;
    BOOST_REQUIRE(
        RocksDbDatabase::Open(o.dir.Sub(in_primary ? "primary" : "second"), SmallOptions(), &db)
            .ok());
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    const bool scar = identity.identity_type == IdentityType::kScar;
    BOOST_REQUIRE(
        db->ColumnFamily(
              scar ? kimera::kLegacyScarsColumnFamily : kimera::kLegacyGeoidsColumnFamily, &cf)
            .ok());
    BOOST_REQUIRE(
        db->db()
            ->Put(rocksdb::WriteOptions(), cf, identity.id, kimera::EncodeLegacyRow(identity))
            .ok());
  }
  o.Reopen();
}

// Drops the counters of the secondary's database, as a database written
// before they existed has none.
void DropCounters(Setup& o) {
  o.Close();
  std::unique_ptr<RocksDbDatabase> db;
  const bool in_primary = o.kind == Kind::kLegacyColumnFamilies;
  BOOST_REQUIRE(
      RocksDbDatabase::Open(o.dir.Sub(in_primary ? "primary" : "second"), SmallOptions(), &db)
          .ok());
  BOOST_REQUIRE(db->DropColumnFamily(kimera::kSecondaryCountsColumnFamily).ok());
  db.reset();
  o.Reopen();
}

// AddToBatch from the primary's `before` to `after` (nullptr: none, a
// removal), committed by the primary.
void AddAndCommit(Setup& o, std::string_view id, const Identity* before, const Identity* after) {
  rocksdb::WriteBatch batch;
  SecondaryStore::BatchedWrite write;
  BOOST_REQUIRE(o.secondary->AddToBatch(id, before, after, &batch, &write).ok());
  BOOST_REQUIRE(o.primary->Write(&batch).ok());
  o.secondary->Committed(write);
}

bool Absent(SecondaryStore& secondary, std::string_view id) {
  Identity out;
  return secondary.Get(id, &out).IsNotFound();
}

std::vector<std::string> MustScanIds(SecondaryStore& secondary, std::string_view start_after,
                                     std::size_t limit) {
  std::vector<Identity> chunk;
  const Status s = secondary.ScanChunk(start_after, limit, &chunk);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::vector<std::string> ids;
  for (const Identity& i : chunk) ids.push_back(i.id);
  return ids;
}

std::vector<std::string> MustMarkedIds(SecondaryStore& secondary) {
  std::vector<std::string> ids;
  const Status s = secondary.MarkedIds(&ids);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return ids;
}

using Ids = std::vector<std::string>;

// A second database refuses AddToBatch and adds nothing to the batch.
void CheckRefusesAddToBatch(Kind kind) {
  Setup o(kind);
  BOOST_REQUIRE(!o.secondary->in_primary_batch());
  const Identity g = FullGeoid("g1");
  rocksdb::WriteBatch batch;
  SecondaryStore::BatchedWrite write;
  const Status s = o.secondary->AddToBatch("g1", nullptr, &g, &batch, &write);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());
  BOOST_TEST(batch.Count() == 0u);
  BOOST_TEST(!write.lock.owns_lock());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(secondary_store)

BOOST_AUTO_TEST_CASE(get_after_put_returns_the_projection) {
  ForEachKind([](Setup& o) {
    for (const Identity& i : {FullGeoid("g1"), FullScar("s1")}) {
      BOOST_REQUIRE(o.secondary->Put(i).ok());
      CheckSameIdentity(MustGet(*o.secondary, i.id), o.secondary->Project(i));
    }
  });
}

BOOST_AUTO_TEST_CASE(projection_is_what_the_format_keeps) {
  ForEachKind([](Setup& o) {
    for (const Identity& i : {FullGeoid("g1"), FullScar("s1")}) {
      const Identity want = o.kind == Kind::kCurrentDatabase ? i : kimera::ProjectToLegacy(i);
      CheckSameIdentity(o.secondary->Project(i), want);
    }
  });
}

BOOST_AUTO_TEST_CASE(get_of_an_absent_id_is_not_found) {
  ForEachKind([](Setup& o) {
    BOOST_TEST(Absent(*o.secondary, "g1"));
    BOOST_REQUIRE(o.secondary->Put(FullGeoid("g1")).ok());
    BOOST_TEST(Absent(*o.secondary, "g2"));
    BOOST_TEST(Absent(*o.secondary, "g"));
  });
}

BOOST_AUTO_TEST_CASE(put_replaces_the_record_also_when_the_type_changes) {
  ForEachKind([](Setup& o) {
    SecondaryStore& sec = *o.secondary;
    const Identity first = FullGeoid("x");
    Identity changed = FullGeoid("x");
    changed.raw = "changed";
    changed.weight = 0.25;
    const Identity scar = FullScar("x");

    BOOST_REQUIRE(sec.Put(first).ok());
    BOOST_REQUIRE(sec.Put(changed).ok());
    CheckSameIdentity(MustGet(sec, "x"), sec.Project(changed));
    BOOST_REQUIRE(sec.Put(scar).ok());
    CheckSameIdentity(MustGet(sec, "x"), sec.Project(scar));
    BOOST_TEST(MustCount(sec) == 1u);
    BOOST_REQUIRE(sec.Put(first).ok());
    CheckSameIdentity(MustGet(sec, "x"), sec.Project(first));
    BOOST_TEST(MustCount(sec) == 1u);
    BOOST_TEST(MustScanIds(sec, "", 10) == Ids{"x"}, boost::test_tools::per_element());
  });
}

BOOST_AUTO_TEST_CASE(delete_removes_and_is_ok_when_absent) {
  ForEachKind([](Setup& o) {
    SecondaryStore& sec = *o.secondary;
    BOOST_TEST(sec.Delete("never").ok());
    BOOST_REQUIRE(sec.Put(FullGeoid("g1")).ok());
    BOOST_REQUIRE(sec.Put(FullScar("s1")).ok());
    BOOST_TEST(sec.Delete("g1").ok());
    BOOST_TEST(sec.Delete("s1").ok());
    BOOST_TEST(Absent(sec, "g1"));
    BOOST_TEST(Absent(sec, "s1"));
    BOOST_TEST(MustCount(sec) == 0u);
    BOOST_TEST(sec.Delete("g1").ok());
  });
}

BOOST_AUTO_TEST_CASE(scan_chunk_pages_through_both_types_in_id_order) {
  ForEachKind([](Setup& o) {
    SecondaryStore& sec = *o.secondary;
    // Written out of order; even ids geoids, odd ids scars.
    Ids all;
    for (int n : {7, 2, 9, 0, 4, 1, 8, 3, 6, 5}) {
      const std::string id = Id("id", n);
      BOOST_REQUIRE(sec.Put(n % 2 == 0 ? FullGeoid(id) : FullScar(id)).ok());
    }
    for (int n = 0; n < 10; ++n) all.push_back(Id("id", n));

    std::vector<Identity> whole;
    BOOST_REQUIRE(sec.ScanChunk("", 100, &whole).ok());
    BOOST_REQUIRE(whole.size() == all.size());
    for (std::size_t n = 0; n < whole.size(); ++n) {
      const std::string& id = all[n];
      CheckSameIdentity(whole[n], sec.Project(n % 2 == 0 ? FullGeoid(id) : FullScar(id)));
    }

    Ids paged;
    std::string after;
    for (;;) {
      const Ids chunk = MustScanIds(sec, after, 3);
      BOOST_TEST_REQUIRE(chunk.size() <= 3u);
      if (chunk.empty()) break;
      BOOST_TEST(chunk.front() > after);
      paged.insert(paged.end(), chunk.begin(), chunk.end());
      after = chunk.back();
    }
    BOOST_TEST(paged == all, boost::test_tools::per_element());

    // start_after need not be an id held; an id past the last gives nothing.
    BOOST_TEST(MustScanIds(sec, "id35", 2) == (Ids{"id4", "id5"}),
               boost::test_tools::per_element());
    BOOST_TEST(MustScanIds(sec, "id9", 5).empty());
    BOOST_TEST(MustScanIds(sec, "zzz", 5).empty());
  });
}

BOOST_AUTO_TEST_CASE(scan_chunk_replaces_what_out_held) {
  ForEachKind([](Setup& o) {
    SecondaryStore& sec = *o.secondary;
    BOOST_REQUIRE(sec.Put(FullGeoid("a")).ok());
    BOOST_REQUIRE(sec.Put(FullScar("b")).ok());
    std::vector<Identity> out = {FullGeoid("stale1"), FullGeoid("stale2")};
    BOOST_REQUIRE(sec.ScanChunk("", 0, &out).ok());
    BOOST_TEST(out.empty());
    out = {FullGeoid("stale")};
    BOOST_REQUIRE(sec.ScanChunk("a", 10, &out).ok());
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0].id == "b");
    BOOST_TEST((out[0].identity_type == IdentityType::kScar));
  });
}

BOOST_AUTO_TEST_CASE(counts_follow_stores_type_changes_and_removes) {
  ForEachKind([](Setup& o) {
    SecondaryStore& sec = *o.secondary;
    CheckCounts(sec, 0, 0);
    for (int n = 0; n < 5; ++n) BOOST_REQUIRE(sec.Put(FullGeoid(Id("g", n))).ok());
    for (int n = 0; n < 3; ++n) BOOST_REQUIRE(sec.Put(FullScar(Id("s", n))).ok());
    CheckCounts(sec, 5, 3);
    BOOST_REQUIRE(sec.Put(FullGeoid("g1")).ok());  // A rewrite counts once.
    CheckCounts(sec, 5, 3);
    BOOST_REQUIRE(sec.Put(FullScar("g2")).ok());  // Geoid to scar, same id.
    CheckCounts(sec, 4, 4);
    BOOST_REQUIRE(sec.Put(FullGeoid("g2")).ok());  // And back.
    CheckCounts(sec, 5, 3);
    BOOST_REQUIRE(sec.Delete("s1").ok());
    BOOST_REQUIRE(sec.Delete("g4").ok());
    BOOST_REQUIRE(sec.Delete("never").ok());
    BOOST_REQUIRE(sec.Delete("g4").ok());
    CheckCounts(sec, 4, 2);
    BOOST_TEST(MustCount(sec) == 6u);
  });
}

BOOST_AUTO_TEST_CASE(counts_survive_reopen) {
  ForEachKind([](Setup& o) {
    for (int n = 0; n < 4; ++n) BOOST_REQUIRE(o.secondary->Put(FullGeoid(Id("g", n))).ok());
    BOOST_REQUIRE(o.secondary->Put(FullScar("s")).ok());
    BOOST_REQUIRE(o.secondary->Put(FullScar("g0")).ok());
    o.Reopen();
    CheckCounts(*o.secondary, 3, 2);
    BOOST_REQUIRE(o.secondary->Delete("s").ok());
    o.Reopen();
    CheckCounts(*o.secondary, 3, 1);
  });
}

// A database written before the counters existed is counted once, at open.
BOOST_AUTO_TEST_CASE(database_without_counters_is_counted_at_open) {
  ForEachKind([](Setup& o) {
    for (int n = 0; n < 3; ++n) BOOST_REQUIRE(o.secondary->Put(FullGeoid(Id("g", n))).ok());
    BOOST_REQUIRE(o.secondary->Put(FullScar("s")).ok());
    DropCounters(o);
    CheckCounts(*o.secondary, 3, 1);
    BOOST_REQUIRE(o.secondary->Put(FullScar("g0")).ok());
    o.Reopen();  // Stored at the first open: not counted again.
    CheckCounts(*o.secondary, 2, 2);
  });
}

BOOST_AUTO_TEST_CASE(check_counts_measures_drift_and_corrects_it) {
  ForEachKind([](Setup& o) {
    BOOST_REQUIRE(o.secondary->Put(FullGeoid("g1")).ok());
    BOOST_REQUIRE(o.secondary->Put(FullScar("s1")).ok());
    PlantBehindItsBack(o, FullScar("planted"));
    SecondaryStore& sec = *o.secondary;
    kimera::SecondaryCountCheck check;
    BOOST_REQUIRE(sec.CheckCounts(false, &check).ok());
    BOOST_TEST(check.geoids_drift == 0);
    BOOST_TEST(check.scars_drift == 1);
    BOOST_TEST(check.found.scars == 2u);
    BOOST_TEST(!check.corrected);
    BOOST_TEST(MustCounts(sec).scars == 1u);  // Only reported.
    // Exact writes keep the drift as it is, so a later correction is right.
    BOOST_REQUIRE(sec.Delete("planted").ok());
    BOOST_REQUIRE(sec.Put(FullScar("s2")).ok());
    BOOST_REQUIRE(sec.CheckCounts(true, &check).ok());
    BOOST_TEST(check.scars_drift == 1);
    BOOST_TEST(check.corrected);
    CheckCounts(sec, 1, 2);
    o.Reopen();  // The correction is stored.
    CheckCounts(*o.secondary, 1, 2);
  });
}

BOOST_AUTO_TEST_CASE(synced_writes_survive_reopen) {
  ForEachKind([](Setup& o) {
    BOOST_REQUIRE(o.secondary->Put(FullGeoid("g1")).ok());
    BOOST_REQUIRE(o.secondary->Put(FullScar("s1")).ok());
    BOOST_REQUIRE(o.secondary->Delete("s1").ok());
    BOOST_TEST(o.secondary->Sync().ok());
    o.Close();
    o.Reopen();
    CheckSameIdentity(MustGet(*o.secondary, "g1"), o.secondary->Project(FullGeoid("g1")));
    BOOST_TEST(Absent(*o.secondary, "s1"));
    BOOST_TEST(MustCount(*o.secondary) == 1u);
  });
}

BOOST_AUTO_TEST_CASE(each_kind_writes_where_its_description_says) {
  const Identity g = FullGeoid("g1");
  const Identity s = FullScar("s1");
  std::set<std::string> descriptions;
  ForEachKind([&](Setup& o) {
    BOOST_REQUIRE(o.secondary->Put(g).ok());
    BOOST_REQUIRE(o.secondary->Put(s).ok());
    BOOST_TEST(!o.secondary->Describe().empty());
    descriptions.insert(o.secondary->Describe());
    const bool in_primary = o.kind == Kind::kLegacyColumnFamilies;
    BOOST_TEST(o.primary->HasColumnFamily(kimera::kLegacyGeoidsColumnFamily) == in_primary);
    BOOST_TEST(o.primary->HasColumnFamily(kimera::kLegacyScarsColumnFamily) == in_primary);
    o.Close();
    if (o.kind == Kind::kCurrentDatabase) {
      // The record format: every field, read back by a plain RocksDbStore.
      std::unique_ptr<kimera::RocksDbStore> store;
      BOOST_REQUIRE(kimera::RocksDbStore::Open(o.dir.Sub("second"), SmallOptions(), &store).ok());
      Identity back;
      BOOST_REQUIRE(store->Fetch("g1", &back).ok());
      CheckSameIdentity(back, g);
      return;
    }
    // The legacy tables, one row per id in the table of its type.
    std::unique_ptr<RocksDbDatabase> db;
    const std::string folder = o.dir.Sub(in_primary ? "primary" : "second");
    BOOST_REQUIRE(RocksDbDatabase::Open(folder, SmallOptions(), &db).ok());
    for (const auto& [identity, table] : {std::pair{g, kimera::kLegacyGeoidsColumnFamily},
                                          std::pair{s, kimera::kLegacyScarsColumnFamily}}) {
      rocksdb::ColumnFamilyHandle* cf = nullptr;
      BOOST_REQUIRE(db->ColumnFamily(table, &cf).ok());
      std::string row;
      BOOST_REQUIRE(db->db()->Get(rocksdb::ReadOptions(), cf, identity.id, &row).ok());
      BOOST_TEST(row == kimera::EncodeLegacyRow(identity));
    }
  });
  BOOST_TEST(descriptions.size() == 3u);
}

BOOST_AUTO_TEST_CASE(only_the_legacy_column_families_join_the_primary_batch) {
  ForEachKind([](Setup& o) {
    BOOST_TEST(o.secondary->in_primary_batch() == (o.kind == Kind::kLegacyColumnFamilies));
  });
  Setup o(Kind::kLegacyColumnFamilies);
  std::unique_ptr<SecondaryStore> apart;
  BOOST_REQUIRE(kimera::OpenLegacySecondary(o.primary.get(), false, &apart).ok());
  BOOST_TEST(!apart->in_primary_batch());
  std::unique_ptr<SecondaryStore> joined;
  BOOST_REQUIRE(kimera::OpenLegacySecondary(o.primary.get(), true, &joined).ok());
  BOOST_TEST(joined->in_primary_batch());
}

BOOST_AUTO_TEST_CASE(current_format_database_refuses_add_to_batch) {
  CheckRefusesAddToBatch(Kind::kCurrentDatabase);
}

// Its rows, under a column family id of its own database, would land in the
// primary's family of the same number (records, read back as corrupt).
BOOST_AUTO_TEST_CASE(legacy_format_database_refuses_add_to_batch) {
  CheckRefusesAddToBatch(Kind::kLegacyDatabase);
}

BOOST_AUTO_TEST_CASE(add_to_batch_takes_effect_when_the_primary_commits_the_batch) {
  Setup o(Kind::kLegacyColumnFamilies);
  SecondaryStore& sec = *o.secondary;
  const Identity g = FullGeoid("x");
  const Identity s = FullScar("x");

  {
    rocksdb::WriteBatch insert;
    SecondaryStore::BatchedWrite write;
    BOOST_REQUIRE(sec.AddToBatch("x", nullptr, &g, &insert, &write).ok());
    BOOST_TEST(write.lock.owns_lock());  // Until the batch is committed or dropped.
    BOOST_TEST(Absent(sec, "x"));        // Not before the primary writes the batch.
    BOOST_TEST(MustCount(sec) == 0u);
    BOOST_REQUIRE(o.primary->Write(&insert).ok());
    sec.Committed(write);
  }
  CheckSameIdentity(MustGet(sec, "x"), sec.Project(g));
  CheckCounts(sec, 1, 0);

  AddAndCommit(o, "x", &g, &s);
  CheckSameIdentity(MustGet(sec, "x"), sec.Project(s));
  CheckCounts(sec, 0, 1);

  AddAndCommit(o, "x", &s, nullptr);
  BOOST_TEST(Absent(sec, "x"));
  CheckCounts(sec, 0, 0);

  // A batch the primary drops changes nothing, counts included.
  {
    rocksdb::WriteBatch dropped;
    SecondaryStore::BatchedWrite write;
    BOOST_REQUIRE(sec.AddToBatch("y", nullptr, &g, &dropped, &write).ok());
  }
  BOOST_TEST(Absent(sec, "y"));
  CheckCounts(sec, 0, 0);
}

BOOST_AUTO_TEST_CASE(add_to_batch_removal_without_before_clears_either_table) {
  Setup o(Kind::kLegacyColumnFamilies);
  SecondaryStore& sec = *o.secondary;
  BOOST_REQUIRE(sec.Put(FullGeoid("g")).ok());
  BOOST_REQUIRE(sec.Put(FullScar("s")).ok());
  for (const char* id : {"g", "s", "never"}) {
    AddAndCommit(o, id, nullptr, nullptr);
    BOOST_TEST(Absent(sec, id), id);
  }
  CheckCounts(sec, 0, 0);
}

// The secondary differs from the primary's `before`: only the tables the
// write touches change, and the counts follow what they really held.
BOOST_AUTO_TEST_CASE(add_to_batch_writes_only_the_change_from_before_and_counts_exactly) {
  Setup o(Kind::kLegacyColumnFamilies);
  SecondaryStore& sec = *o.secondary;
  const Identity geoid = FullGeoid("x");
  const Identity scar = FullScar("x");
  // It holds a geoid while the primary believes it held a scar.
  BOOST_REQUIRE(sec.Put(geoid).ok());
  AddAndCommit(o, "x", &scar, nullptr);
  // Only the scar's row was removed: the difference is left for the sweep.
  CheckSameIdentity(MustGet(sec, "x"), sec.Project(geoid));
  CheckCounts(sec, 1, 0);
  // Delete clears every trace of the id.
  BOOST_REQUIRE(sec.Delete("x").ok());
  BOOST_TEST(Absent(sec, "x"));
  CheckCounts(sec, 0, 0);
  // It lacks a geoid the primary rewrites: the row is counted as new.
  AddAndCommit(o, "x", &geoid, &geoid);
  CheckCounts(sec, 1, 0);
  // It holds a scar where the primary has nothing: a new geoid leaves the
  // scar's table alone, and each table's count is its rows.
  BOOST_REQUIRE(sec.Put(FullScar("y")).ok());
  const Identity y = FullGeoid("y");
  AddAndCommit(o, "y", nullptr, &y);
  CheckCounts(sec, 2, 1);
  // A type change the primary makes removes the row from the old table.
  const Identity y_scar = FullScar("y");
  AddAndCommit(o, "y", &y, &y_scar);
  CheckCounts(sec, 1, 1);
  BOOST_TEST((MustGet(sec, "y").identity_type == IdentityType::kScar));
  // A row planted behind its back in a table the write touches: the change
  // counts it as the removal it is, so the plant's drift stays as it was.
  PlantBehindItsBack(o, FullGeoid("z"));
  const Identity z_geoid = FullGeoid("z");
  const Identity z_scar = FullScar("z");
  AddAndCommit(o, "z", &z_geoid, &z_scar);  // The primary had a geoid: its table is read.
  kimera::SecondaryCountCheck check;
  BOOST_REQUIRE(o.secondary->CheckCounts(true, &check).ok());
  BOOST_TEST(check.geoids_drift == 1);
  BOOST_TEST(check.scars_drift == 0);
  BOOST_TEST(check.corrected);
  CheckCounts(*o.secondary, 1, 2);
}

BOOST_AUTO_TEST_CASE(undecodable_legacy_row_is_corruption_naming_the_id) {
  Setup o(Kind::kLegacyColumnFamilies);
  BOOST_REQUIRE(o.secondary->Put(FullGeoid("a")).ok());
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  BOOST_REQUIRE(o.primary->ColumnFamily(kimera::kLegacyScarsColumnFamily, &cf).ok());
  BOOST_REQUIRE(o.primary->db()->Put(rocksdb::WriteOptions(), cf, "bad", "\x07junk").ok());
  Identity out;
  Status s = o.secondary->Get("bad", &out);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.message().find("'bad'") != std::string::npos, s.message());
  std::vector<Identity> chunk;
  s = o.secondary->ScanChunk("", 10, &chunk);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.message().find("'bad'") != std::string::npos, s.message());
  BOOST_TEST(MustGet(*o.secondary, "a").id == "a");
}

BOOST_AUTO_TEST_CASE(second_database_without_synced_writes_marks_written_ids) {
  ForEachKind({Kind::kLegacyDatabase, Kind::kCurrentDatabase}, SmallOptions(false), [](Setup& o) {
    SecondaryStore& sec = *o.secondary;
    BOOST_TEST(sec.marks());
    BOOST_TEST(MustMarkedIds(sec).empty());
    BOOST_REQUIRE(sec.Put(FullGeoid("b")).ok());
    BOOST_REQUIRE(sec.Put(FullScar("a")).ok());
    BOOST_REQUIRE(sec.Put(FullGeoid("c")).ok());
    BOOST_REQUIRE(sec.Delete("c").ok());
    BOOST_TEST(MustMarkedIds(sec) == (Ids{"a", "b", "c"}), boost::test_tools::per_element());
    BOOST_REQUIRE(sec.ClearMarks({"a", "c"}).ok());
    BOOST_TEST(MustMarkedIds(sec) == Ids{"b"}, boost::test_tools::per_element());
    // Marks are data of the second database: counts and scans do not see them.
    BOOST_TEST(MustCount(sec) == 2u);
    BOOST_TEST(MustScanIds(sec, "", 10) == (Ids{"a", "b"}), boost::test_tools::per_element());

    // Kept until cleared, also by a later run with synced writes, which adds
    // none of its own.
    o.Reopen(SmallOptions(true));
    BOOST_TEST(!o.secondary->marks());
    BOOST_REQUIRE(o.secondary->Put(FullGeoid("d")).ok());
    BOOST_TEST(MustMarkedIds(*o.secondary) == Ids{"b"}, boost::test_tools::per_element());
    BOOST_REQUIRE(o.secondary->ClearMarks({"b"}).ok());
    BOOST_TEST(MustMarkedIds(*o.secondary).empty());
  });
}

BOOST_AUTO_TEST_CASE(synced_or_same_database_secondaries_keep_no_marks) {
  const auto no_marks = [](Setup& o) {
    BOOST_TEST(!o.secondary->marks());
    BOOST_REQUIRE(o.secondary->Put(FullGeoid("g1")).ok());
    BOOST_REQUIRE(o.secondary->Delete("g1").ok());
    BOOST_TEST(MustMarkedIds(*o.secondary).empty());
    BOOST_TEST(o.secondary->ClearMarks({"g1"}).ok());
  };
  ForEachKind({Kind::kLegacyColumnFamilies}, SmallOptions(false), no_marks);
  ForEachKind({Kind::kLegacyColumnFamilies, Kind::kLegacyDatabase, Kind::kCurrentDatabase},
              SmallOptions(true), no_marks);
}

BOOST_AUTO_TEST_CASE(second_database_that_cannot_open_is_an_error) {
  Setup o(Kind::kLegacyColumnFamilies);
  std::ofstream(o.dir.Sub("file")) << "not a folder";
  for (const char* format : {"legacy", "current"}) {
    BOOST_TEST_CONTEXT(format) {
      DualWriteConfig config;
      config.secondary = o.dir.Sub("file") + "/db";
      config.secondary_format = format;
      std::unique_ptr<SecondaryStore> out;
      const Status s = kimera::OpenSecondary(config, o.primary.get(), SmallOptions(), &out);
      BOOST_TEST(!s.ok());
      BOOST_TEST(s.message().find(config.secondary) != std::string::npos, s.ToString());
      BOOST_TEST(out == nullptr);
    }
  }
}

BOOST_AUTO_TEST_CASE(second_database_already_open_is_an_error) {
  ForEachKind({Kind::kLegacyDatabase, Kind::kCurrentDatabase}, SmallOptions(), [](Setup& o) {
    std::unique_ptr<SecondaryStore> again;
    const Status s =
        kimera::OpenSecondary(ConfigFor(o.dir, o.kind), o.primary.get(), SmallOptions(), &again);
    BOOST_TEST(!s.ok());
    BOOST_TEST(again == nullptr);
  });
}

BOOST_AUTO_TEST_CASE(bad_secondary_config_is_invalid_argument) {
  Setup o(Kind::kLegacyColumnFamilies);
  DualWriteConfig unknown_format;
  unknown_format.secondary = o.dir.Sub("second");
  unknown_format.secondary_format = "parquet";
  DualWriteConfig no_folder;
  no_folder.secondary = "";
  for (const DualWriteConfig& config : {unknown_format, no_folder}) {
    BOOST_TEST_CONTEXT(config.secondary << " " << config.secondary_format) {
      std::unique_ptr<SecondaryStore> out;
      const Status s = kimera::OpenSecondary(config, o.primary.get(), SmallOptions(), &out);
      BOOST_TEST(s.IsInvalidArgument(), s.ToString());
      BOOST_TEST(s.message().find("dual_write.secondary") != std::string::npos, s.message());
      BOOST_TEST(out == nullptr);
    }
  }
}

BOOST_AUTO_TEST_CASE(concurrent_writers_and_readers) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 40;
  ForEachKind([](Setup& o) {
    SecondaryStore& sec = *o.secondary;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int n = 0; n < kPerThread; ++n) {
          const std::string id = Id(Id("t", t) + "-", n);
          const Identity i = n % 2 == 0 ? FullGeoid(id) : FullScar(id);
          Identity back;
          if (!sec.Put(i).ok() || !sec.Get(id, &back).ok() || !(back == sec.Project(i))) {
            ++failures;
          }
          if (n % 4 == 3 && !sec.Delete(id).ok()) ++failures;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(MustCount(sec) == static_cast<std::uint64_t>(kThreads * kPerThread * 3 / 4));
    // Even n geoids, odd n scars; n % 4 == 3 removed.
    CheckCounts(sec, kThreads * kPerThread / 2, kThreads * kPerThread / 4);
  });
}

// Writers of the same ids, changing types and removing, race each other.
BOOST_AUTO_TEST_CASE(counts_stay_exact_under_concurrent_writes_of_the_same_ids) {
  constexpr int kThreads = 4;
  constexpr int kOps = 300;
  ForEachKind([](Setup& o) {
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 random(static_cast<unsigned>(t));
        for (int n = 0; n < kOps; ++n) {
          const std::string id = Id("id", static_cast<long long>(random() % 16));
          const unsigned what = random() % 3;
          const Identity i = what == 0 ? FullGeoid(id) : FullScar(id);
          // The legacy column families also take writes in the primary's batches.
          if (o.kind == Kind::kLegacyColumnFamilies && random() % 2 == 0) {
            rocksdb::WriteBatch batch;
            SecondaryStore::BatchedWrite write;
            if (!o.secondary->AddToBatch(id, nullptr, what == 2 ? nullptr : &i, &batch, &write)
                     .ok() ||
                !o.primary->Write(&batch).ok()) {
              ++failures;
            }
            o.secondary->Committed(write);
            continue;
          }
          const Status s = what == 2 ? o.secondary->Delete(id) : o.secondary->Put(i);
          if (!s.ok()) ++failures;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    BOOST_TEST(failures.load() == 0);
    kimera::SecondaryCountCheck check;
    BOOST_REQUIRE(o.secondary->CheckCounts(false, &check).ok());
    CheckCounts(*o.secondary, check.found.geoids, check.found.scars);
    BOOST_TEST(check.found.total() == MustScanIds(*o.secondary, "", 100).size());
  });
}

BOOST_AUTO_TEST_SUITE_END()
