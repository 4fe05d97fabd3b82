#include "kimera/dual_write_config.h"

namespace kimera {

const char* DualWriteModeName(DualWriteMode mode) {
  return mode == DualWriteMode::kStrict ? "strict" : "best_effort";
}

const char* ReadSourceName(ReadSource source) {
  return source == ReadSource::kPrimary ? "primary" : "secondary";
}

}  // namespace kimera
