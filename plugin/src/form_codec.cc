#include "form_codec.h"

#include <bit>
#include <cstdint>

#include "coding.h"
#include "msgpack_guard.h"

namespace kimera::form_codec {
namespace {

constexpr unsigned char kVersion = 1;
constexpr std::uint64_t kSignBit = std::uint64_t{1} << 63;
constexpr std::size_t kTimeBytes = 8;

void PutAscending(Micros t, std::string* out) {
  coding::PutBigEndian64(static_cast<std::uint64_t>(t) ^ kSignBit, out);
}

void PutDescending(Micros t, std::string* out) {
  coding::PutBigEndian64(~(static_cast<std::uint64_t>(t) ^ kSignBit), out);
}

std::string Tagged(char tag, std::size_t reserve) {
  std::string key(1, tag);
  key.reserve(1 + reserve);
  return key;
}

Status Corrupt(std::string_view anchor, std::string_view what) {
  return Status::Corruption("form '" + DisplayId(anchor) + "': stored value " + std::string(what));
}

}  // namespace

std::string FormKey(std::string_view anchor) {
  std::string key = Tagged(kFormTag, anchor.size());
  key.append(anchor);
  return key;
}

std::string UpdatedKey(Micros updated_at, std::string_view anchor) {
  std::string key = Tagged(kUpdatedTag, kTimeBytes + anchor.size());
  PutDescending(updated_at, &key);
  key.append(anchor);
  return key;
}

std::string DomainPrefix(std::string_view domain) {
  std::string key = Tagged(kDomainTag, coding::kMaxVarintBytes + domain.size());
  coding::PutLengthPrefixed(domain, &key);
  return key;
}

std::string DomainKey(std::string_view domain, Micros updated_at, std::string_view anchor) {
  std::string key = DomainPrefix(domain);
  PutDescending(updated_at, &key);
  key.append(anchor);
  return key;
}

std::string CreatedKey(Micros created_at, std::string_view anchor) {
  std::string key = CreatedBound(created_at);
  key.append(anchor);
  return key;
}

std::string CreatedBound(Micros cutoff) {
  std::string key = Tagged(kCreatedTag, kTimeBytes);
  PutAscending(cutoff, &key);
  return key;
}

std::string DomainCountKey(std::string_view domain) {
  std::string key = Tagged('m', domain.size());
  key.append(domain);
  return key;
}

std::string_view AnchorOf(std::string_view key, std::size_t prefix_size) {
  return key.size() > prefix_size ? key.substr(prefix_size) : std::string_view();
}

Status EncodeForm(const EchoFormRecord& form, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kVersion));
  coding::PutFixed64(static_cast<std::uint64_t>(form.created_at), out);
  coding::PutFixed64(static_cast<std::uint64_t>(form.updated_at), out);
  coding::PutFixed64(static_cast<std::uint64_t>(form.decay_applied_at), out);
  coding::PutFixed64(std::bit_cast<std::uint64_t>(form.phase), out);
  coding::PutFixed64(std::bit_cast<std::uint64_t>(form.intensity_sum), out);
  coding::PutLengthPrefixed(form.domain, out);
  if (Status s = msgpack::AppendMeta(form.blob, out); !s.ok()) {
    return Status::InvalidArgument("form '" + DisplayId(form.anchor) +
                                   "': field 'blob' cannot be encoded: " + s.message());
  }
  if (out->size() > kMaxRecordBytes) {
    return Status::InvalidArgument("form '" + DisplayId(form.anchor) + "': field 'blob' makes " +
                                   std::to_string(out->size()) + " bytes, above the limit of " +
                                   std::to_string(kMaxRecordBytes) + " bytes");
  }
  return Status::OK();
}

Status DecodeForm(std::string_view anchor, std::string_view value, EchoFormRecord* out) {
  std::string_view in = value;
  if (in.empty()) return Corrupt(anchor, "is empty");
  if (static_cast<unsigned char>(in.front()) != kVersion) {
    return Corrupt(anchor,
                   "has unknown version " + std::to_string(static_cast<unsigned char>(in.front())));
  }
  in.remove_prefix(1);
  std::uint64_t fields[5];
  for (std::uint64_t& field : fields) {
    if (!coding::GetFixed64(&in, &field)) return Corrupt(anchor, "is truncated");
  }
  std::string_view domain;
  if (!coding::GetLengthPrefixed(&in, &domain, 32)) return Corrupt(anchor, "is truncated");
  EchoFormRecord form;
  std::string error;
  if (!msgpack::ReadMeta(in, &form.blob, &error)) {
    // ReadMeta names the part it reads "meta"; here it is the blob.
    if (error.starts_with("meta")) error.replace(0, 4, "blob");
    return Corrupt(anchor, "has a bad blob: " + error);
  }
  form.anchor.assign(anchor);
  form.domain.assign(domain);
  form.created_at = static_cast<Micros>(fields[0]);
  form.updated_at = static_cast<Micros>(fields[1]);
  form.decay_applied_at = static_cast<Micros>(fields[2]);
  form.phase = std::bit_cast<double>(fields[3]);
  form.intensity_sum = std::bit_cast<double>(fields[4]);
  *out = std::move(form);
  return Status::OK();
}

}  // namespace kimera::form_codec
