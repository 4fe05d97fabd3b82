// OpenConfiguredStore: the stack it builds carries the echo forms, in the
// records' database, read-only with the rest of the stack.
#include "kimera/store_factory.h"

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include "../temp_dir.h"
#include "kimera/form_store.h"
#include "kimera/rocksdb_store.h"

namespace kimera {
namespace {

using test::TempDir;

KimeraConfig ConfigAt(const TempDir& dir, bool read_only = false) {
  KimeraConfig config;
  config.db_path = (dir.path / "db").string();
  config.plugin.metrics.serve = false;
  config.plugin.metrics.port = 0;
  config.storage.read_only = read_only;
  config.storage.create_if_missing = !read_only;
  return config;
}

EchoFormRecord Form(const std::string& anchor) {
  EchoFormRecord form;
  form.anchor = anchor;
  form.domain = "cls";
  form.blob = {{"terms", {{{"term", "a"}, {"intensity", 2.0}}}}};
  form.intensity_sum = 2.0;
  return form;
}

BOOST_AUTO_TEST_SUITE(store_factory)

BOOST_AUTO_TEST_CASE(configured_store_carries_the_forms) {
  TempDir dir;
  {
    ConfiguredStore stack;
    const Status s = OpenConfiguredStore(ConfigAt(dir), false, &stack);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    BOOST_REQUIRE(stack.forms != nullptr);
    BOOST_REQUIRE(stack.forms->Store(Form("f1")).ok());
    EchoFormRecord got;
    BOOST_REQUIRE(stack.forms->Fetch("f1", &got).ok());
    BOOST_TEST(got.intensity_sum == 2.0);
    // Timed by the stack's plugin.
    BOOST_TEST(stack.store->MetricsText().find(
                   "kimera_storage_operations_duration_seconds_count{operation_type=\"form_"
                   "store\"} 1") != std::string::npos);
    std::uint64_t n = 0;
    BOOST_REQUIRE(stack.store->Count(std::nullopt, &n).ok());
    BOOST_TEST(n == 0u);
    stack.Close();
    BOOST_TEST(stack.forms == nullptr);
  }
  // Read-only: the forms read, and refuse writes as the records do.
  ConfiguredStore stack;
  const Status s = OpenConfiguredStore(ConfigAt(dir, /*read_only=*/true), false, &stack);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_REQUIRE(stack.forms != nullptr);
  EchoFormRecord got;
  BOOST_REQUIRE(stack.forms->Fetch("f1", &got).ok());
  const Status store = stack.forms->Store(Form("f2"));
  BOOST_TEST(store.IsIOError(), store.ToString());
  BOOST_TEST(store.message().find("read-only") != std::string::npos);
  std::uint64_t n = 0;
  BOOST_TEST(stack.forms->RemoveDomain("cls", &n).IsIOError());
  BOOST_REQUIRE(stack.forms->Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 1u);
}

BOOST_AUTO_TEST_CASE(read_only_database_that_never_had_forms_has_none) {
  TempDir dir;
  const KimeraConfig config = ConfigAt(dir);
  {
    // A database written before the forms existed: records and index only.
    std::unique_ptr<RocksDbStore> rocks;
    Status s = RocksDbStore::Open(config.db_path, config.storage, &rocks);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    std::unique_ptr<EntropyStore> plugin;
    s = EntropyStore::Open(std::move(rocks), config.plugin, &plugin);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  ConfiguredStore stack;
  const Status s = OpenConfiguredStore(ConfigAt(dir, /*read_only=*/true), false, &stack);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_REQUIRE(stack.forms != nullptr);
  std::uint64_t n = 7;
  BOOST_REQUIRE(stack.forms->Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 0u);
  EchoFormRecord got;
  BOOST_TEST(stack.forms->Fetch("f1", &got).IsNotFound());
  std::vector<EchoFormRecord> listed;
  BOOST_REQUIRE(stack.forms->List(std::nullopt, 10, &listed).ok());
  BOOST_TEST(listed.empty());
  BOOST_TEST(stack.forms->Store(Form("f1")).IsIOError());
  BOOST_TEST(stack.forms->Decay(10.0, 1, &n).IsIOError());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
