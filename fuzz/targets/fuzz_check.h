// Helpers shared by the fuzz targets: a check that aborts with a message
// (libFuzzer then saves the input as a crash file) and a reader that turns
// fuzz bytes into structured values.
//
// Thread-safety: FuzzReader is owned by one call of the target.
#ifndef KIMERA_FUZZ_FUZZ_CHECK_H_
#define KIMERA_FUZZ_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond, what)                                                                 \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                                 \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace kimera::fuzz {

// Consumes fuzz bytes front to back; returns zeros once they run out.
class FuzzReader {
 public:
  FuzzReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  std::uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint64_t U64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return v;
  }
  double Double() {
    const std::uint64_t bits = U64();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  // A string of up to `max` bytes, its length from one byte.
  std::string String(std::size_t max = 64) {
    std::size_t n = Byte() % (max + 1);
    if (n > size_ - (pos_ < size_ ? pos_ : size_)) n = size_ - (pos_ < size_ ? pos_ : size_);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace kimera::fuzz

#endif  // KIMERA_FUZZ_FUZZ_CHECK_H_
