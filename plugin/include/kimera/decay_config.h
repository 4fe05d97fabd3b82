// Configuration of the decay sweep, decay verification and scheduled decay
// application: the [decay] section of the TOML file (see config_loader.h).
//
// Thread-safety: a plain value; copy it freely.
#ifndef KIMERA_DECAY_CONFIG_H_
#define KIMERA_DECAY_CONFIG_H_

#include <cstddef>

namespace kimera {

struct DecayConfig {
  long long sweep_interval_seconds = 60;   // Default 60 s between background sweeps; 0: none.
  std::size_t verification_sample = 1000;  // Default 1000 identities verified per sweep; 0: none.
  std::size_t chunk_size = 1000;           // Default 1000 index entries read per chunk.
  // Default 0.1: a sweep works at most this fraction of its wall time,
  // sleeping after each chunk, so it takes at most a tenth of one core from
  // the stores however large the store; 1: no pause (flat out).
  double sweep_duty_cycle = 0.1;
  long long apply_interval_seconds = 0;  // Default 0: decay is never applied automatically.
};

}  // namespace kimera

#endif  // KIMERA_DECAY_CONFIG_H_
