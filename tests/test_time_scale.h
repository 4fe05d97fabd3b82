// Wall-clock bounds of the tests, scaled to the build under test.
//
// A sanitizer build runs several times slower than the release build, so a
// wait or a latency bound that is generous in release can fail there for no
// fault. scripts/sanitize.sh sets KIMERA_TEST_TIME_SCALE to the timeout
// multiplier it passes to meson; every fixed wall-clock limit of a test is
// multiplied by TimeScale().
#ifndef KIMERA_TESTS_TEST_TIME_SCALE_H_
#define KIMERA_TESTS_TEST_TIME_SCALE_H_

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace kimera::testing {

// KIMERA_TEST_TIME_SCALE as a number >= 1; 1 when unset or unreadable.
inline double TimeScale() {
  const char* text = std::getenv("KIMERA_TEST_TIME_SCALE");
  const double scale = text == nullptr ? 1.0 : std::strtod(text, nullptr);
  return std::max(1.0, scale);
}

// `seconds` of the release build, in this build.
inline std::chrono::milliseconds Scaled(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * TimeScale() * 1000));
}

}  // namespace kimera::testing

#endif  // KIMERA_TESTS_TEST_TIME_SCALE_H_
