// plugin_crash_child DIR SEED: the workload the crash test kills.
//
// Opens the RocksDbStore at DIR/data wrapped in an EntropyStore whose index
// lives apart at DIR/index, then stores, re-stores and removes random
// identities until it is killed. Writes "ready" on stdout once open.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "kimera/entropy_store.h"
#include "kimera/rocksdb_store.h"

namespace {

// Appending avoids GCC 12's false -Wrestrict on "literal" + std::to_string(n).
std::string Numbered(const char* prefix, int n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR SEED\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));

  std::unique_ptr<kimera::RocksDbStore> rocks;
  kimera::Status s = kimera::RocksDbStore::Open(dir + "/data", kimera::RocksDbOptions{}, &rocks);
  if (!s.ok()) {
    std::fprintf(stderr, "open data: %s\n", s.ToString().c_str());
    return 1;
  }
  kimera::PluginConfig config;
  config.metrics.serve = false;
  config.index.separate_path = dir + "/index";
  std::unique_ptr<kimera::EntropyStore> store;
  s = kimera::EntropyStore::Open(std::move(rocks), config, &store);
  if (!s.ok()) {
    std::fprintf(stderr, "open plugin: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);

  std::uniform_int_distribution<int> pick(0, 4'999);
  std::uniform_int_distribution<int> action(0, 99);
  std::uniform_int_distribution<int> relations(2, 16);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (;;) {
    const std::string id = Numbered("c", pick(rng));
    const int a = action(rng);
    if (a < 20) {
      s = store->Remove(id);
      if (s.IsNotFound()) s = kimera::Status::OK();
    } else {
      kimera::Identity identity;
      identity.id = id;
      if (a < 60) {
        identity.identity_type = kimera::IdentityType::kScar;
        identity.weight = unit(rng) * 4;
        for (int i = 0, n = relations(rng); i < n; ++i) {
          identity.related_ids.push_back(Numbered("r", i));
        }
      } else {
        nlohmann::json terms = nlohmann::json::array();
        for (int i = 0, n = relations(rng); i < n; ++i) {
          terms.push_back({{"term", Numbered("t", i)}, {"intensity", 0.1 + unit(rng)}});
        }
        identity.meta = {{"terms", std::move(terms)}};
        identity.raw = "crash workload";
      }
      s = store->Store(identity);
    }
    if (!s.ok()) {
      std::fprintf(stderr, "workload: %s\n", s.ToString().c_str());
      return 1;
    }
  }
}
