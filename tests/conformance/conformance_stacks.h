// Shared fixtures of the IdentityStore conformance suite: the stacks under
// test (one type each, listed in `Stacks`), constants and helpers that build
// identities and run a store call that must succeed.
//
// The suite asserts the contract written in identity_store.h against every
// store and every decorator stack. A new backend (or a new layer) is added as
// one more stack type here; it conforms when every case passes for it.
//
// Times are the stores' own (the system clock): "now" is checked as lying
// between a clock reading before and after the call, and every ordering that
// depends on time uses timestamps given explicitly on insert.
//
// Thread-safety: a stack is owned by one test; its store is as thread-safe as
// the store it opens.
#ifndef KIMERA_TESTS_CONFORMANCE_STACKS_H_
#define KIMERA_TESTS_CONFORMANCE_STACKS_H_

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "../temp_dir.h"
#include "kimera/dual_write_store.h"
#include "kimera/identity_json.h"
#include "kimera/memory_store.h"
#include "kimera/rocksdb_store.h"
#include "kimera/store_factory.h"
#include "rocksdb_database.h"

namespace kimera::conformance {

using test::TempDir;

inline RocksDbOptions SmallOptions() {
  RocksDbOptions options;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  return options;
}

// One stack under test, opened fresh in its own folder. The folder is a
// member declared before the store, so it is removed after the store closed.
class Stack {
 public:
  IdentityStore& store() const { return *store_; }

 protected:
  TempDir dir_;
  std::unique_ptr<IdentityStore> store_;
};

// 1. The in-memory store.
struct MemoryStack : Stack {
  static constexpr bool kAtomicStoreMany = true;
  MemoryStack() { store_ = std::make_unique<MemoryStore>(); }
};

// A stack whose records lie in a RocksDbStore at the bottom, where a test
// can damage one below every layer.
class RocksDbBackedStack : public Stack {
 public:
  // Writes bytes no record decoder accepts under `id` in the records'
  // column family, behind every layer's back.
  void PlantUndecodable(const std::string& id) const {
    IdentityStore* layer = store_.get();
    RocksDbStore* rocks = nullptr;
    while (layer != nullptr && (rocks = dynamic_cast<RocksDbStore*>(layer)) == nullptr) {
      const auto* wrapper = dynamic_cast<const StoreWrapper*>(layer);
      layer = wrapper != nullptr ? wrapper->target() : nullptr;
    }
    BOOST_REQUIRE(rocks != nullptr);
    rocksdb::ColumnFamilyHandle* records = nullptr;
    BOOST_REQUIRE(DatabaseOf(*rocks).ColumnFamily(kIdentitiesColumnFamily, &records).ok());
    const rocksdb::Status s =
        DatabaseOf(*rocks).db()->Put(rocksdb::WriteOptions(), records, id, "not a record");
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
};

// 2. The bare embedded RocksDB store.
struct RocksDbStack : RocksDbBackedStack {
  static constexpr bool kAtomicStoreMany = true;
  RocksDbStack() {
    std::unique_ptr<RocksDbStore> rocks;
    const Status s = RocksDbStore::Open(dir_.str("db"), SmallOptions(), &rocks);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    store_ = std::move(rocks);
  }
};

// Stacks opened by OpenConfiguredStore, the factory behind the CLI and
// `kimera serve`, from a whole configuration with metrics off.
class ConfiguredStack : public RocksDbBackedStack {
 protected:
  KimeraConfig Config() const {
    KimeraConfig config;
    config.db_path = dir_.str("db");
    config.storage = SmallOptions();
    config.plugin.metrics.enabled = false;
    config.plugin.metrics.serve = false;
    return config;
  }

  // Opens the stack and checks it has the shape `config` asks for. Returns
  // its dual-write layer (nullptr when off), owned by the stack.
  DualWriteStore* Open(const KimeraConfig& config) {
    ConfiguredStore stack;
    const Status s = OpenConfiguredStore(config, /*serve_metrics=*/false, &stack);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    BOOST_REQUIRE(stack.store->endpoint() == nullptr);
    BOOST_REQUIRE(stack.store->index_in_record_database());
    BOOST_REQUIRE_EQUAL(stack.dual_write->enabled(), config.dual_write.enabled);
    DualWriteStore* dual = stack.dual_write->store();
    store_ = std::move(stack.store);
    return dual;
  }

