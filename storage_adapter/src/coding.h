// Byte coding shared by the formats that own stored bytes (the record codec,
// the legacy rows, the audit log, the entropy index keys): little-endian
// fixed64, LEB128 varints, length-prefixed strings, and big-endian fixed64
// for keys that must sort as numbers. The byte order is fixed on every host.
//
// Reading functions consume from the front of `*in` and return false when
// the bytes end early or a varint is longer than allowed; `*in` is then
// unspecified, and the caller reports corruption. Nothing here allocates
// beyond the output string.
//
// Thread-safety: pure functions.
#ifndef KIMERA_CODING_H_
#define KIMERA_CODING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kimera::coding {

inline constexpr std::size_t kMaxVarintBytes = 10;

// Bytes EncodeVarint writes for `v`.
inline std::size_t VarintLength(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes `v` into `buf` (at least kMaxVarintBytes); returns the bytes written.
inline std::size_t EncodeVarint(std::uint64_t v, char* buf) {
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  return n;
}

inline void PutVarint(std::uint64_t v, std::string* out) {
  char buf[kMaxVarintBytes];
  out->append(buf, EncodeVarint(v, buf));
}

// Shifts rather than memcpy, so the bytes are little-endian on any host;
// compilers make it one store on little-endian machines.
inline void PutFixed64(std::uint64_t v, std::string* out) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  out->append(buf, sizeof(buf));
}

// Reads 8 bytes at `p` written by PutFixed64.
inline std::uint64_t DecodeFixed64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// Most significant byte first: keys compare bytewise as the numbers do.
inline void PutBigEndian64(std::uint64_t v, std::string* out) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * (7 - i)));
  out->append(buf, sizeof(buf));
}

// Reads 8 bytes at `p` written by PutBigEndian64.
inline std::uint64_t DecodeBigEndian64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// A varint length, then the bytes.
inline void PutLengthPrefixed(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

inline bool GetFixed64(std::string_view* in, std::uint64_t* v) {
  if (in->size() < 8) return false;
  *v = DecodeFixed64(in->data());
  in->remove_prefix(8);
  return true;
}

// A varint of at most `max_bits` significant bits (its bytes: max_bits / 7,
// rounded up); a longer one is corruption, and the cap keeps shifts in range.
inline bool GetVarint(std::string_view* in, std::uint64_t* v, int max_bits = 64) {
  std::uint64_t result = 0;
  std::size_t i = 0;
  for (int shift = 0; shift < max_bits; shift += 7) {
    if (i == in->size()) return false;
    const auto byte = static_cast<unsigned char>((*in)[i++]);
    result |= std::uint64_t{byte & 0x7Fu} << shift;
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i);
      *v = result;
      return true;
    }
  }
  return false;
}

// A length written by PutLengthPrefixed; `*s` points into the input.
inline bool GetLengthPrefixed(std::string_view* in, std::string_view* s, int max_bits = 64) {
  std::uint64_t n = 0;
  if (!GetVarint(in, &n, max_bits) || n > in->size()) return false;
  *s = in->substr(0, static_cast<std::size_t>(n));
  in->remove_prefix(static_cast<std::size_t>(n));
  return true;
}

}  // namespace kimera::coding

#endif  // KIMERA_CODING_H_
