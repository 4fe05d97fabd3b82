// Fuzz target: the TOML configuration loader (ParseConfig).
//
// Any text must give a Status, never a crash or an escaping exception. A text
// that is accepted must be accepted again, to the same settings, when parsed
// a second time (the loader keeps no state).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "kimera/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kimera;
  const std::string text(reinterpret_cast<const char*>(data), size);
  KimeraConfig config;
  const Status s = ParseConfig(text, "fuzz.toml", &config);
  if (!s.ok()) {
    FUZZ_CHECK(s.message().find("fuzz.toml") != std::string::npos,
               "errors name the file: " + s.message());
    return 0;
  }
  KimeraConfig again;
  const Status s2 = ParseConfig(text, "fuzz.toml", &again);
  FUZZ_CHECK(s2.ok(), s2.ToString());
  FUZZ_CHECK(again.db_path == config.db_path, "second parse differs");
  return 0;
}