  // Dual-write on, strict (the default), to `secondary` in `format`.
  void OpenDualWrite(const std::string& secondary, const std::string& format) {
    KimeraConfig config = Config();
    config.dual_write.enabled = true;
    config.dual_write.secondary = secondary;
    config.dual_write.secondary_format = format;
    const DualWriteStore& dual = *Open(config);
    BOOST_REQUIRE_EQUAL(dual.secondary().in_primary_batch(), secondary == "legacy");
    BOOST_REQUIRE_MESSAGE(
        dual.secondary().Describe().find(secondary == "legacy"
                                             ? "legacy column families"
                                             : "(" + format + " format)") != std::string::npos,
        dual.secondary().Describe());
  }
};

// 3. RocksDB wrapped by the entropy index plugin (EntropyStore).
struct IndexedRocksDbStack : ConfiguredStack {
  static constexpr bool kAtomicStoreMany = true;
  IndexedRocksDbStack() { Open(Config()); }
};

// 4. Stack 3 with dual-write to the legacy column families of the same database.
struct DualWriteLegacyColumnFamiliesStack : ConfiguredStack {
  static constexpr bool kAtomicStoreMany = true;
  DualWriteLegacyColumnFamiliesStack() { OpenDualWrite("legacy", "legacy"); }
};

// 5a. Stack 3 with dual-write to a second database in the legacy format.
struct DualWriteSecondDatabaseLegacyStack : ConfiguredStack {
  // The group commits on the primary in one batch; a strict failure on the
  // secondary puts every identity back (dual_write_store_test).
  static constexpr bool kAtomicStoreMany = true;
  DualWriteSecondDatabaseLegacyStack() { OpenDualWrite(dir_.str("secondary"), "legacy"); }
};

// 5b. Stack 3 with dual-write to a second database in the current format.
struct DualWriteSecondDatabaseCurrentStack : ConfiguredStack {
  static constexpr bool kAtomicStoreMany = true;
  DualWriteSecondDatabaseCurrentStack() { OpenDualWrite(dir_.str("secondary"), "current"); }
};

using Stacks =
    std::tuple<MemoryStack, RocksDbStack, IndexedRocksDbStack, DualWriteLegacyColumnFamiliesStack,
               DualWriteSecondDatabaseLegacyStack, DualWriteSecondDatabaseCurrentStack>;
// The stacks a test can plant an undecodable record in.
using CorruptibleStacks =
    std::tuple<RocksDbStack, IndexedRocksDbStack, DualWriteLegacyColumnFamiliesStack,
               DualWriteSecondDatabaseLegacyStack, DualWriteSecondDatabaseCurrentStack>;

inline constexpr Micros kT0 = 1'700'000'000'000'000;  // 2023-11-14, before any test's "now".
inline constexpr Micros kDay = 86'400'000'000;
inline constexpr Micros kHour = 3'600'000'000;
inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Builds "<prefix><n>" by appending: GCC 12 warns falsely (-Wrestrict) on
// "literal" + std::to_string(n).
inline std::string Numbered(std::string prefix, long long n) {
  prefix += std::to_string(n);
  return prefix;
}

// "<prefix><n>" with n zero-padded to four digits, so id order is number order.
inline std::string Padded(const char* prefix, int n) {
  char id[32];
  std::snprintf(id, sizeof(id), "%s%04d", prefix, n);
  return id;
}

inline Identity Geoid(const std::string& id, const std::vector<double>& intensities,
                      const std::string& lang_axis = "en") {
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kGeoid;
  identity.raw = "raw " + id;
  identity.lang_axis = lang_axis;
  nlohmann::json terms = nlohmann::json::array();
  for (std::size_t i = 0; i < intensities.size(); ++i) {
    terms.push_back(
        {{"term", Numbered("t", static_cast<long long>(i))}, {"intensity", intensities[i]}});
  }
  identity.meta["terms"] = terms;
  return identity;
}

// Entropy log2(links) * weight.
inline Identity Scar(const std::string& id, std::size_t links, double weight) {
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kScar;
  identity.weight = weight;
  for (std::size_t i = 0; i < links; ++i) {
    identity.related_ids.push_back(Numbered("r", static_cast<long long>(i)));
  }
  return identity;
}

inline Identity Stamped(Identity identity, Micros created_at, Micros updated_at) {
  identity.created_at = created_at;
  identity.updated_at = updated_at;
  return identity;
}

inline std::vector<std::string> Ids(const std::vector<Identity>& identities) {
  std::vector<std::string> ids;
  for (const Identity& identity : identities) ids.push_back(identity.id);
  return ids;
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The identity as one line, for failure messages.
inline std::string Show(const Identity& identity) {
  return IdentityToJsonLine(identity) +
         " decay_applied_at=" + std::to_string(identity.decay_applied_at);
}

inline Identity MustFetch(IdentityStore& store, const std::string& id) {
  Identity out;
  const Status s = store.Fetch(id, &out);
  BOOST_REQUIRE_MESSAGE(s.ok(), "fetch '" << id << "': " << s.ToString());
  return out;
}

inline std::uint64_t MustCount(IdentityStore& store, std::optional<IdentityType> type) {
  std::uint64_t n = std::numeric_limits<std::uint64_t>::max();
  const Status s = store.Count(type, &n);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return n;
}

inline std::vector<std::string> ScanIds(IdentityStore& store, std::string_view start_after = {}) {
  std::vector<std::string> seen;
  const Status s = store.Scan(start_after, [&](const Identity& identity) {
    seen.push_back(identity.id);
    return true;
  });
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return seen;
}

inline std::vector<std::string> FindIds(IdentityStore& store, double min, double max,
                                        std::size_t limit) {
  std::vector<Identity> out = {Geoid("stale", {1})};
  const Status s = store.FindByEntropy(min, max, limit, &out);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return Ids(out);
}

inline std::vector<std::string> ListIds(IdentityStore& store, const ListQuery& query) {
  std::vector<Identity> out = {Geoid("stale", {1})};
  const Status s = store.List(query, &out);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return Ids(out);
}

using Names = std::vector<std::string>;

}  // namespace kimera::conformance

#endif  // KIMERA_TESTS_CONFORMANCE_STACKS_H_
