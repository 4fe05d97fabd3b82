// A C++ host that already has an IdentityStore swaps the Kimera plugin in
// with one line, then keeps using the IdentityStore interface unchanged.
//
//   host_example DB_DIR [CONFIG]
//
// CONFIG is a kimera.toml (default: $KIMERA_CONFIG, else the defaults);
// KIMERA_METRICS_PORT=0 serves /metrics on a free port. The build compiles
// this file and `meson test --suite examples` runs it.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "kimera/config_loader.h"
#include "kimera/entropy_store.h"
#include "kimera/identity_store.h"
#include "kimera/rocksdb_store.h"
#include "kimera/store_factory.h"

namespace {

// The host's own code: it only knows the IdentityStore interface.
kimera::Status HostWork(kimera::IdentityStore& store) {
  kimera::Identity geoid;
  geoid.id = "host-geoid-1";
  geoid.raw = "entropy of a small text";
  geoid.meta["terms"] = {{{"term", "entropy"}, {"intensity", 3.0}},
                         {{"term", "text"}, {"intensity", 1.0}},
                         {{"term", "small"}, {"intensity", 0.5}}};
  if (kimera::Status s = store.Store(geoid); !s.ok()) return s;

  kimera::Identity scar;
  scar.id = "host-scar-1";
  scar.identity_type = kimera::IdentityType::kScar;
  scar.related_ids = {"host-geoid-1", "host-geoid-2", "host-geoid-3", "host-geoid-4"};
  scar.weight = 1.5;
  if (kimera::Status s = store.Store(scar); !s.ok()) return s;

  std::vector<kimera::Identity> found;
  if (kimera::Status s = store.FindByEntropy(1.0, 8.0, 10, &found); !s.ok()) return s;
  for (const kimera::Identity& identity : found) {
    std::printf("  %s  H = %.3f bits\n", identity.id.c_str(), kimera::Entropy(identity));
  }
  return store.Sync();
}

int Run(const std::string& folder, const std::string& config_path) {
  kimera::KimeraConfig config;
  if (kimera::Status s = kimera::LoadConfig(config_path, &config); !s.ok()) {
    std::fprintf(stderr, "host_example: %s\n", s.ToString().c_str());
    return 1;
  }

  std::error_code mkdir_error;
  std::filesystem::create_directories(folder, mkdir_error);

  // 1. The one-line swap: the host built `inner` as before and wraps it.
  std::unique_ptr<kimera::RocksDbStore> inner;
  if (kimera::Status s = kimera::RocksDbStore::Open(folder + "/wrapped", config.storage, &inner);
      !s.ok()) {
    std::fprintf(stderr, "host_example: %s\n", s.ToString().c_str());
    return 3;
  }
  auto store = kimera::wrap(std::move(inner), config.plugin);

  std::printf("wrapped store:\n");
  if (kimera::Status s = HostWork(*store); !s.ok()) {
    std::fprintf(stderr, "host_example: %s\n", s.ToString().c_str());
    return 3;
  }
  if (const kimera::MetricsEndpoint* endpoint = store->endpoint()) {
    std::printf("  metrics at http://%s/metrics\n", endpoint->address().c_str());
  }
  std::printf("  entropy p50 %.3f bits\n", store->EntropyQuantile(0.5));
  store.reset();

  // 2. The whole stack the configuration describes: the same plugin, plus
  // dual-write when kimera.toml turns it on ([dual_write] enabled = true,
  // or KIMERA_ID_DUAL_WRITE=1).
  config.db_path = folder + "/configured";
  std::unique_ptr<kimera::EntropyStore> configured;
  if (kimera::Status s = kimera::OpenConfiguredStore(config, /*serve_metrics=*/false, &configured);
      !s.ok()) {
    std::fprintf(stderr, "host_example: %s\n", s.ToString().c_str());
    return 3;
  }
  std::printf("configured stack:\n");
  if (kimera::Status s = HostWork(*configured); !s.ok()) {
    std::fprintf(stderr, "host_example: %s\n", s.ToString().c_str());
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: host_example DB_DIR [CONFIG]\n");
    return 2;
  }
  try {
    return Run(argv[1], argc > 2 ? argv[2] : "");
  } catch (const std::exception& e) {
    // kimera::wrap throws on bad configuration (port in use, index folder).
    std::fprintf(stderr, "host_example: %s\n", e.what());
    return 3;
  }
}
